"""MeCo: the smallest eigenvalue of each layer's channel correlation, summed over layers.

Why: Jiang et al. 2023 ("MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum
Eigenvalue of Correlation", NeurIPS) show that a net whose feature channels stay decorrelated
(a large minimum eigenvalue) at init trains faster. As in their code, every module is hooked
(containers and the net itself too), each module's first sample gives a ``C × (H·W)`` map,
NaN entries of its correlation (constant channels) are zeroed, and NaN layers are dropped.

Token tensors ``(N, L, D)`` (the 3-D convention of ``hooks.channels_of``) are read like maps:
D channels observed at L positions, a ``D × L`` map. Read as they are stored, ``L × D``, the
rows would be tokens, and L tokens correlated over D < L features give a rank-deficient
correlation whose λ_min is 0 on every ViT (197 tokens, 192 features), whatever the weights.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Generator, Sequence

import torch
from torch import nn

from esnas.metrics.base import MetricContext, register_metric
from esnas.metrics.hooks import select_modules, tap


def channel_map(a: torch.Tensor) -> torch.Tensor:
    """The first sample of a module output as channels × positions: ``(C, H, W)`` as it is,
    ``(L, D)`` tokens transposed to ``(D, L)``, so MeCo always correlates the channels."""
    return a[0].T if a.dim() == 3 else a[0]


def min_correlation_eigenvalue(sample: torch.Tensor) -> float:
    """λ_min of the correlation between the rows of ``sample.reshape(len(sample), -1)``."""
    fea = sample.reshape(sample.shape[0], -1).double()
    if fea.shape[0] < 2:
        return float("nan")  # one channel has no correlation: the layer is left out
    with warnings.catch_warnings():  # one column (a logit vector): NaN, zeroed as MeCo does
        warnings.simplefilter("ignore", UserWarning)
        corr = torch.corrcoef(fea)
    corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr).min())


# revision 1: (N, L, D) token outputs correlate their D channels, not their L tokens (values
# change on transformers only; conv maps and vectors are read as before).
@register_metric("meco", revision=1)
def meco(
    model: nn.Module, ctx: MetricContext, hook: Sequence[str] | None = None
) -> Generator[None, None, float]:
    """MeCo (Jiang et al. 2023, NeurIPS): Σ over module calls of λ_min of the first sample's
    channel correlation; ``hook=None`` = every module, as in the official code (one forward,
    shared with the other forward metrics of the call)."""
    values: dict[str, float] = {}
    # A container returns its last child's output tensor, and NB201's edges apply equal ReLUs
    # to one node tensor: the same live tensor (weak reference) with the same first-sample
    # sum (an in-place change in between shows) gets the λ already computed, not a new eigh.
    done: dict[int, tuple[weakref.ref, float, float]] = {}

    def reduce(key: str, a: torch.Tensor) -> None:
        if a.dim() < 2:  # the first sample must still be a (channels, ...) map
            return
        total = float(a[0].sum())
        hit = done.get(id(a))
        if hit is not None and hit[0]() is a and hit[1] == total:
            values[key] = hit[2]
            return
        values[key] = min_correlation_eigenvalue(channel_map(a))
        done[id(a)] = (weakref.ref(a), total, values[key])

    def alias(key: str, earlier: str) -> None:  # the same activation of the same live tensor
        if earlier in values:
            values[key] = values[earlier]

    modules = (
        [(n or "net", m) for n, m in model.named_modules()]
        if hook is None
        else select_modules(model, hook)
    )
    with tap(modules, reduce, alias) as new_pass:
        new_pass()
        yield
    kept = [v for v in values.values() if not math.isnan(v)]
    if not kept:
        hooked = "module" if hook is None else f"hooked module (hook={list(hook)})"
        ctx.warn(f"no {hooked} gave a map of >= 2 channels")
    return math.fsum(kept) if kept else float("nan")
