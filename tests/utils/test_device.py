"""``auto`` device and precision: one resolver for scoring, training and evaluation."""

from __future__ import annotations

import torch

from esnas.utils.device import resolve_device, resolve_precision


def test_auto_is_the_gpu_when_visible_else_the_cpu_and_names_pass_through() -> None:
    gpu = torch.cuda.is_available()
    assert resolve_device("auto") == resolve_device(None) == ("cuda" if gpu else "cpu")
    assert resolve_device("cpu") == "cpu" and resolve_device(torch.device("cpu")) == "cpu"


def test_auto_precision_is_full_on_the_cpu_and_lightning_names_pass_through() -> None:
    assert resolve_precision("auto", "cpu") == "32-true"
    assert resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"
    assert resolve_precision(16) == 16
    want = (
        "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"
    )
    assert resolve_precision("auto") == want
