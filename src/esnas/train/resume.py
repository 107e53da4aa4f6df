"""What an exact resume needs beyond Lightning's own checkpoint: the data order and the RNGs.

Lightning restores weights, optimizer, scheduler and loop counters, but neither the order a
shuffled loader draws next nor the random streams augmentation and Mixup read. Without them a
killed-and-resumed run trains on other batches than the uninterrupted one would have.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import RandomSampler

__all__ = ["EpochShuffleSampler", "RNGStateCheckpoint"]


class EpochShuffleSampler(RandomSampler):
    """A shuffle whose order is a function of ``(seed, epoch)`` alone.

    Lightning calls :meth:`set_epoch` at each epoch start (as for ``DistributedSampler``), so a
    resumed run draws the same permutation for epoch *k* as the uninterrupted one. It stays a
    ``RandomSampler`` so that Lightning's DDP sampler injection still sees a shuffled loader.
    """

    def __init__(self, data_source: Any, seed: int = 0) -> None:
        super().__init__(data_source)
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        yield from torch.randperm(len(self.data_source), generator=g).tolist()


class RNGStateCheckpoint(L.Callback):
    """Stores Python's, NumPy's and torch's (CPU and CUDA) RNG states in every checkpoint and
    restores them on resume, so augmentation, Mixup and dropout continue the same streams."""

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "python": random.getstate(),
            "numpy": _numpy_state(),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        random.setstate(_python_state(state_dict["python"]))
        name, keys, pos, has_gauss, cached = state_dict["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


def _numpy_state() -> list[Any]:
    """NumPy's state with its key array as a tensor: checkpoints load with ``weights_only``."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)]


def _python_state(state: Any) -> tuple:
    """``random.setstate`` wants tuples; a checkpoint round trip may give lists."""
    version, internal, gauss = state
    return version, tuple(internal), gauss
