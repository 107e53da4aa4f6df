"""In-place model preparation: re-initialisation and a reversible requirement set.

Why in place: building a model costs as much as scoring it (~12 ms for an NB201 cell), and a
deepcopy costs more than converting and restoring, so the runner re-initialises and prepares
the same module for every init and metric group, and puts everything back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from esnas.utils.errors import EsnasInputError

BN_MODES = ("train", "eval", "identity")
LINEAR_INITS = ("kaiming", "trunc_normal")


def check_choice(name: str, value: object, valid: Sequence[object]) -> None:
    """Raises a one-line ``ValueError`` naming the valid values unless ``value`` is one."""
    if value not in valid:
        raise EsnasInputError(f"{name}={value!r} is invalid; valid: {', '.join(map(str, valid))}")


def _is_norm(m: nn.Module) -> bool:
    return "Norm" in type(m).__name__ and isinstance(getattr(m, "weight", None), nn.Parameter)


@torch.no_grad()
def reinit_(model: nn.Module, generator: torch.Generator, linear_init: str = "kaiming") -> None:
    """Re-initialises ``model`` in place (never rebuilt) from ``generator``.

    Conv and Linear weights: Kaiming normal (fan_out, relu), or ``trunc_normal(std=.02)`` for
    Linear with ``linear_init="trunc_normal"``; their biases zero. Norm layers: weight 1,
    bias 0, running stats reset. ``nn.MultiheadAttention`` input projections like Linear.
    Any other parameter (position embeddings, tokens, ...): ``trunc_normal(std=.02)``, so the
    same generator state always gives the same weights.
    """
    check_choice("linear_init", linear_init, LINEAR_INITS)
    done: set[int] = set()

    def linear_like(w: torch.Tensor, b: torch.Tensor | None, trunc: bool) -> None:
        if trunc:
            nn.init.trunc_normal_(w, std=0.02, generator=generator)
        else:
            nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", generator=generator)
        done.add(id(w))
        if b is not None:
            b.zero_()
            done.add(id(b))

    for m in model.modules():
        if isinstance(m, _ConvNd):
            linear_like(m.weight, m.bias, trunc=False)
        elif isinstance(m, nn.Linear):
            linear_like(m.weight, m.bias, trunc=linear_init == "trunc_normal")
        elif isinstance(m, nn.MultiheadAttention):
            for k in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
                w = getattr(m, k, None)
                if w is not None:
                    linear_like(w, None, trunc=linear_init == "trunc_normal")
            if m.in_proj_bias is not None:
                m.in_proj_bias.zero_()
                done.add(id(m.in_proj_bias))
        elif _is_norm(m):
            m.weight.fill_(1.0)
            done.add(id(m.weight))
            if getattr(m, "bias", None) is not None:
                m.bias.zero_()
                done.add(id(m.bias))
        if hasattr(m, "reset_running_stats"):
            m.reset_running_stats()
    for p in model.parameters():
        if id(p) not in done:
            nn.init.trunc_normal_(p, std=0.02, generator=generator)


def _bn_identity_forward(m: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    # timm's BatchNormAct2d fuses the activation into the norm: keep the activation.
    act, drop = getattr(m, "act", None), getattr(m, "drop", None)
    if isinstance(act, nn.Module):
        return lambda x: act(drop(x) if isinstance(drop, nn.Module) else x)
    return lambda x: x


@contextmanager
def prepared(
    model: nn.Module, dtype: torch.dtype, bn_mode: str, grads: bool = False
) -> Iterator[nn.Module]:
    """Prepares ``model`` in place for one requirement set and restores it on exit.

    Non-BN modules go to eval mode (dropout off, so scores are deterministic); BN layers go
    to ``bn_mode`` ("identity" overrides their forward). Restored on exit: training flags,
    BN forwards, parameter/buffer dtypes, buffer values (BN running stats), grads and
    ``requires_grad``.
    """
    check_choice("bn_mode", bn_mode, BN_MODES)
    # One pass over the module tree: model.eval()/model.to() recurse and cost ~3x more.
    mods = list(model.modules())
    training = [m.training for m in mods]
    params = [(p, p.dtype, p.grad, p.requires_grad) for p in model.parameters()]
    buffers = [(m, k, b) for m in mods for k, b in m._buffers.items() if b is not None]
    convert = any(t.is_floating_point() and t.dtype != dtype for t, *_ in params) or any(
        b.is_floating_point() and b.dtype != dtype for _, _, b in buffers
    )
    # Forwards update BN running stats in place only in train mode on unconverted buffers.
    saved = [b.clone() if bn_mode == "train" and not convert else b for _, _, b in buffers]
    bns = [m for m in mods if isinstance(m, _BatchNorm)]
    try:
        for m in mods:
            m.training = False
        for m in bns:
            if bn_mode == "train":
                m.training = True
            elif bn_mode == "identity":
                m.forward = _bn_identity_forward(m)
        for p, *_ in params:
            p.grad = None
            if grads:
                p.requires_grad_(True)
            if convert and p.is_floating_point():
                p.data = p.data.to(dtype)
        if convert:
            for m, k, b in buffers:
                if b.is_floating_point():
                    m._buffers[k] = b.to(dtype)
        yield model
    finally:
        for m in bns:
            m.__dict__.pop("forward", None)
        for p, dt, grad, req in params:
            p.grad = None
            if p.dtype != dt:
                p.data = p.data.to(dt)
            p.grad = grad
            p.requires_grad_(req)
        for (m, k, _), b in zip(buffers, saved, strict=True):
            m._buffers[k] = b
        for m, flag in zip(mods, training, strict=True):
            m.training = flag


def first_tensor(out: Any) -> torch.Tensor:
    """The main tensor of a module output (tuples/lists: first item; dicts: first value)."""
    while not isinstance(out, torch.Tensor):
        out = next(iter(out.values())) if isinstance(out, Mapping) else out[0]
    return out


def weight_modules(model: nn.Module) -> list[nn.Module]:
    """Conv and Linear modules, the layers whose weights gradient metrics sum over."""
    return [m for m in model.modules() if isinstance(m, (_ConvNd, nn.Linear))]
