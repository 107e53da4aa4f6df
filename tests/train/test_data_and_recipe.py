"""DataModules and the recipe pieces, without a Trainer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from timm.data import Mixup

from esnas.train.data import FashionMNISTDataModule, SyntheticDataModule
from esnas.train.module import ImageClassifier
from esnas.train.optim import WarmupCosine, build_optimizer


def test_fashion_mnist_subset_is_shipped_and_shaped() -> None:
    dm = FashionMNISTDataModule(source="subset", img_size=64, batch_size=16)
    dm.setup("fit")
    assert dm.source_used == "subset"
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (9000, 1000, 2000)
    x, y = dm.val_set[0]
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32 and 0 <= int(y) < 10
    assert torch.equal(x[0], x[2])  # grey repeated to 3 channels
    with pytest.raises(ValueError, match="valid: auto, full, subset"):
        FashionMNISTDataModule(source="mnist").setup("fit")


def test_global_batch_is_split_over_ranks() -> None:
    dm = SyntheticDataModule(batch_size=8)
    dm.trainer = SimpleNamespace(world_size=2, accumulate_grad_batches=2)
    assert dm.per_device(8) == 2
    with pytest.raises(ValueError, match="divisible by world size"):
        dm.per_device(6)


def test_warmup_cosine_shape() -> None:
    f = WarmupCosine(total_steps=110, warmup_steps=10, warmup_ratio=0.0, min_lr_ratio=0.1)
    assert f(0) == 0.0 and f(5) == pytest.approx(0.5) and f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55) and f(110) == pytest.approx(0.1)
    assert all(f(s) >= f(s + 1) for s in range(10, 110))


def test_no_weight_decay_on_norms_and_biases() -> None:
    module = ImageClassifier(
        model={"name": "esformer_xxs"},
        num_classes=10,
        optimizer={"_target_": "torch.optim.AdamW", "lr": 1e-3, "weight_decay": 0.05},
        ema={"decay": 0.9},
    )
    opt = build_optimizer(module.net, module.hparams.optimizer)
    decay = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for p in module.net.parameters():
        assert (id(p) in decay) == (p.ndim > 1)
    assert not any(p.requires_grad for p in module.ema.parameters())  # EMA is never trained
    assert isinstance(module.hparams.model, dict)


def test_mixup_switches_to_soft_targets() -> None:
    module = ImageClassifier(
        model={"name": "esformer_xxs"},
        num_classes=10,
        optimizer={"_target_": "torch.optim.AdamW", "lr": 1e-3},
        label_smoothing=0.1,
        mixup={"mixup_alpha": 0.8, "cutmix_alpha": 1.0},
    )
    assert isinstance(module.mixup, Mixup)
    assert type(module.train_loss_fn).__name__ == "SoftTargetCrossEntropy"
