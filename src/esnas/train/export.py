"""Trained weights in and out: safetensors export timm can load, and checkpoint reading.

Why safetensors with the plain network's keys: ``timm.create_model(name, pretrained=True,
pretrained_cfg_overlay=dict(file=...))`` then loads them with no esnas code; the metadata
keeps the model spec so ``esnas-eval weights=...`` needs nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from esnas.train.arch import build_model, spec_label
from esnas.utils.errors import EsnasInputError

__all__ = [
    "export_weights",
    "load_checkpoint",
    "load_into",
    "read_weights",
]

SPEC_KEY = "esnas_model"


def _clean_key(key: str) -> str:
    return key.replace("_orig_mod.", "")  # torch.compile wrappers, never part of the export


def export_weights(
    net: nn.Module, path: str | Path, spec: Mapping[str, Any], num_classes: int
) -> Path:
    """Writes ``net``'s state dict (contiguous CPU copies, uncompiled keys) as safetensors."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        _clean_key(k): v.detach().to("cpu").contiguous().clone()
        for k, v in net.state_dict().items()
    }
    meta = {SPEC_KEY: json.dumps(dict(spec)), "num_classes": str(num_classes)}
    save_file(state, str(path), metadata=meta)
    return path


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None, int]:
    """(state dict, model spec or None, num_classes or -1) of an exported safetensors file."""
    p = Path(path)
    if not p.is_file():
        raise EsnasInputError(f"weights file {str(p)!r} does not exist")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(p))
    except (SafetensorError, OSError) as err:
        raise EsnasInputError(f"weights file {str(p)!r} is not a safetensors file: {err}") from None
    spec = json.loads(meta[SPEC_KEY]) if SPEC_KEY in meta else None
    return state, spec, int(meta.get("num_classes", -1))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint loaded with ``weights_only=True``; a bad file is a ValueError."""
    p = Path(path)
    if not p.is_file():
        raise EsnasInputError(f"checkpoint {str(p)!r} does not exist")
    try:
        ckpt = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise EsnasInputError(f"checkpoint {str(p)!r} cannot be loaded: {first}") from None
    hp = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    if not hp or "model" not in hp or "state_dict" not in ckpt:
        raise EsnasInputError(
            f"checkpoint {str(p)!r} was not written by esnas-train (no model spec)"
        )
    return ckpt


def net_state_from_checkpoint(ckpt: Mapping[str, Any], ema: bool = True) -> dict[str, Any]:
    """The network's weights from a checkpoint: the EMA copy when present and ``ema``."""
    sd = ckpt["state_dict"]
    ema_prefix = "ema.module."
    use_ema = ema and any(k.startswith(ema_prefix) for k in sd)
    prefix = ema_prefix if use_ema else "net."
    return {_clean_key(k[len(prefix) :]): v for k, v in sd.items() if k.startswith(prefix)}


def load_into(
    net: nn.Module, state: Mapping[str, torch.Tensor], spec: Mapping[str, Any], source: str
) -> None:
    """``net.load_state_dict(state)`` whose mismatch is one line naming both architectures."""
    result = net.state_dict()
    missing = [k for k in result if k not in state]
    unexpected = [k for k in state if k not in result]
    shape = [k for k in state if k in result and state[k].shape != result[k].shape]
    if missing or unexpected or shape:
        detail = (
            f"{len(missing)} missing, {len(unexpected)} unexpected, {len(shape)} mis-shaped "
            f"keys (e.g. {(missing + unexpected + shape)[0]})"
        )
        raise EsnasInputError(
            f"{source} does not fit model {spec_label(spec)}: {detail}; evaluate it with the "
            "architecture it was trained with (drop the model=... override)"
        )
    net.load_state_dict(state)


def build_from_weights(
    path: str | Path, spec: Mapping[str, Any] | None = None, num_classes: int | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """A network with exported weights loaded; spec and classes default to the file's own."""
    state, file_spec, file_classes = read_weights(path)
    spec = dict(spec or file_spec or {})
    if not spec:
        raise EsnasInputError(f"weights file {str(path)!r} has no esnas metadata; set model=...")
    n = num_classes or (file_classes if file_classes > 0 else None)
    if n is None:
        raise EsnasInputError(
            f"weights file {str(path)!r} does not say its classes; set num_classes"
        )
    net = build_model(spec, n)
    load_into(net, state, spec, f"weights file {str(path)!r}")
    return net, spec
