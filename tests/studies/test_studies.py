"""``esnas-study``: every registered study composes from its signature, and runs small."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from esnas.cli.study import study_task
from esnas.studies import STUDIES
from esnas.utils.schema import signature_options
from esnas.utils.task import run_task


@pytest.mark.parametrize("name", STUDIES.names())
def test_every_study_composes_with_its_signature_as_options(run_config, name: str) -> None:
    cfg = run_config("study", [f"study={name}"])
    options = OmegaConf.to_container(cfg.study, resolve=True)
    assert options.pop("name") == name
    defaults = signature_options(STUDIES.get(name).fn, 1)
    assert options == {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()}


def test_a_study_option_that_does_not_exist_fails_at_compose(run_config) -> None:
    with pytest.raises(Exception, match="bogus"):
        run_config("study", ["study=nb201_correlation", "study.bogus=1"])


def test_nb201_correlation_runs_small_and_names_its_command(run_config, tmp_path: Path) -> None:
    out = tmp_path / "table"
    cfg = run_config(
        "study",
        [
            "study=nb201_correlation",
            "study.cells=6",
            "study.peer_cells=0",
            "study.ablation_cells=3",
            "study.datasets=[cifar10]",
            "study.probe={batch_size:2,num_inits:1}",
            f"study.out={out}",
            "cache.path=null",
            "logger=none",
        ],
    )
    figures = run_task(cfg, "study", study_task)
    assert set(figures) == {"spearman/cifar10/entropic", "spearman/cifar10/logsynflow"}
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert {r["metric"] for r in rows} >= {"entropic", "logsynflow", "entropic/shannon"}
    assert all(int(r["n"]) in (3, 6) for r in rows)
    text = out.with_suffix(".md").read_text()
    assert "Command: `esnas-study" in text and '"batch_size": 2' in text
    assert out.with_suffix(".png").stat().st_size > 0
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["status"] == "completed"


def test_score_cells_logs_each_metric_and_reads_the_cache_on_a_rerun(caplog) -> None:
    from esnas.scoring import ScoreCache
    from esnas.spaces import NB201Space
    from esnas.studies.common import probe_config, score_cells

    space, cache = NB201Space("cifar10"), ScoreCache(None)
    probe = probe_config({"batch_size": 2, "num_inits": 1})
    metrics = {"params": {}}
    with caplog.at_level("INFO", logger="esnas.studies.common"):
        first = score_cells(space, [0, 7], metrics, cache, probe_cfg=probe)
        again = score_cells(space, [0, 7], metrics, cache, probe_cfg=probe)
    assert first == again and set(first["params"]) == {0, 7}
    lines = [r.getMessage() for r in caplog.records]
    assert "cifar10 params: 2 cells (0 from the cache)" in lines[0]
    assert "cifar10 params: 2 cells (2 from the cache)" in lines[1]
