"""SWAP: how many distinct sample-wise activation patterns a net's neurons show on one batch.

Why: Peng et al. 2024 ("SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS", ICLR)
count, over every post-activation neuron (ReLU in their nets; any activation here, as
``a > 0``), the distinct binary patterns it takes across the batch's samples: more distinct
patterns = a more expressive net. reg-SWAP multiplies the count by
``exp(-(P - mu)² / sigma)``, P the parameters in thousands, steering towards a size.

The count has two caps: a neuron's pattern over a batch of b samples is one of 2^b, and there
are no more patterns than neurons. A count at either cap saturates (every larger net scores
the same, or the score is the neuron count): it is said in a warning, not returned silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from esnas.metrics.base import MetricContext, register_metric
from esnas.metrics.hooks import select_modules, tap
from esnas.utils.errors import EsnasInputError

WORD = 64  # sample bits per int64 key (bit 63 is the sign bit: still exact)


def pattern_keys(a: torch.Tensor) -> torch.Tensor:
    """``(N, ...)`` activations → ``(neurons, ceil(N / 64))`` int64 keys of their ``a > 0``
    patterns across the N samples: equal keys ⇔ equal patterns."""
    bits = a.reshape(a.shape[0], -1) > 0
    words = []
    for start in range(0, bits.shape[0], WORD):
        key = torch.zeros(bits.shape[1], dtype=torch.long, device=a.device)
        for j, row in enumerate(bits[start : start + WORD]):
            key |= row.long() << j
        words.append(key)
    return torch.stack(words, 1)


@register_metric("swap", floor=0.0)
def swap(
    model: nn.Module,
    ctx: MetricContext,
    hook: Sequence[str] = ("act",),
    mu: float | None = None,
    sigma: float | None = None,
) -> float:
    """SWAP (Peng et al. 2024, ICLR): #distinct sample-wise patterns of the hooked neurons;
    with ``mu`` and ``sigma`` set, reg-SWAP (× exp(-(params/1e3 - mu)² / sigma))."""
    if (mu is None) != (sigma is None) or (sigma is not None and sigma <= 0):
        raise EsnasInputError(
            f"mu={mu!r}, sigma={sigma!r} are invalid; valid: both null, or sigma > 0"
        )
    keys: list[torch.Tensor] = []
    # A repeated activation of one tensor adds no new pattern: alias it to nothing.
    modules, add = select_modules(model, hook), lambda k, a: keys.append(pattern_keys(a))
    with tap(modules, add, alias=lambda key, earlier: None) as new_pass:
        new_pass()
        model(ctx.inputs)
    if not keys:
        raise EsnasInputError(f"swap found no module to hook for hook={list(hook)}")
    table = torch.cat(keys)
    table = table.squeeze(1) if table.shape[1] == 1 else table  # 1-D unique is much faster
    count = float(torch.unique(table, dim=0).shape[0])
    _check_caps(ctx, count, len(table), ctx.inputs.shape[0])
    if mu is None:
        return count
    params_k = sum(p.numel() for p in model.parameters()) / 1e3
    return count * math.exp(-((params_k - mu) ** 2) / sigma)


def _check_caps(ctx: MetricContext, count: float, neurons: int, batch: int) -> None:
    """Warns when the count sits at a cap, where it no longer tells nets apart."""
    if batch < 1024 and count >= 2.0**batch:
        ctx.warn(
            f"saturates: its count reached the 2^{batch} = {2**batch} patterns a batch of "
            f"{batch} allows (a larger probe.batch_size lifts the cap)"
        )
    elif count >= neurons:
        ctx.warn("saturates: every hooked neuron has a pattern of its own (count = neurons)")
