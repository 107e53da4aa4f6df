"""The optimisation recipe: param groups without decay on norms/biases, warmup + cosine per step.

Kept apart from the LightningModule so the recipe reads in one place and is testable alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from hydra.utils import instantiate
from timm.optim import param_groups_weight_decay
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["WarmupCosine", "build_optimizer", "warmup_cosine"]


def build_optimizer(model: nn.Module, optimizer_cfg: Mapping[str, Any]) -> torch.optim.Optimizer:
    """Instantiates ``optimizer_cfg`` (``_target_`` + ``_partial_``) over decay/no-decay groups.

    Norm weights, biases (every 1-d parameter) and the model's ``no_weight_decay()`` names get
    no weight decay, as in timm and DeiT.
    """
    cfg = dict(optimizer_cfg)
    weight_decay = float(cfg.pop("weight_decay", 0.0))
    skip = model.no_weight_decay() if hasattr(model, "no_weight_decay") else ()
    groups = param_groups_weight_decay(model, weight_decay, no_weight_decay_list=skip)
    cfg.setdefault("_partial_", True)
    return instantiate(cfg)(groups)


class WarmupCosine:
    """LR multiplier per optimizer step: linear warmup from ``warmup_ratio``, then cosine to
    ``min_lr_ratio``. A class of plain numbers (not a lambda) so LambdaLR's state_dict, and
    with it the checkpoint, stays loadable with ``weights_only=True``."""

    def __init__(
        self,
        total_steps: int,
        warmup_steps: int = 0,
        warmup_ratio: float = 1e-3,
        min_lr_ratio: float = 1e-2,
    ) -> None:
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = max(0, min(int(warmup_steps), self.total_steps - 1))
        self.warmup_ratio = float(warmup_ratio)
        self.min_lr_ratio = float(min_lr_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            frac = step / max(1, self.warmup_steps)
            return self.warmup_ratio + (1.0 - self.warmup_ratio) * frac
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * 0.5 * (
            1 + math.cos(math.pi * progress)
        )


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    steps_per_epoch: float,
    warmup_epochs: float = 0.0,
    warmup_steps: int | None = None,
    warmup_ratio: float = 1e-3,
    min_lr_ratio: float = 1e-2,
) -> LambdaLR:
    """A per-step LambdaLR: warmup (``warmup_steps``, else ``warmup_epochs`` of steps), cosine.

    Args:
        optimizer: The optimizer whose groups' lr are the peak values.
        total_steps: Optimizer steps of the whole run (``trainer.estimated_stepping_batches``).
        steps_per_epoch: Optimizer steps per epoch, to turn ``warmup_epochs`` into steps.
        warmup_epochs: Warmup length in epochs (DeiT: 5 of 300).
        warmup_steps: Warmup length in steps; wins over ``warmup_epochs``.
        warmup_ratio: LR at step 0 as a fraction of the peak.
        min_lr_ratio: Final LR as a fraction of the peak.
    """
    steps = warmup_steps if warmup_steps is not None else round(warmup_epochs * steps_per_epoch)
    return LambdaLR(optimizer, WarmupCosine(total_steps, steps, warmup_ratio, min_lr_ratio))
