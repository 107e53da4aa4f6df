"""AZ-NAS: four complementary views of a net at init, from one forward and one backward.

Why: Lee & Ham 2024 ("AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search",
CVPR) score expressivity (how evenly the features spread over their channel directions),
progressivity (whether that grows with depth), trainability (whether the block-to-block
Jacobians keep a spectral norm near 1) and complexity (FLOPs), and add their log-ranks
(the ``log_rank`` aggregator in :mod:`esnas.search.fitness`; ``az_nas`` composes the four).

Features are the outputs of the stem and of every cell/block, found by module path (one
``*`` = one path segment): NB201's ``stem`` and ``cells.*`` give the stem + 17 cells AZ-NAS's
own NB201 code extracts; timm-style nets give ``stem`` and ``stages.*.blocks.*``. A net where
the default matches fewer than two modules gets its ``stem`` (if any) and its residual blocks
(:func:`discover_blocks`: ``blocks.N`` items, as in timm's ViT / PiT / Swin, else block
classes, else ``layers.N`` items), and only with none of those its top-level children.

Trainability pairs consecutive features; a pair whose positions do not align (a cls token
added, tokens pooled between stages: (N, 196, D) -> (N, 197, D)) has no block Jacobian to
sample, so it is skipped and the skip is said in a warning, instead of failing the net.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from esnas.metrics.base import MetricContext, register_metric
from esnas.metrics.cost import flops
from esnas.metrics.hooks import select_modules, select_paths
from esnas.metrics.prepare import first_tensor
from esnas.utils.errors import EsnasInputError

FEATURES = ("stem", "cells.*", "stages.*.blocks.*")
EPS = 1e-8  # AZ-NAS's: inside log(p + eps) of the eigenvalue distribution


def _as_rows(a: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` → ``(N·H·W, C)``; ``(N, L, D)`` tokens → ``(N·L, D)``."""
    if a.dim() == 4:
        return a.permute(0, 2, 3, 1).reshape(-1, a.shape[1])
    return a.reshape(-1, a.shape[-1])


def eigen_entropy(feature: torch.Tensor) -> float:
    """Entropy of the channel covariance's eigenvalues, normalised to sum 1 (AZ-NAS Eq. 2)."""
    x = _as_rows(feature.detach())
    x = x - x.mean(0, keepdim=True)
    # Clamped: a rank-deficient covariance (LayerNorm's) gives eigenvalues of -1e-7, whose log
    # is NaN in AZ-NAS's code (their score: -inf); zero is what they stand for.
    s = torch.linalg.eigvalsh(x.T @ x / x.shape[0]).clamp_min(0)
    p = s / s.sum()
    return float((-p * torch.log(p + EPS)).sum())


def jacobian_term(f_in: torch.Tensor, f_out: torch.Tensor, gen: torch.Generator) -> float | None:
    """``2 - σ - 1/σ`` for σ the top singular value of a block's sampled Jacobian (≤ 0, 0 at
    σ = 1): a Rademacher cotangent pulled back through the block, correlated with itself.
    ``None`` when the two features' positions do not align (no per-position Jacobian)."""
    g_out = torch.randint(0, 2, f_out.shape, generator=gen).to(f_out) * 2 - 1
    if f_out.requires_grad:
        (g_in,) = torch.autograd.grad(f_out, f_in, g_out, retain_graph=True, allow_unused=True)
    else:
        g_in = None
    g_in = torch.zeros_like(f_in) if g_in is None else g_in
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf  # an identity block: AZ-NAS rules it out
    if g_in.dim() == g_out.dim() == 4 and g_in.shape[-1] > g_out.shape[-1]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[-1] // g_out.shape[-1])
    a, b = _as_rows(g_in), _as_rows(g_out)
    if g_out.dim() == 2 and a.shape[0] != b.shape[0]:  # pooled: each sample's positions fold
        a = g_in.reshape(g_in.shape[0], -1)  # into channels, as pixel_unshuffle does for maps
    if a.shape[0] != b.shape[0]:
        return None  # e.g. a cls token added or tokens pooled in between: skipped
    mat = a.T @ b / b.shape[0]
    sigma = float(torch.linalg.svdvals(mat if mat.shape[0] >= mat.shape[1] else mat.T).max())
    return 2.0 - sigma - 1.0 / (sigma + 1e-6)


def az_features(
    model: nn.Module, ctx: MetricContext, features: Sequence[str], jacobians: bool = False
) -> Generator[None, None, dict]:
    """The features' eigen-entropies (expressivity, progressivity) and, with ``jacobians``,
    the blocks' Jacobian terms (trainability: the forward with autograd, then its backward).

    A generator (see ``esnas.metrics.base``): the first AZ-NAS metric of a forward hooks the
    features and yields; one sharing that forward (``ctx.cache``) yields too and reads them.
    """
    key = ("az_nas", tuple(features), torch.is_grad_enabled())
    out = ctx.cache.get(key)
    if out is None:
        out = ctx.cache[key] = {}
        out.update((yield from _collect(model, features)))
    elif "entropies" not in out:
        yield  # another AZ-NAS metric's hooks fill ``out`` in this forward
    if jacobians and "jacobians" not in out:
        kept, gen = out["kept"], ctx.generator("az_trainability")
        terms = [(i, jacobian_term(kept[i - 1], kept[i], gen)) for i in range(len(kept) - 1, 0, -1)]
        out["jacobians"] = [t for _, t in terms if t is not None]
        out["skipped"] = [
            (tuple(kept[i - 1].shape), tuple(kept[i].shape)) for i, t in terms if t is None
        ]
    return out


def _collect(model: nn.Module, features: Sequence[str]) -> Generator[None, None, dict]:
    modules = select_paths(model, features)
    kept: list[torch.Tensor] = []
    entropies: list[float] = []
    backward = torch.is_grad_enabled()  # trainability needs the features kept for autograd

    def hook(m: nn.Module, args: object, out: object) -> torch.Tensor | None:
        if not backward:  # reduced now, before any later in-place op: nothing to keep
            entropies.append(eigen_entropy(first_tensor(out)))
            return None
        kept.append(first_tensor(out))
        # Later in-place ops (a ReLU) then change the clone, not the kept feature.
        return out.clone() if isinstance(out, torch.Tensor) else None

    if len(modules) < 2 and tuple(features) == FEATURES:  # neither NB201 nor timm's stages:
        blocks = discover_blocks(model)  # the residual blocks, after the stem if one matched
        modules = [(n, m) for n, m in modules if all(m is not b for _, b in blocks)] + blocks
    handles = [m.register_forward_hook(hook) for _, m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()
    if backward:
        entropies = [eigen_entropy(f) for f in kept]
    if len(entropies) < 2:
        raise EsnasInputError(
            f"AZ-NAS needs >= 2 features; features={list(features)} matched {len(entropies)} "
            "module calls (module paths, one '*' per segment, e.g. 'stem', 'cells.*')"
        )
    return {"entropies": entropies, "kept": kept}


BLOCK_ITEM = re.compile(r"(^|\.)blocks\.\d+$")
LAYER_ITEM = re.compile(r"(^|\.)layers\.\d+$")


def _outermost(named: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    names = [n for n, _ in named]
    return [(n, m) for n, m in named if not any(n.startswith(o + ".") for o in names)]


def discover_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The residual blocks of a net of any layout, outermost first found, in module order.

    Why in this order: ``blocks.N`` items are timm's blocks in every family (ViT ``blocks.N``,
    PiT ``transformers.N.blocks.N``, Swin ``layers.N.blocks.N``); block classes (``*Block``,
    ``Bottleneck``, ``InvertedResidual``: the ``block`` hook group) catch ResNet's
    ``layer1.N``; ``layers.N`` items come last, as in Swin they are stages, not blocks. Each
    needs two matches; with none of them, the top-level children (the old fallback).
    """
    named = [(n, m) for n, m in model.named_modules() if n]
    for found in (
        [(n, m) for n, m in named if BLOCK_ITEM.search(n)],
        select_modules(model, ["block"]),
        [(n, m) for n, m in named if LAYER_ITEM.search(n)],
    ):
        found = _outermost(found)
        if len(found) >= 2:
            return found
    return select_paths(model, ["*"])


def _say_constant(ctx: MetricContext, entropies: list[float]) -> None:
    """A feature with zero covariance (every value equal: a dead net) has a NaN entropy."""
    if any(math.isnan(h) for h in entropies):
        ctx.warn("a feature is constant over the batch (zero covariance): NaN eigen-entropy")


# revision 1 (the three below): layouts the default features do not match read their
# discovered residual blocks instead of their top-level children, and trainability skips
# feature pairs that do not align (it failed there); NB201's and timm stages' values are kept.
@register_metric("az_expressivity", revision=1)
def az_expressivity(
    model: nn.Module, ctx: MetricContext, features: Sequence[str] = FEATURES
) -> Generator[None, None, float]:
    """AZ-NAS expressivity (Lee & Ham 2024, CVPR): Σ over features of the eigen-entropy."""
    h = (yield from az_features(model, ctx, features))["entropies"]
    _say_constant(ctx, h)
    return math.fsum(h)


@register_metric("az_progressivity", revision=1)
def az_progressivity(
    model: nn.Module, ctx: MetricContext, features: Sequence[str] = FEATURES
) -> Generator[None, None, float]:
    """AZ-NAS progressivity (Lee & Ham 2024, CVPR): min gain of eigen-entropy feature to feature."""
    h = (yield from az_features(model, ctx, features))["entropies"]
    _say_constant(ctx, h)
    return min(b - a for a, b in pairwise(h))


@register_metric("az_trainability", needs_grad=True, revision=1)
def az_trainability(
    model: nn.Module, ctx: MetricContext, features: Sequence[str] = FEATURES
) -> Generator[None, None, float]:
    """AZ-NAS trainability (Lee & Ham 2024, CVPR): mean over blocks of 2 - σ - 1/σ, over the
    feature pairs that align (the others are skipped with a warning; none left: NaN)."""
    out = yield from az_features(model, ctx, features, jacobians=True)
    terms, skipped = out["jacobians"], out["skipped"]
    if skipped:
        (a, b), n = skipped[-1], len(skipped) + len(terms)
        ctx.warn(
            f"skips {len(skipped)} of {n} feature pairs whose positions do not align (first: "
            f"{a} -> {b}; a token added or tokens pooled in between)"
        )
    return math.fsum(terms) / len(terms) if terms else float("nan")


@register_metric("az_complexity", bn="eval", data=False, per_init=False, floor=0.0)
def az_complexity(model: nn.Module, ctx: MetricContext) -> float:
    """AZ-NAS complexity (Lee & Ham 2024, CVPR): the FLOPs of one sample (``flops``)."""
    return flops(model, ctx)
