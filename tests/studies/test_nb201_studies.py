"""The NB201 probe tables (probe study, decoupling, Entropic Score sensitivity) run small."""

from __future__ import annotations

import json
from pathlib import Path

from esnas.cli.study import study_task
from esnas.studies.decoupling import METRICS as DECOUPLING_METRICS
from esnas.studies.es_sensitivity import FACTORS
from esnas.utils.task import run_task


def _table_rows(text: str) -> list[list[str]]:
    """The body rows of the markdown table in ``text``, as cells."""
    rows = [line.strip("|").split(" | ") for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:]]  # rows[0] is the header


def _run(run_config, overrides: list[str]) -> dict:
    cfg = run_config("study", [*overrides, "cache.path=null", "logger=none"])
    figures = run_task(cfg, "study", study_task)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["status"] == "completed"
    return figures


def test_nb201_probe_study_runs_small_and_names_its_command(run_config, tmp_path: Path) -> None:
    out = tmp_path / "probe.md"
    figures = _run(
        run_config,
        [
            "study=nb201_probe_study",
            "study.cells=4",
            "study.metrics=[params,flops]",
            f"study.out={out}",
        ],
    )
    assert set(figures) == {f"spearman/{m}/{p}" for m in ("params", "flops")
                            for p in ("default", "batch16", "fast")}  # fmt: skip
    text = out.read_text()
    assert "Command: `esnas-study study=nb201_probe_study" in text
    rows = _table_rows(text)
    assert [r[:2] for r in rows[:3]] == [
        ["params", "default (64 x 3)"],
        ["params", "batch 16 x 3"],
        ["params", "fast (16 x 1)"],
    ]
    assert len(rows) == 6
    assert all(r[4] == "1.000" for r in rows)  # a probe-free metric ranks alike under any probe


def test_decoupling_runs_small_with_the_fast_probe_by_default(run_config, tmp_path: Path) -> None:
    out = tmp_path / "decoupling"
    figures = _run(
        run_config,
        [
            "study=decoupling",
            "study.nb201_cells=3",
            "study.sss_archs=3",
            "study.probe={batch_size:2}",
            f"study.out={out}",
        ],
    )
    assert set(figures) == {
        "nb201_spearman/entropic",
        "sss_params_spearman/entropic",
        "nb201_spearman/logsynflow",
        "sss_params_spearman/logsynflow",
    }
    text = out.with_suffix(".md").read_text()
    assert "Command: `esnas-study study=decoupling" in text
    # the override merges into the default (fast) probe: num_inits stays 1
    assert "'batch_size': 2, 'num_inits': 1" in text
    rows = _table_rows(text)
    assert [r[0] for r in rows] == list(DECOUPLING_METRICS)
    assert {r[2] for r in rows if r[0].startswith("entropic")} == {"3"}  # NB201 cells
    assert figures["sss_params_spearman/logsynflow"] == 1.0  # LogSynflow follows size
    assert out.with_suffix(".png").stat().st_size > 0


def test_es_sensitivity_runs_small_and_a_seed_free_metric_agrees(run_config, tmp_path) -> None:
    out = tmp_path / "es_sensitivity"
    figures = _run(
        run_config,
        [
            "study=es_sensitivity",
            "study.cells=4",
            "study.seeds=2",
            "study.metric=params",
            f"study.out={out}",
        ],
    )
    levels = sum(len(v) for v in FACTORS.values())
    assert len(figures) == levels + 1 and "spearman/default" in figures
    text = out.with_suffix(".md").read_text()
    assert "Command: `esnas-study study=es_sensitivity" in text
    assert "probe seeds 0..1" in text and "metric `params`" in text
    rows = _table_rows(text)
    assert len(rows) == levels + 1 and rows[-1][0] == "reference"
    assert all(r[3] == "1.000" for r in rows[:-1])  # #params ignores the probe seed
    assert out.with_suffix(".png").stat().st_size > 0
