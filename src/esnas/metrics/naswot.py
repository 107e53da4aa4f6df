"""NASWOT: how differently a freshly initialised net codes the samples of one batch.

Why: Mellor et al. 2021 ("Neural Architecture Search without Training", ICML) score the
log-determinant of the Hamming kernel of the binary ReLU codes: nets that separate inputs
into distinct linear regions at init train better.

Which units code: every activation module by default (``hook=("act",)``: ReLU, GELU, SiLU,
...), not ReLU alone, which left every GELU transformer with no code at all (a kernel of 0,
the floor, on every net). A unit's bit is ``output > 0``; for every activation of the ``act``
group that is the sign of its pre-activation (GELU(x) = x·Φ(x), SiLU, Tanh, ELU, Hardswish
... are positive exactly where x is), i.e. the ReLU code of the same pre-activations, so on
ReLU nets the score is the paper's, and on GELU nets it is the code of the same linear
regions. (A PReLU whose slope is negative is the one exception: its code is ``output > 0``.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from esnas.metrics.base import MetricContext, register_metric
from esnas.metrics.hooks import select_modules, tap


def naswot_kernel(
    model: nn.Module, inputs: torch.Tensor, modules: Sequence[tuple[str, nn.Module]]
) -> torch.Tensor:
    """K = c·cᵀ + (1-c)(1-c)ᵀ over all hooked layers, accumulated layer by layer (float64).

    With s = 2c - 1 ∈ {-1, 1}, each layer adds (E + s·sᵀ)/2 for its E elements: one matmul,
    exact in float32 up to 2²⁴ elements per layer (float64 beyond).
    """
    n = inputs.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64, device=inputs.device)

    def reduce(key: str, a: torch.Tensor) -> None:
        a = a.reshape(a.shape[0], -1)
        dtype = torch.float32 if a.shape[1] < 2**24 else torch.float64
        s = (a > 0).to(dtype) * 2 - 1
        kernel.add_((s @ s.T).double().add_(a.shape[1]).div_(2))

    with tap(modules, reduce) as new_pass:
        new_pass()
        model(inputs)
    return kernel


@register_metric("naswot", floor=0.0)
def naswot(model: nn.Module, ctx: MetricContext, hook: Sequence[str] = ("act",)) -> float:
    """NASWOT (Mellor et al. 2021, ICML): log|det K| of the binary activation codes' kernel.

    K is an integer matrix, so a non-singular K has log|det K| >= 0; a singular one (two
    samples with identical codes, no activation hooked) scores the floor 0, with a warning.
    """
    modules = select_modules(model, hook)
    if not modules:
        ctx.warn(f"hooked no module (hook={list(hook)}): no unit codes the samples")
    sign, logdet = torch.linalg.slogdet(naswot_kernel(model, ctx.inputs, modules))
    if float(sign) > 0:
        return float(logdet)
    if modules:
        ctx.warn("its kernel is singular: two samples share one binary code")
    return float("nan")
