"""Only bad input becomes a one-line error; a bug keeps its traceback (``is_input_error``)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from esnas.cli.app import is_input_error
from esnas.utils.errors import EsnasInputError
from esnas.utils.registry import Registry, UnknownNameError

TOY = Path(__file__).resolve().parents[1] / "apps" / "toy_task.py"


@dataclass
class Part:
    """A config target whose constructor checks its input, or hits a bug."""

    size: int = 1

    def __post_init__(self) -> None:
        if self.size < 1:
            raise EsnasInputError(f"size={self.size} is invalid; valid: >= 1")
        if self.size == 13:
            len(None)  # type: ignore[arg-type]  # a TypeError inside: a bug, not bad input


def _instantiate_error(**node: object) -> BaseException:
    with pytest.raises(Exception) as info:
        instantiate(OmegaConf.create({"_target_": f"{__name__}.Part", **node}))
    return info.value


def test_input_errors_are_recognised() -> None:
    assert is_input_error(EsnasInputError("x"))
    with pytest.raises(UnknownNameError) as info:
        Registry("metric").get("typo")
    assert is_input_error(info.value)
    assert is_input_error(_instantiate_error(size=0))  # the constructor rejected the value
    assert is_input_error(_instantiate_error(colour="red"))  # no such argument
    bad_target = OmegaConf.create({"_target_": "esnas.no_such_module.Part"})
    with pytest.raises(Exception) as info:
        instantiate(bad_target)
    assert is_input_error(info.value)
    with pytest.raises(Exception) as info:
        OmegaConf.create({"a": 1}).b.c  # noqa: B018
    assert is_input_error(info.value)


def test_bugs_are_not_input_errors() -> None:
    assert not is_input_error(ValueError("a bug deep inside torch"))
    assert not is_input_error(KeyError("k"))
    assert not is_input_error(_instantiate_error(size=13))  # TypeError inside the constructor


def _run_toy(fail: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "WANDB_MODE": "disabled"}
    argv = [sys.executable, str(TOY), f"+fail={fail}", "logger=none", f"hydra.run.dir={tmp_path}"]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


def test_cli_prints_input_errors_in_one_line_and_bugs_with_a_traceback(tmp_path: Path) -> None:
    bad_input = _run_toy("input", tmp_path / "input")
    assert bad_input.returncode == 2, bad_input.stderr
    assert bad_input.stderr.strip() == "esnas-score: error: toy.value=3 is invalid; valid: 1 or 2"
    bug = _run_toy("value", tmp_path / "bug")
    assert bug.returncode not in (0, 2), bug.stderr
    assert "Traceback" in bug.stderr and "a bug deep inside" in bug.stderr
