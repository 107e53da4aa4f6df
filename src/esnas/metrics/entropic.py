"""Entropic Score: aggregated element-wise entropy of a network's activations at init.

Why: Cavagnero et al. 2023 ("Entropic Score metric: Decoupling Topology and Size in
Training-free NAS") rank topologies by how much information the activations of a freshly
initialised net carry. An *element* is one activation of a layer (channel × position for
``(N, C, H, W)`` maps, token × feature for ``(N, L, D)`` tokens); entropies are in nats.

Estimators (all reduced on the fly by forward hooks, never keeping activations):

* ``binary``: p = fraction of the batch where the element is > 0, H = -p log p - (1-p) log(1-p).
* ``gaussian``: ½ log(2πe σ²) of the element over the batch, after standardising the layer
  by its own mean and std over batch and elements; σ² gets ``eps`` added (σ = 0 is finite).
* ``shannon``: per sample, the layer's map normalised to a distribution q = |a| / Σ|a|
  (not softmax: post-ReLU maps are non-negative and softmax is dominated by its shift), its
  entropy -Σ q log q (0 for an all-zero map), averaged over the batch.
  ``aggregate_elements="mean"`` divides it by the element count.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from esnas.metrics.base import FLOOR, MetricContext, register_metric, run_alone
from esnas.metrics.hooks import channels_of, select_modules, tap
from esnas.utils.errors import EsnasInputError

ESTIMATORS = ("binary", "gaussian", "shannon")
AGGREGATES = ("sum", "mean")
WIDTH_NORMALISE = (None, "log_elements", "log_channels", "channels", "kl_uniform")
TINY = torch.finfo(torch.float32).tiny  # log(TINY) is finite, and 0 · log(TINY) = 0


@dataclass
class LayerEntropy:
    """Entropy of one hooked layer call, with its size (for width normalisation)."""

    value: float
    elements: int
    channels: int


class _Accumulator:
    """Per-element running sums of one layer over the batch (float64)."""

    def __init__(self, estimator: str) -> None:
        self.estimator = estimator
        self.n = 0
        self.s1: torch.Tensor | float = 0.0
        self.s2: torch.Tensor | float = 0.0
        self.elements = 0
        self.channels = 0

    def update(self, a: torch.Tensor) -> None:
        self.elements, self.channels = a[0].numel(), channels_of(a)
        a = a.detach().reshape(a.shape[0], -1)
        self.n += a.shape[0]
        if self.estimator == "binary":
            self.s1 = self.s1 + (a > 0).sum(0, dtype=torch.float64)
        elif self.estimator == "gaussian":
            a = a.double()
            self.s1 = self.s1 + a.sum(0)
            self.s2 = self.s2 + a.square().sum(0)
        else:
            # H(q) of q = |a| / S, S = Σ|a|, equals log S - Σ|a| log|a| / S: no normalised copy
            # (an all-zero map has H = 0). Σ m log m as m · log(max(m, TINY)) with float32 row
            # sums (torch sums in cascade, ~1e-7 relative): xlogy's scalar loop, log(0)'s slow
            # path and float64 casts of the map made this reduction cost 0.4 of the forward.
            m = a.abs().float()
            total = m.sum(1).double()
            weighted = m.clamp_min(TINY).log_().mul_(m).sum(1).double()
            h = torch.where(
                total > 0, total.clamp_min(1e-300).log() - weighted / total.clamp_min(1e-300), 0.0
            )
            self.s1 = self.s1 + float(h.sum())

    def entropy(self, aggregate: str, eps: float) -> float:
        if self.estimator == "shannon":
            h = float(self.s1) / self.n
            return h / self.elements if aggregate == "mean" else h
        if self.estimator == "binary":
            p = self.s1 / self.n
            h = -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p))
        else:
            mean = self.s1 / self.n
            var = (self.s2 / self.n - mean.square()).clamp_min(0)
            layer_var = float(self.s2.sum() / (self.n * self.elements)) - float(mean.mean()) ** 2
            var = var / layer_var if layer_var > 1e-30 else torch.zeros_like(var)
            h = 0.5 * torch.log(2 * math.pi * math.e * (var + eps))
        return float(h.sum() if aggregate == "sum" else h.mean())


def activation_entropies(
    model: nn.Module,
    inputs: torch.Tensor,
    estimator: str = "shannon",
    aggregate_elements: str = "sum",
    hook: Sequence[str] = ("act",),
    eps: float = 1e-6,
) -> dict[str, LayerEntropy]:
    """Runs ``model(inputs)`` once and returns the entropy of every hooked layer call."""
    pending = collect_entropies(model, estimator, aggregate_elements, hook, eps)
    return run_alone(pending, lambda: model(inputs))


def collect_entropies(
    model: nn.Module,
    estimator: str = "shannon",
    aggregate_elements: str = "sum",
    hook: Sequence[str] = ("act",),
    eps: float = 1e-6,
) -> Generator[None, None, dict[str, LayerEntropy]]:
    """Hooks the layers, yields while the caller runs one forward, returns their entropies."""
    if estimator not in ESTIMATORS:
        raise EsnasInputError(f"estimator={estimator!r} is invalid; valid: {', '.join(ESTIMATORS)}")
    if aggregate_elements not in AGGREGATES:
        raise EsnasInputError(
            f"aggregate_elements={aggregate_elements!r} is invalid; valid: {', '.join(AGGREGATES)}"
        )
    acc: dict[str, _Accumulator] = {}

    def reduce(key: str, a: torch.Tensor) -> None:
        acc.setdefault(key, _Accumulator(estimator)).update(a)

    def alias(key: str, earlier: str) -> None:  # the same activation of the same tensor
        acc[key] = acc[earlier]

    with tap(select_modules(model, hook), reduce, alias) as new_pass:
        new_pass()
        yield
    return {
        k: LayerEntropy(a.entropy(aggregate_elements, eps), a.elements, a.channels)
        for k, a in acc.items()
    }


def _width(layer: LayerEntropy, mode: str | None) -> float:
    if mode is None:
        return 1.0
    if mode == "channels":
        return float(layer.channels)
    n = layer.elements if mode == "log_elements" else layer.channels
    return math.log(max(n, 2))  # a 1-wide layer must not divide by log 1 = 0


def _check_layer_options(aggregate_layers: str, width_normalise: str | None) -> None:
    """One-line errors for invalid layer options, before any forward is spent."""
    if aggregate_layers not in AGGREGATES:
        raise EsnasInputError(
            f"aggregate_layers={aggregate_layers!r} is invalid; valid: {', '.join(AGGREGATES)}"
        )
    if width_normalise not in WIDTH_NORMALISE:
        valid = ", ".join(map(str, WIDTH_NORMALISE))
        raise EsnasInputError(f"width_normalise={width_normalise!r} is invalid; valid: {valid}")


# revision 1: an activation's alias to an earlier equal one now needs the same live input
# tensor (a freed tensor's id and memory, reused by a new one, made some NB201 scores wrong).
# revision 2: the shannon reduction sums in float32 (values move by ~1e-9 relative).
@register_metric("entropic", floor=FLOOR, revision=2)
def entropic(
    model: nn.Module,
    ctx: MetricContext,
    estimator: str = "shannon",
    aggregate_elements: str = "sum",
    aggregate_layers: str = "sum",
    log: bool = True,
    width_normalise: str | None = None,
    hook: Sequence[str] = ("act",),
    eps: float = 1e-6,
) -> Generator[None, None, float]:
    """Entropic Score (Cavagnero et al. 2023): entropy of activations, aggregated (one
    forward, shared with the other forward metrics of the call; see ``esnas.metrics.base``).

    Args:
        model: prepared model.
        ctx: metric context (inputs default to Gaussian noise).
        estimator: ``shannon`` (default, chosen by the NB201 ablation) | ``binary`` |
            ``gaussian`` (see module docstring).
        aggregate_elements: ``sum`` | ``mean`` over the elements of a layer.
        aggregate_layers: ``sum`` | ``mean`` over hooked layer calls.
        log: return the log of the total (non-positive totals then score the floor, as does
            a model with no hooked layer, e.g. one that only calls ``F.relu``).
        width_normalise: divide each layer's entropy by ``log_elements`` (log of its element
            count), ``log_channels`` or ``channels``, or (``kl_uniform``, for ``shannon``)
            subtract its maximum log(elements), leaving −KL(q ‖ uniform) ≤ 0: how unevenly the
            layer spreads its signal, whatever its width — to decouple topology from size
            (use with ``log: false``; the total is not positive).
        hook: module groups (``act``, ``norm``, ``attn``, ``block``) or class names to hook.
        eps: variance floor of the gaussian estimator.
    """
    _check_layer_options(aggregate_layers, width_normalise)
    layers = yield from collect_entropies(model, estimator, aggregate_elements, hook, eps)
    if not layers:
        ctx.warn(f"no hooked module ran (hook={list(hook)}): no layer to take entropies of")
        return float("nan")
    if width_normalise == "kl_uniform":  # H - log N = -KL(q || uniform): 0 = perfectly even
        vals = [layer.value - math.log(max(layer.elements, 2)) for layer in layers.values()]
    else:
        vals = [layer.value / _width(layer, width_normalise) for layer in layers.values()]
    total = math.fsum(vals) / (len(vals) if aggregate_layers == "mean" else 1)
    if log and total <= 0:
        ctx.warn("its total entropy is <= 0 (e.g. every activation is 0): no log")
        return float("nan")
    return math.log(total) if log else total
