"""SynFlow and LogSynflow: data-free saliency of a linearised, all-positive network.

Why: SynFlow (Tanaka et al. 2020; as a NAS proxy, Abdelfattah et al. 2021) scores the
"synaptic flow" of a net; LogSynflow (Cavagnero et al. 2022, FreeREA) damps the gradient
with log(1 + g) so wide layers do not dominate. Protocol (DESIGN.md, FreeREA): BN made
identity, every parameter and floating buffer replaced by its absolute value (restored
afterwards), float64, one all-ones input of shape (1, C, H, W), R = sum of outputs,
backward; score = Σ over Conv and Linear weights of |θ·g| (SynFlow) or |θ·log(1 + g)|
(LogSynflow). Weights that get no gradient contribute 0, as in FreeREA's published code
(its stored NB201 values instead behave like log(g + 1e-6) on such weights).

Signed gradients: in a conv-ReLU net with |θ| and identity BN every gradient is >= 0, but
LayerNorm, GELU and softmax attention (ESFormer) give negative ones, and log(1 + g) is NaN
for g < -1. We use log(1 + |g|): identical on NB201, finite on transformers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from esnas.metrics.base import MetricContext, first_tensor, register_metric, weight_modules


def synflow_pairs(model: nn.Module, ctx: MetricContext) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(|θ|, ∂R/∂θ) for every Conv/Linear weight; one backward shared by both metrics."""
    if "synflow" in ctx.cache:
        return ctx.cache["synflow"]
    tensors = [t for t in model.state_dict(keep_vars=True).values() if t.is_floating_point()]
    saved = [t.detach().clone() for t in tensors]
    try:
        with torch.no_grad():
            for t in tensors:
                t.abs_()
        for p in model.parameters():
            p.grad = None
        out = first_tensor(model(ctx.ones(1)))
        out.sum().backward()
        pairs = []
        for m in weight_modules(model):
            w = m.weight.detach().clone()
            g = m.weight.grad if m.weight.grad is not None else torch.zeros_like(w)
            pairs.append((w, g.detach()))
    finally:
        with torch.no_grad():
            for t, s in zip(tensors, saved, strict=True):
                t.copy_(s)
    ctx.cache["synflow"] = pairs
    return pairs


@register_metric("synflow", needs_grad=True, dtype="float64", bn="identity", data=False, floor=0.0)
def synflow(model: nn.Module, ctx: MetricContext) -> float:
    """SynFlow (Tanaka et al. 2020, NeurIPS): Σ |θ · ∂R/∂θ| over Conv/Linear weights."""
    return math.fsum(float((w * g).abs().sum()) for w, g in synflow_pairs(model, ctx))


@register_metric(
    "logsynflow", needs_grad=True, dtype="float64", bn="identity", data=False, floor=0.0
)
def logsynflow(model: nn.Module, ctx: MetricContext) -> float:
    """LogSynflow (Cavagnero et al. 2022, FreeREA): Σ |θ · log(1 + |∂R/∂θ|)| over weights."""
    pairs = synflow_pairs(model, ctx)
    return math.fsum(float((w * torch.log1p(g.abs())).abs().sum()) for w, g in pairs)
