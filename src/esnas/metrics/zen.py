"""Zen-score: expressivity as the sensitivity of pre-pooling features to input noise.

Why: Lin et al. 2021 ("Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition",
ICCV) show that log E‖f(x) - f(x + αε)‖ plus the BN scaling terms tracks accuracy.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from esnas.metrics.base import MetricContext, first_tensor, register_metric

_POOLS = ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "SelectAdaptivePool2d")


def pre_gap_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Features before global pooling, found without knowing the architecture.

    In order: ``model.forward_features(x)`` (timm models); else the input of the last global
    pooling module called (``AdaptiveAvgPool*d``, timm's ``SelectAdaptivePool2d``); else the
    input of the last ``nn.Linear`` called; else the model output.
    """
    if callable(getattr(model, "forward_features", None)):
        return first_tensor(model.forward_features(x))
    seen: dict[str, torch.Tensor] = {}

    def grab(kind: str):
        def hook(m: nn.Module, args: tuple, out: object) -> None:
            seen[kind] = first_tensor(args)

        return hook

    handles = [
        m.register_forward_hook(grab("pool" if type(m).__name__ in _POOLS else "linear"))
        for m in model.modules()
        if type(m).__name__ in _POOLS or isinstance(m, nn.Linear)
    ]
    try:
        out = first_tensor(model(x))
    finally:
        for h in handles:
            h.remove()
    return seen.get("pool", seen.get("linear", out))


@register_metric("zen", bn="train")
def zen(model: nn.Module, ctx: MetricContext, alpha: float = 0.01) -> float:
    """Zen-score (Lin et al. 2021, ICCV): log E|f(x) - f(x + αε)| + Σ_BN log √mean(σ²).

    Adaptations: f = :func:`pre_gap_features`; BN σ² is the unbiased batch variance each BN
    layer sees on the clean forward (what ``running_var`` holds with momentum 1); weights
    come from the runner's re-initialisation rather than Zen-NAS's N(0, 1).
    """
    x = ctx.inputs
    noise = torch.randn(x.shape, generator=ctx.generator("zen")).to(x)
    log_bn: list[float] = []

    def bn_var(m: nn.Module, args: tuple, out: object) -> None:
        a = args[0].transpose(0, 1).reshape(args[0].shape[1], -1)
        var = float(a.var(1).mean()) if a.shape[1] > 1 else 1.0
        log_bn.append(0.5 * math.log(var) if var > 0 else -math.inf)  # constant input: floor

    handles = [
        m.register_forward_hook(bn_var) for m in model.modules() if isinstance(m, _BatchNorm)
    ]
    try:
        f1 = pre_gap_features(model, x)
    finally:
        for h in handles:
            h.remove()
    f2 = pre_gap_features(model, x + alpha * noise)
    delta = float((f1 - f2).abs().reshape(x.shape[0], -1).sum(1).mean())
    if delta <= 0:
        ctx.warn("its pre-pooling features do not move with the input noise (a dead net?)")
        return float("nan")
    if -math.inf in log_bn:
        ctx.warn("a BatchNorm layer sees a constant input (log of a zero variance)")
    return math.log(delta) + math.fsum(log_bn)
