"""The studies that run searches: ``nb201_search`` (in process) and ``esformer_family``
(``esnas-search`` subprocesses, reusing finished run folders), run small."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from esnas.cli.study import study_task
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import run_task


def test_nb201_search_runs_small_and_names_its_command(run_config, tmp_path: Path) -> None:
    out, runs = tmp_path / "table", tmp_path / "runs"
    cfg = run_config(
        "study",
        [
            "study=nb201_search",
            "study.seeds=2",
            "study.budgets=[6]",
            'study.strategies=["random:strategy=random_es_ls"]',
            'study.overrides=["metrics=[entropic,logsynflow]","probe.batch_size=2"]',
            f"study.runs_dir={runs}",
            f"study.out={out}",
            "cache.path=null",
            "logger=none",
        ],
    )
    figures = run_task(cfg, "study", study_task)
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert [(r["strategy"], r["budget"], r["seed"]) for r in rows] == [
        ("random", "6", "0"),
        ("random", "6", "1"),
    ]
    assert all(int(r["evaluations"]) == 6 for r in rows)
    assert set(figures) == {"cifar10/random/b6"}
    assert figures["cifar10/random/b6"] == pytest.approx(sum(float(r["cifar10"]) for r in rows) / 2)
    assert sorted(p.name for p in runs.iterdir()) == ["random_b6_s0", "random_b6_s1"]
    text = out.with_suffix(".md").read_text()
    assert "Command: `esnas-study study=nb201_search" in text
    assert "| random | 6 | 2 |" in text and "## What each fitness would pick" in text


def _finished_run(runs: Path, budget: str, arch: str) -> None:
    """A finished ``esformer_<budget>_s0`` run folder, as ``esnas-search`` leaves it."""
    run = runs / f"esformer_{budget}_s0"
    run.mkdir(parents=True)
    summary = {"status": "completed", "git": {"commit": "abcdef0123456789"}}
    (run / "summary.json").write_text(json.dumps(summary))
    best = {
        "arch": arch,
        "params": 1.5e6,
        "macs": 2.5e8,
        "scores": {"entropic": 15.25, "logsynflow": 5000.0},
        "search_seconds_uncached": 120.0,
    }
    (run / "best.json").write_text(json.dumps(best))


def test_esformer_family_reuses_a_finished_search(run_config, tmp_path: Path) -> None:
    from esnas.models.esformer import SEARCHED

    runs, out = tmp_path / "runs", tmp_path / "family"
    arch = SEARCHED["esformer_xxs"]
    _finished_run(runs, "xxs", arch)
    cfg = run_config(
        "study",
        [
            "study=esformer_family",
            "study.budgets=[xxs]",
            f"study.runs_dir={runs}",
            f"study.out={out}",
            "logger=none",
        ],
    )
    figures = run_task(cfg, "study", study_task)
    assert figures == {"params_m/xxs": 1.5, "macs_g/xxs": 0.25}
    text = out.with_suffix(".md").read_text()
    assert "Command: `esnas-study study=esformer_family" in text
    assert "the searches ran at commit abcdef0" in text
    assert f"| xxs | searched (seed 0) | `{arch}` |" in text
    assert "| 1.50 | 0.250 | 15.250 | 5000 | 2.0 |" in text
    for name in ("esformer_xxs", "esformer_xxs_hand", "mobilevit_xxs", "edgenext_xx_small"):
        assert f"| xxs | {name} | | |" in text


def test_esformer_family_rejects_an_unknown_budget(run_config, tmp_path: Path) -> None:
    cfg = run_config("study", ["study=esformer_family", "study.budgets=[xl]", "logger=none"])
    with pytest.raises(EsnasInputError, match="xxs, xs, s"):
        run_task(cfg, "study", study_task)
