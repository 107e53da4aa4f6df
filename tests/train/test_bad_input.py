"""Bad input fails in one line (a ValueError naming what is valid), before any training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from esnas.cli.eval import evaluate
from esnas.cli.train import train
from esnas.train.arch import load_arch_file, model_spec
from esnas.utils.task import run_task
from tests.train.helpers import FAST, GOOD_ARCH


def test_missing_dataset_path(run_config, tmp_path: Path) -> None:
    cfg = run_config("train", [*FAST, "data=imagenet", f"data.root={tmp_path}/nowhere"])
    with pytest.raises(ValueError, match=r"does not exist; set data\.root"):
        run_task(cfg, "train", train)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("space: esformer\ngenome: [unclosed\n", "not valid YAML"),
        ("space: esformer\narch: x\n", "no 'genome'"),
        ("space: nb201\ngenome: {}\n", "valid: esformer"),
        (GOOD_ARCH.replace("ir3]", "zz9]"), "invalid genome"),
    ],
)
def test_bad_arch_file(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "best_arch.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_arch_file(path)


def test_arch_file_gives_a_genome_spec(tmp_path: Path) -> None:
    path = tmp_path / "best_arch.yaml"
    path.write_text(GOOD_ARCH)
    spec = model_spec({"name": None, "arch_file": str(path), "drop_path_rate": 0.0})
    assert spec["genome"]["stages"][3]["blocks"] == ["sa"]
    with pytest.raises(ValueError, match="unknown timm model"):
        model_spec({"name": "esformer_xxxl", "arch_file": None})


def test_checkpoint_of_another_architecture(run_config, tmp_path: Path) -> None:
    figures = run_task(
        run_config("train", [*FAST, "trainer.max_epochs=1", "test=false"]), "train", train
    )
    other = ["model=timm", "model.name=resnet10t"]
    with pytest.raises(ValueError, match="does not fit model resnet10t"):
        run_task(
            run_config("eval", ["logger=none", f"ckpt_path={figures['last_ckpt']}", *other]),
            "eval",
            evaluate,
        )
    resume = [*FAST, *other, f"ckpt_path={figures['last_ckpt']}"]
    with pytest.raises(ValueError, match="holds a esformer_xxs model"):
        run_task(run_config("train", resume), "train", train)


@pytest.mark.slow  # a fresh interpreter importing Lightning and timm: ~10-25 s
def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    arch = tmp_path / "best_arch.yaml"
    arch.write_text("genome: [unclosed\n")
    script = Path(sys.executable).parent / "esnas-train"
    result = subprocess.run(
        [str(script), "model=from_search", f"model.arch_file={arch}", "logger=none",
         "trainer_logger=none", f"hydra.run.dir={tmp_path / 'run'}"],
        capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "HYDRA_FULL_ERROR": "0"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not valid YAML" in lines[0], result.stderr
