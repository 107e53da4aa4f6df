"""Registry, seeding and progress helpers."""

from __future__ import annotations

import pytest
import torch

from esnas.utils.console import progress_bar, track
from esnas.utils.registry import Registry, UnknownNameError
from esnas.utils.seeding import seed_everything, torch_generator


def test_registry_rejects_duplicates_and_lists_valid_names() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("b")(2)
    reg.register("a")(1)
    assert reg.get("a") == 1 and reg.names() == ["a", "b"] and "b" in reg
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(3)
    with pytest.raises(UnknownNameError) as info:
        reg.get("c")
    assert str(info.value) == "unknown widget 'c'; valid: a, b"


def test_seed_everything_reproduces_and_validates() -> None:
    seed_everything(5)
    a = torch.rand(3)
    seed_everything(5)
    assert torch.equal(a, torch.rand(3))
    assert torch.equal(
        torch.rand(2, generator=torch_generator(9)), torch.rand(2, generator=torch_generator(9))
    )
    for bad in (-1, 2**32, 1.5, "3"):
        with pytest.raises(ValueError, match="seed must be an integer"):
            seed_everything(bad)  # type: ignore[arg-type]


def test_progress_is_quiet_without_a_tty(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(track(range(5), "counting")) == [0, 1, 2, 3, 4]
    with progress_bar() as bar:
        assert bar.disable  # pytest captures stderr: not a TTY
    assert capsys.readouterr().err == ""
