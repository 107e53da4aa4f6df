"""Forward hooks that reduce activations on the fly, shared by activation-based metrics.

Why hooks on modules: metrics never know the architecture, so they find the layers to watch
by class name (``ReLU``, ``GELU``, ``LayerNorm``, ...; timm's own ``GELU`` matches too) and
reduce each activation as it is produced instead of keeping them all. A module called twice
in one forward (one ``nn.ReLU`` reused) counts as two layers, ``name#0`` and ``name#1``.
Functional calls (``F.relu``) cannot be hooked: such nets need module activations or a
``hook`` list naming the layer before them (e.g. ``Conv2d``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from fnmatch import fnmatchcase

import torch
from torch import nn

from esnas.metrics.prepare import first_tensor

ACTIVATIONS = frozenset(
    [
        "ReLU",
        "ReLU6",
        "LeakyReLU",
        "PReLU",
        "RReLU",
        "ELU",
        "SELU",
        "CELU",
        "GELU",
        "GELUTanh",
        "QuickGELU",
        "SiLU",
        "Swish",
        "Mish",
        "Hardswish",
        "HardSwish",
        "Tanh",
    ]
)
NORMS = frozenset(
    [
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "SyncBatchNorm",
        "LayerNorm",
        "LayerNorm2d",
        "GroupNorm",
        "InstanceNorm1d",
        "InstanceNorm2d",
        "RMSNorm",
        "RmsNorm",
        "BatchNormAct2d",
    ]
)
ATTENTION = frozenset(["MultiheadAttention", "Attention"])
# Residual blocks (ESFormer's four, timm's CNN/ViT blocks, NB201's cell): one term per block,
# whatever number of activations it holds inside; class names ending in "Block" match too.
BLOCKS = frozenset(["InvertedResidual", "DepthwiseSeparableConv", "Bottleneck", "BasicBlock"])
HOOK_GROUPS = {"act": ACTIVATIONS, "norm": NORMS, "attn": ATTENTION, "block": BLOCKS}


def _is_block(cls: type) -> bool:
    return cls.__name__ in BLOCKS or cls.__name__.endswith("Block")


def select_modules(model: nn.Module, hook: Sequence[str]) -> list[tuple[str, nn.Module]]:
    """Named modules whose class (or a base class) is named in ``hook``.

    ``hook`` items are group names (``act``, ``norm``, ``attn``, ``block``) or class names.
    ``block`` keeps the outermost block only: a block nested in a block is not a term of its own.
    """
    if isinstance(hook, str):
        hook = [hook]
    names: set[str] = set()
    for h in hook:
        names |= HOOK_GROUPS.get(h, {h})
    picked = [
        (name or type(m).__name__, m)
        for name, m in model.named_modules()
        if m is not model
        and any(c.__name__ in names or ("block" in hook and _is_block(c)) for c in type(m).__mro__)
    ]
    if "block" not in hook:
        return picked
    blocks = [n for n, m in picked if any(_is_block(c) for c in type(m).__mro__)]
    return [(n, m) for n, m in picked if not any(n.startswith(b + ".") for b in blocks)]


def _stateless(m: nn.Module) -> bool:
    """An activation without parameters or buffers: its output is a function of its input."""
    return (
        type(m).__name__ in ACTIVATIONS
        and not any(True for _ in m.parameters(recurse=False))
        and not any(True for _ in m.buffers(recurse=False))
    )


@contextmanager
def tap(
    modules: Sequence[tuple[str, nn.Module]],
    reduce: Callable[[str, torch.Tensor], None],
    alias: Callable[[str, str], None] | None = None,
) -> Iterator[Callable[[], None]]:
    """Calls ``reduce(layer_key, output)`` for every call of ``modules`` while active.

    Yields ``new_pass()``, to call before each forward so reused modules get the same keys
    in every pass. Outputs are seen after the module ran, so in-place ReLUs are fine.
    With ``alias``, a stateless activation applied to a tensor that an equal activation
    already saw in this pass (NB201: every edge out of a node has its own ReLU on the same
    node tensor) calls ``alias(layer_key, earlier_key)`` instead: same output, reduced once.
    """
    calls: dict[int, int] = {}
    # signature -> (a weak reference to the input, its key, its sum): the weak reference tells
    # a live tensor from a new one that a freed tensor's id and memory were given to
    seen: dict[tuple, tuple[weakref.ref, str, float]] = {}

    def new_pass() -> None:
        calls.clear()
        seen.clear()

    def make_hook(name: str, stateless: bool) -> Callable[..., None]:
        def hook(m: nn.Module, args: object, out: object) -> None:
            k = calls.get(id(m), 0)
            calls[id(m)] = k + 1
            key = f"{name}#{k}"
            x = args[0] if isinstance(args, tuple) and args else None
            if stateless and isinstance(x, torch.Tensor) and x is not out:
                # the same live tensor object (not one reusing a freed one's id), whose sum
                # guards against an in-place change in between (inference tensors keep no
                # version counter)
                sig = (type(m), m.extra_repr(), id(x))
                total = float(x.detach().sum())
                hit = seen.get(sig)
                if hit is not None and hit[0]() is x and hit[2] == total:
                    alias(key, hit[1])
                    return
                seen[sig] = (weakref.ref(x), key, total)
            reduce(key, first_tensor(out))

        return hook

    handles = [
        m.register_forward_hook(make_hook(name, alias is not None and _stateless(m)))
        for name, m in modules
    ]
    try:
        yield new_pass
    finally:
        for h in handles:
            h.remove()


def channels_of(a: torch.Tensor) -> int:
    """Channel count: dim 1 of ``(N, C, ...)`` maps, the last dim of ``(N, L, D)`` tokens."""
    return int(a.shape[-1] if a.dim() == 3 else (a.shape[1] if a.dim() > 1 else 1))


def select_paths(model: nn.Module, patterns: Sequence[str]) -> list[tuple[str, nn.Module]]:
    """Named modules whose path matches one of ``patterns``, in module order.

    A pattern is a dotted module path in which each ``*`` stands for exactly one segment:
    ``cells.*`` matches ``cells.3`` but not ``cells.3.edges``.
    """
    if isinstance(patterns, str):
        patterns = [patterns]
    split = [p.split(".") for p in patterns]

    def matches(name: str) -> bool:
        parts = name.split(".")
        return any(
            len(s) == len(parts) and all(fnmatchcase(n, p) for n, p in zip(parts, s, strict=True))
            for s in split
        )

    return [(name, m) for name, m in model.named_modules() if name and matches(name)]
