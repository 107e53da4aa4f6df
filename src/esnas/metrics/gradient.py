"""Gradient-based peers: grad_norm and SNIP, from one cross-entropy backward.

Why: both are standard zero-cost baselines (Abdelfattah et al. 2021); they need a loss, so
the model's output is scored by cross-entropy against random labels drawn from the probe's
generator (num_classes = the output's last dim after flattening to (N, K)), or against
``probe.labels`` when a real batch is given.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from esnas.metrics.base import MetricContext, first_tensor, register_metric, weight_modules


def ce_backward(
    model: nn.Module, ctx: MetricContext, x: torch.Tensor, y: torch.Tensor | None = None
):
    """Cross-entropy backward on ``x`` (random labels unless ``y``); returns the labels."""
    out = first_tensor(model(x)).reshape(x.shape[0], -1)
    if y is None:
        y = ctx.labels(out.shape[1], x.shape[0])
    F.cross_entropy(out, y).backward()
    return y


def ce_grads(model: nn.Module, ctx: MetricContext) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(θ, ∂L/∂θ) for every Conv/Linear weight (zeros where no gradient reached it)."""
    if "ce_grads" not in ctx.cache:
        ce_backward(model, ctx, ctx.inputs)
        ctx.cache["ce_grads"] = [
            (
                m.weight.detach(),
                m.weight.grad if m.weight.grad is not None else torch.zeros_like(m.weight),
            )
            for m in weight_modules(model)
        ]
    return ctx.cache["ce_grads"]


@register_metric("grad_norm", needs_grad=True, floor=0.0)
def grad_norm(model: nn.Module, ctx: MetricContext) -> float:
    """grad_norm (Abdelfattah et al. 2021, ICLR): Σ_layers ‖∂L/∂W‖₂ over Conv/Linear."""
    return math.fsum(float(g.norm()) for _, g in ce_grads(model, ctx))


@register_metric("snip", needs_grad=True, floor=0.0)
def snip(model: nn.Module, ctx: MetricContext) -> float:
    """SNIP (Lee et al. 2019, ICLR): Σ |θ · ∂L/∂θ| over Conv/Linear weights."""
    return math.fsum(float((w * g).abs().sum()) for w, g in ce_grads(model, ctx))
