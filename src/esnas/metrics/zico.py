"""ZiCo: gradient signal-to-noise across batches, summed in log over layers.

Why: Li et al. 2023 ("ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on
Gradients", ICLR) find that nets whose gradients are large and consistent across batches
train faster and generalise better.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from esnas.metrics.base import MetricContext, first_tensor, register_metric, weight_modules
from esnas.utils.errors import EsnasInputError


@register_metric("zico", needs_grad=True)
def zico(model: nn.Module, ctx: MetricContext, splits: int = 2) -> float:
    """ZiCo (Li et al. 2023, ICLR): Σ_layers log Σ_θ mean|g| / std(g) over batch splits.

    The probe batch is split into ``splits`` chunks (ZiCo uses 2 batches), each with its own
    CE backward against random labels; std is the population std over chunks; weights with
    zero std are skipped and layers whose sum is 0 add nothing, as in the official code.
    """
    if splits < 2:
        raise EsnasInputError(f"splits={splits!r} is invalid; valid: an int >= 2")
    x = ctx.inputs
    chunks = x.chunk(splits)
    if len(chunks) < 2:
        raise EsnasInputError(f"zico needs a batch of at least {splits} samples; got {x.shape[0]}")
    layers = weight_modules(model)
    grads: list[list[torch.Tensor]] = [[] for _ in layers]
    y, start = None, 0
    for xc in chunks:
        for p in model.parameters():
            p.grad = None
        out = first_tensor(model(xc)).reshape(xc.shape[0], -1)
        if y is None:  # one label draw for the whole batch, as grad_norm/SNIP see it
            y = ctx.labels(out.shape[1], x.shape[0])
        F.cross_entropy(out, y[start : start + xc.shape[0]]).backward()
        start += xc.shape[0]
        for i, m in enumerate(layers):
            g = m.weight.grad
            grads[i].append((g if g is not None else torch.zeros_like(m.weight)).reshape(-1))
    score = 0.0
    for gs in grads:
        g = torch.stack(gs).double()
        std, mean_abs = g.std(0, correction=0), g.abs().mean(0)
        nz = std != 0
        total = float((mean_abs[nz] / std[nz]).sum())
        if total != 0:
            score += math.log(total)
    return score
