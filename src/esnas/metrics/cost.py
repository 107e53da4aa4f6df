"""Cost metrics: parameter count and FLOPs, the size axis that proxies are compared against.

Why registered as metrics: the same runner and Hydra list (``metrics: [params, flops]``)
reports cost next to the proxies, e.g. to check how much a proxy just tracks model size.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from esnas.metrics.base import MetricContext, register_metric
from esnas.utils.errors import EsnasInputError

UNITS = ("flops", "macs")


@register_metric("params", data=False, per_init=False, floor=0.0)
def params(model: nn.Module, ctx: MetricContext, trainable_only: bool = False) -> float:
    """Number of parameters (shared parameters counted once)."""
    return float(
        sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
    )


@register_metric("flops", bn="eval", data=False, per_init=False, floor=0.0)
def flops(model: nn.Module, ctx: MetricContext, unit: str = "flops") -> float:
    """FLOPs of one sample's forward, counted by ``torch.utils.flop_counter.FlopCounterMode``.

    FlopCounterMode counts 2 FLOPs per multiply-accumulate of matmuls, convolutions and
    attention only (norms, activations and pooling are free); ``unit="macs"`` halves it,
    which matches the MACs most NAS papers (and ``SearchSpace.cost``) report. The forward runs
    with the parameters frozen (see :func:`_frozen`); the count is the same.
    """
    if unit not in UNITS:
        raise EsnasInputError(f"unit={unit!r} is invalid; valid: {', '.join(UNITS)}")
    counter = FlopCounterMode(display=False)
    with _frozen(model), counter:
        model(torch.zeros((1, *ctx.input_shape), device=ctx.device, dtype=ctx.dtype))
    total = float(counter.get_total_flops())
    return total / 2 if unit == "macs" else total


@contextmanager
def _frozen(model: nn.Module) -> Iterator[None]:
    """``requires_grad`` off for every parameter while counting, restored after.

    Why: FlopCounterMode's module tracker hooks the autograd graph of every module input that
    requires grad. Under ``inference_mode`` / ``no_grad`` (the runner's) a parameter, or a view
    of one such as ViT's ``cls_token.expand(B, -1, -1)``, passed to a submodule requires grad
    but has no graph, and the tracker fails ('NoneType' object has no attribute
    'next_functions'). With no parameter requiring grad no input does, and nothing is hooked.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
