"""``auto`` device and precision, resolved in one place for scoring, training and evaluation:
the GPU when one is visible (bf16 mixed precision when it supports it), else the CPU in full
precision."""

from __future__ import annotations

from typing import Any

import torch


def resolve_device(device: str | torch.device | None) -> str:
    """``"auto"`` (or ``None``) → ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def resolve_precision(precision: Any, device: str | torch.device | None = None) -> Any:
    """``"auto"`` → ``"bf16-mixed"`` on a GPU that supports it (``device``, else the visible
    GPU), else ``"32-true"``; any other value (Lightning's names) is returned as is."""
    if precision != "auto":
        return precision
    on_gpu = torch.device(resolve_device(device)).type == "cuda"
    return "bf16-mixed" if on_gpu and torch.cuda.is_bf16_supported() else "32-true"
