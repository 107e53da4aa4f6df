"""The proxy-suite study: its rho is scipy's on the committed CSVs, reasons for empty cells."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from scipy import stats

from esnas.cli.study import study_task
from esnas.spaces import NB201GroundTruth
from esnas.studies.proxy_suite import _reason
from esnas.utils.task import run_task

ROOT = Path(__file__).resolve().parents[2]


def test_reasons_name_nan_and_constant_columns() -> None:
    assert _reason(["1", "2", "3"]) == ""
    assert _reason(["256", "256", "256"]) == "constant (256) on all 3 architectures"
    assert _reason(["1", "nan", ""]) == "NaN or failed on 2 of 3 architectures"


def test_suite_recomputes_rho_from_the_committed_scores(run_config, tmp_path: Path) -> None:
    out = tmp_path / "suite"
    cfg = run_config("study", [
        "study=proxy_suite", "study.columns=[NB201 C10,ESFormer stand-in]",
        f"study.out={out}", "logger=none",
    ])  # fmt: skip
    run_task(cfg, "study", study_task)
    rows = {(r["score"], r["column"]): r for r in csv.DictReader(out.with_suffix(".csv").open())}
    scores = list(csv.DictReader((ROOT / "experiments/results/nb201_peers_cifar10.csv").open()))
    truth = NB201GroundTruth.load()
    acc = [truth.test_accuracy(r["arch"], "cifar10") for r in scores]
    expected = stats.spearmanr([float(r["meco"]) for r in scores], acc).statistic
    assert float(rows[("meco", "NB201 C10")]["spearman"]) == pytest.approx(expected)
    assert int(rows[("meco", "NB201 C10")]["n"]) == len(scores)
    text = out.with_suffix(".md").read_text()
    assert "`swap`: constant (256) on all 100 architectures" in text
    assert "*ceiling (ρ between two trainings)* | – | 0.931 |" in text
    assert out.with_suffix(".png").stat().st_size > 0


def test_an_unknown_column_is_one_line(run_config) -> None:
    cfg = run_config("study", ["study=proxy_suite", "study.columns=[Nope]", "logger=none"])
    with pytest.raises(Exception, match="unknown Nope; valid: NB201 C10"):
        run_task(cfg, "study", study_task)
