"""One seed drives everything: Python, NumPy and torch's global generators."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from esnas.utils.errors import EsnasInputError


def seed_everything(seed: int) -> int:
    """Seeds every global RNG (and child processes via ``PYTHONHASHSEED``); returns the seed.

    Code that needs its own stream should still take an explicit ``torch.Generator`` or
    ``random.Random``: global seeding only makes the rest reproducible.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise EsnasInputError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded with ``seed``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen
