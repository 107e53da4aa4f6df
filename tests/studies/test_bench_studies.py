"""The benchmark studies run small and reject bad input (their timings live in ``make bench``)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from esnas.cli.study import study_task
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import run_task


def test_bench_metrics_times_each_metric_and_the_overheads(run_config, tmp_path: Path, capsys):
    out = tmp_path / "bench.csv"
    cfg = run_config(
        "study",
        ["study=bench_metrics", "study.models=1", "study.reps=1", "study.metrics=[params]",
         "study.batch_size=2", "study.num_inits=1", f"study.csv_out={out}", "logger=none"],
    )  # fmt: skip
    figures = run_task(cfg, "study", study_task)
    rows = {r["what"]: float(r["ms"]) for r in csv.DictReader(out.open())}
    assert {"params", "(build model)", "(all metrics in one call)"} <= set(rows)
    assert all(ms >= 0 for ms in rows.values()) and figures["ms/params"] == rows["params"]
    printed = capsys.readouterr().out
    assert "| params |" in printed and "× plain forward |" in printed


def test_bench_train_rejects_an_unknown_precision(run_config) -> None:
    cfg = run_config("study", ["study=bench_train", "study.precision=fp8", "logger=none"])
    with pytest.raises(EsnasInputError, match="valid: auto, 32, bf16"):
        run_task(cfg, "study", study_task)
