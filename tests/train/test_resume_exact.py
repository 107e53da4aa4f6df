"""last.ckpt is the latest epoch, and a killed + resumed run trains exactly like an unbroken one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import open_dict

from esnas.cli.train import train
from esnas.utils.task import run_task
from tests.conftest import compose_run_config
from tests.train.helpers import FAST

# Mixup on (NumPy's RNG) and a shuffled loader (torch's): both streams must survive a resume.
EXACT = [*FAST, "module.mixup={mixup_alpha: 0.8, cutmix_alpha: 1.0}", "trainer.max_epochs=3"]


def _train(out: Path, overrides: list[str]) -> dict:
    cfg = compose_run_config("train", [*EXACT, *overrides], output_dir=out)
    with open_dict(cfg):
        del cfg["hydra"]
    return run_task(cfg, "train", train)


def _step(ckpt: str | Path) -> int:
    """The optimizer steps a checkpoint holds (4 per epoch here: 32 images, batch 8)."""
    return int(torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"])


def _weights(ckpt: str | Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def test_last_ckpt_holds_the_last_epoch_and_best_ckpt_the_best(tmp_path: Path) -> None:
    figures = _train(tmp_path / "run", [])
    assert Path(figures["last_ckpt"]).name == "last.ckpt"
    assert _step(figures["last_ckpt"]) == figures["global_step"] == 12  # all 3 epochs
    assert figures["best_ckpt"] and Path(figures["best_ckpt"]).name.startswith("epoch_")
    assert figures["best_ckpt"] != figures["last_ckpt"]
    assert _step(figures["best_ckpt"]) in (4, 8, 12)


def test_kill_and_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    whole = _train(tmp_path / "whole", [])
    killed = tmp_path / "killed"
    kill = ["+callbacks.kill._target_=tests.train.helpers.KillAtEpoch", "+callbacks.kill.epoch=2"]
    with pytest.raises(RuntimeError, match="killed at the start of epoch 2"):
        _train(killed, kill)
    last = killed / "checkpoints" / "last.ckpt"
    assert _step(last) == 8  # epochs 0 and 1: the crash lost only the epoch in flight

    resumed = _train(killed, [f"ckpt_path={last}"])
    assert resumed["global_step"] == whole["global_step"] == 12
    assert _step(resumed["last_ckpt"]) == 12
    a, b = _weights(whole["last_ckpt"]), _weights(resumed["last_ckpt"])
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0, msg=f"{key} differs")
    assert resumed["val/acc1"] == whole["val/acc1"]
