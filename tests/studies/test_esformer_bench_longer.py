"""The longer-training check: agreement of rows CSVs, seed pairs, and the decision rule."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from esnas.cli.study import study_task
from esnas.studies.esformer_bench_longer import agreement, load_labels, seed_pairs
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import run_task


def _rows(path: Path, labels: dict[tuple[int, int], float]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["bench.index", "seed", "test/acc1", "command"])
        for (i, s), v in labels.items():
            w.writerow([i, s, v, f"esnas-train bench.index={i} seed={s}"])
    return path


def test_agreement_and_seed_pairs_on_hand_values(tmp_path: Path) -> None:
    hand = {(0, 0): 0.5, (1, 0): 0.6, (2, 0): 0.7, (0, 1): 0.7, (1, 1): 0.6, (2, 1): 0.5}
    labels = load_labels(_rows(tmp_path / "a.csv", hand), "test/acc1")
    assert labels == {0: {0: 0.5, 1: 0.7}, 1: {0: 0.6, 1: 0.6}, 2: {0: 0.7, 1: 0.5}}
    assert seed_pairs(labels) == {"n": 3, "rho": pytest.approx(-1.0), "tau": pytest.approx(-1.0)}
    same = agreement({0: 1.0, 1: 2.0, 2: 3.0, 9: 0.0}, {0: 10.0, 1: 30.0, 2: 20.0})
    assert same["n"] == 3 and same["rho"] == pytest.approx(0.5)


def test_a_rows_file_without_the_figure_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("bench.index,seed,val\n0,0,1\n")
    with pytest.raises(EsnasInputError, match=r"needs columns bench\.index, seed and test/acc1"):
        load_labels(path, "test/acc1")


@pytest.mark.parametrize(("flip", "verdict"), [(False, "keeps 3 epochs"), (True, "moves to")])
def test_the_study_applies_its_decision_rule(run_config, tmp_path: Path, flip, verdict) -> None:
    base = _rows(tmp_path / "b.csv", {(i, 0): 0.5 + i / 100 for i in range(8)})
    longer = {(i, 0): (0.9 - i / 100 if flip else 0.8 + i / 100) for i in range(6)}
    _rows(tmp_path / "e12.csv", longer)
    _rows(tmp_path / "full.csv", {(i, 0): 0.8 + i / 100 for i in range(4)})
    out = tmp_path / "table"
    cfg = run_config("study", [
        "study=esformer_bench_longer", f"study.base={base}", f"study.out={out}",
        f"study.longer={{e12:{tmp_path / 'e12.csv'},full:{tmp_path / 'full.csv'}}}",
        "logger=none",
    ])  # fmt: skip
    figures = run_task(cfg, "study", study_task)
    assert verdict in figures["decision"]
    assert figures["decision"].startswith("provisional, 6 of the 40 planned genomes")
    assert figures["rho_e12"] == pytest.approx(-1.0 if flip else 1.0)
    text = out.with_suffix(".md").read_text()
    assert "| e12 | 6 |" in text and "Command: `esnas-study" in text
    assert out.with_suffix(".png").stat().st_size > 0
