"""LightningDataModules: ImageNet-style ImageFolder, Fashion-MNIST (shipped subset) and synthetic.

Every module takes the *global* batch size and divides it by the world size (and gradient
accumulation) once the trainer is known, so a recipe means the same on 1 or 64 GPUs.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from esnas.train.resume import EpochShuffleSampler
from esnas.utils.errors import EsnasInputError

__all__ = [
    "ClassificationDataModule",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "SyntheticDataModule",
]

FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530
FMNIST_SUBSET = "fashion_mnist_12k.npz"
DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


class ClassificationDataModule(L.LightningDataModule):
    """Shared loaders: per-device batch from the global one, train shuffled with drop_last.

    Subclasses set ``self.train_set``, ``self.val_set`` and ``self.test_set`` in ``setup``.
    """

    def __init__(
        self,
        num_classes: int,
        img_size: int,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        in_chans: int = 3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.seed = int(seed)  # the training shuffle's order is a function of (seed, epoch)
        self.num_classes, self.img_size, self.in_chans = int(num_classes), int(img_size), in_chans
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or batch_size)
        self.num_workers, self.pin_memory = num_workers, pin_memory
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def per_device(self, global_batch: int) -> int:
        """``global_batch`` split over devices (and gradient accumulation); must divide evenly."""
        trainer = self.trainer
        world = trainer.world_size if trainer is not None else 1
        accum = trainer.accumulate_grad_batches if trainer is not None else 1
        if global_batch % (world * accum):
            raise EsnasInputError(
                f"data.batch_size={global_batch} is global and must be divisible by world size "
                f"x accumulate_grad_batches = {world * accum}"
            )
        return global_batch // (world * accum)

    def _loader(self, data: Dataset | None, train: bool) -> DataLoader:
        if data is None:
            raise RuntimeError("setup() has not run")
        global_batch = self.batch_size if train else self.eval_batch_size
        return DataLoader(
            data,
            batch_size=self.per_device(global_batch),
            sampler=EpochShuffleSampler(data, self.seed) if train else None,
            drop_last=train,  # Mixup/CutMix need even, full batches
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set or self.val_set, False)


class SyntheticDataModule(ClassificationDataModule):
    """Random images whose class shifts their mean, so smoke tests can even see learning."""

    def __init__(self, train_size: int = 64, val_size: int = 32, seed: int = 0, **kw: Any) -> None:
        kw.setdefault("num_classes", 10)
        kw.setdefault("img_size", 32)
        super().__init__(seed=seed, **kw)
        self.train_size, self.val_size = train_size, val_size

    def _make(self, n: int, seed: int) -> TensorDataset:
        g = torch.Generator().manual_seed(seed)
        y = torch.randint(0, self.num_classes, (n,), generator=g)
        x = torch.randn(n, self.in_chans, self.img_size, self.img_size, generator=g)
        return TensorDataset(x + (y.float() / self.num_classes - 0.5).view(-1, 1, 1, 1), y)

    def setup(self, stage: str | None = None) -> None:
        self.train_set = self._make(self.train_size, self.seed)
        self.val_set = self._make(self.val_size, self.seed + 1)
        self.test_set = self.val_set


class _GrayImages(Dataset):
    """uint8 (N, 28, 28) images → normalised 3-channel float tensors at ``img_size``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, img_size: int, train: bool) -> None:
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.img_size, self.train = img_size, train

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images[i].float().div_(255).view(1, 1, *self.images.shape[1:])
        if self.train:  # light augmentation: 2-px random shift and a horizontal flip
            x = F.pad(x, (2, 2, 2, 2))
            dy, dx = torch.randint(0, 5, (2,)).tolist()
            x = x[..., dy : dy + self.images.shape[1], dx : dx + self.images.shape[2]]
            if torch.rand(()) < 0.5:
                x = x.flip(-1)
        if x.shape[-1] != self.img_size:
            x = F.interpolate(x, size=(self.img_size, self.img_size), mode="bilinear")
        x = (x[0] - FMNIST_MEAN) / FMNIST_STD
        return x.expand(3, -1, -1).contiguous(), self.labels[i]


def _read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_fashion_mnist(source: str = "auto") -> dict[str, np.ndarray]:
    """Fashion-MNIST arrays: Debian's full 60k/10k set when installed, else the shipped 12k.

    Args:
        source: ``"full"`` (Debian ``dataset-fashion-mnist``), ``"subset"`` (the 10k/2k file
            shipped in ``esnas/data/fashion_mnist``) or ``"auto"`` (full when present).
    """
    if source not in ("auto", "full", "subset"):
        raise EsnasInputError(f"data.source={source!r} is invalid; valid: auto, full, subset")
    full = all((DEBIAN_FMNIST / f"{s}-images-idx3-ubyte.gz").exists() for s in ("train", "t10k"))
    if source == "full" and not full:
        raise EsnasInputError(
            f"data.source=full needs {DEBIAN_FMNIST}/*.gz (apt-get install dataset-fashion-mnist)"
        )
    if source == "full" or (source == "auto" and full):
        out = {}
        for split, prefix in (("train", "train"), ("test", "t10k")):
            x = _read_idx(DEBIAN_FMNIST / f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
            out[f"{split}_images"] = x
            out[f"{split}_labels"] = _read_idx(DEBIAN_FMNIST / f"{prefix}-labels-idx1-ubyte.gz", 8)
        out["source"] = np.array("full")
        return out
    path = Path(str(resources.files("esnas") / "data" / "fashion_mnist" / FMNIST_SUBSET))
    with np.load(path) as d:
        out = {k: d[k] for k in ("train_images", "train_labels", "test_images", "test_labels")}
    out["source"] = np.array("subset")
    return out


class FashionMNISTDataModule(ClassificationDataModule):
    """Fashion-MNIST, real and offline, as 3-channel images upsampled to ``img_size``.

    ``val_size`` images are held out of the training split (seeded, same on every rank) for
    validation and checkpoint selection; ``test`` is the official test split (or its 2k subset).
    """

    def __init__(
        self, source: str = "auto", val_size: int = 1000, split_seed: int = 0, **kw: Any
    ) -> None:
        kw.setdefault("num_classes", 10)
        kw.setdefault("img_size", 64)
        super().__init__(**kw)
        self.source, self.val_size, self.split_seed = source, int(val_size), split_seed
        self.source_used: str | None = None

    def setup(self, stage: str | None = None) -> None:
        d = load_fashion_mnist(self.source)
        self.source_used = str(d["source"])
        n = len(d["train_labels"])
        perm = np.random.default_rng(self.split_seed).permutation(n)
        val_idx, train_idx = np.sort(perm[: self.val_size]), np.sort(perm[self.val_size :])
        x, y = d["train_images"], d["train_labels"]
        self.train_set = _GrayImages(x[train_idx], y[train_idx], self.img_size, train=True)
        self.val_set = _GrayImages(x[val_idx], y[val_idx], self.img_size, train=False)
        self.test_set = _GrayImages(d["test_images"], d["test_labels"], self.img_size, False)


class ImageFolderDataModule(ClassificationDataModule):
    """ImageNet in the ImageFolder layout ``root/{train,val}/<class>/<image>`` with timm transforms.

    Training uses RandAugment (``auto_augment``) and random erasing (``re_prob``); evaluation
    resizes and centre-crops by ``crop_pct``. Mixup/CutMix live in the module (batch level).
    """

    def __init__(
        self,
        root: str,
        train_split: str = "train",
        val_split: str = "val",
        auto_augment: str | None = "rand-m9-mstd0.5-inc1",
        re_prob: float = 0.25,
        color_jitter: float = 0.3,
        interpolation: str = "bicubic",
        crop_pct: float = 0.875,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
        **kw: Any,
    ) -> None:
        kw.setdefault("num_classes", 1000)
        kw.setdefault("img_size", 224)
        super().__init__(**kw)
        self.root, self.train_split, self.val_split = Path(str(root)), train_split, val_split
        self.aug = dict(
            auto_augment=auto_augment,
            re_prob=re_prob,
            color_jitter=color_jitter,
            interpolation=interpolation,
            mean=tuple(mean),
            std=tuple(std),
        )
        self.crop_pct = crop_pct

    def _folder(self, split: str) -> Path:
        path = self.root / split
        if not path.is_dir():
            raise EsnasInputError(
                f"dataset folder {str(path)!r} does not exist; set data.root to a folder with "
                f"{self.train_split}/ and {self.val_split}/ subfolders of class folders"
            )
        return path

    def setup(self, stage: str | None = None) -> None:
        from timm.data import create_transform
        from torchvision.datasets import ImageFolder

        a = self.aug
        train_tf = create_transform(self.img_size, is_training=True, **a)
        eval_tf = create_transform(
            self.img_size,
            is_training=False,
            interpolation=a["interpolation"],
            mean=a["mean"],
            std=a["std"],
            crop_pct=self.crop_pct,
        )
        val_dir = self._folder(self.val_split)
        if stage in (None, "fit"):
            self.train_set = ImageFolder(str(self._folder(self.train_split)), transform=train_tf)
            self._check_classes(self.train_set)
        self.val_set = ImageFolder(str(val_dir), transform=eval_tf)
        self._check_classes(self.val_set)
        self.test_set = self.val_set

    def _check_classes(self, data: Any) -> None:
        if len(data.classes) != self.num_classes:
            raise EsnasInputError(
                f"{data.root!r} has {len(data.classes)} class folders but "
                f"data.num_classes={self.num_classes}; set data.num_classes={len(data.classes)}"
            )
