"""The task wrapper: seeding, summary.json, and a logger closed whatever happens."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

import esnas.utils.task as task_module
from esnas.utils.config import config_hash
from esnas.utils.loggers import RunLogger
from esnas.utils.task import RunContext, run_task


class RecordingLogger(RunLogger):
    """Remembers what it was asked to do."""

    instances: ClassVar[list[RecordingLogger]] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kwargs = kwargs
        self.logged: list[dict] = []
        self.closed_with: int | None = None
        RecordingLogger.instances.append(self)

    def log(self, metrics, step=None) -> None:
        self.logged.append(dict(metrics))

    def close(self, exit_code: int = 0) -> None:
        self.closed_with = exit_code


@pytest.fixture
def recording_logger(monkeypatch: pytest.MonkeyPatch) -> type[RecordingLogger]:
    RecordingLogger.instances.clear()
    monkeypatch.setattr(task_module, "build", lambda kind, node, **run: RecordingLogger(**run))
    return RecordingLogger


def test_summary_records_figures_hash_commit_and_time(run_config, recording_logger) -> None:
    cfg = run_config("score", ["seed=7", "logger=csv"])

    def job(ctx: RunContext) -> dict:
        ctx.logger.log({"x": 1.0})
        return {"answer": 42, "draw": torch.rand(1).item()}

    figures = run_task(cfg, "score", job)
    out = Path(cfg.paths.output_dir)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["figures"] == figures and figures["answer"] == 42
    assert re.fullmatch(r"[0-9a-f]{16}", summary["config_hash"])
    assert summary["config_hash"] == config_hash(cfg)
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", summary["git"]["commit"])
    assert summary["wall_time_s"] >= 0 and summary["seed"] == 7
    (logger,) = recording_logger.instances
    assert logger.closed_with == 0 and logger.logged == [{"x": 1.0}]
    assert logger.kwargs["job_type"] == "score"
    assert logger.kwargs["run_config"]["seed"] == 7  # W&B gets the resolved config
    assert not list(out.glob(".*.tmp")), "atomic write left its temporary file"


def test_same_seed_gives_same_draws(run_config, recording_logger) -> None:
    draws = [
        run_task(run_config("score", ["seed=3"]), "score", lambda ctx: {"d": torch.rand(1).item()})
        for _ in range(2)
    ]
    assert draws[0] == draws[1]


def test_failure_still_writes_summary_and_closes_logger(run_config, recording_logger) -> None:
    cfg = run_config("score", [])

    def job(ctx: RunContext) -> dict:
        raise RuntimeError("the metric exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        run_task(cfg, "score", job)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert "RuntimeError: the metric exploded" in summary["error"]
    assert recording_logger.instances[0].closed_with == 1


def test_csv_logger_writes_into_the_run_folder(run_config) -> None:
    cfg = run_config("score", ["logger=csv"])

    def job(ctx: RunContext) -> dict:
        ctx.logger.log({"best": 0.5}, step=3)
        ctx.logger.log_table("history", ["arch", "fitness"], [["a", 1.0], ["b", 2.0]])
        return {}

    run_task(cfg, "score", job)
    out = Path(cfg.paths.output_dir)
    assert (out / "metrics.csv").read_text().splitlines()[1] == "3,best,0.5"
    assert (out / "tables" / "history.csv").read_text().splitlines() == [
        "arch,fitness",
        "a,1.0",
        "b,2.0",
    ]


def test_config_hash_ignores_run_specific_keys(run_config) -> None:
    base = config_hash(run_config("score", ["seed=1"]))
    assert config_hash(run_config("score", ["seed=1", "logger=csv", "tags=[x]"])) == base
    assert config_hash(run_config("score", ["seed=2"])) != base


def test_only_rank_zero_logs_and_writes_the_summary(run_config, recording_logger, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")  # what Lightning sets in the second DDP process
    cfg = run_config("score", [])
    assert run_task(cfg, "score", lambda ctx: {"rank": 1}) == {"rank": 1}
    assert recording_logger.instances == []  # rank 1 never opens a W&B run
    assert not (Path(cfg.paths.output_dir) / "summary.json").exists()


def test_short_commit_is_the_checkouts_hash_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Results files cite this: 7 hex digits of HEAD, or ``unknown`` outside a checkout."""
    full = task_module.git_info()["commit"]
    assert task_module.short_commit() == full[:7]
    monkeypatch.setattr(task_module, "git_info", lambda: {"commit": "unknown", "dirty": None})
    assert task_module.short_commit() == "unknown"


def test_a_job_that_is_a_row_of_completed_rows_is_not_rerun(
    run_config, recording_logger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rows = tmp_path / "bench.csv"
    rows.write_text('bench.index,test/acc1,command\n3,0.81,"esnas-train seed=1 bench.index=3"\n')
    cfg = run_config("score", [f"+completed_rows={rows}"])
    ran: list[int] = []
    monkeypatch.setattr(task_module, "_overrides", lambda: ["bench.index=3", "seed=1"])
    figures = run_task(cfg, "train", lambda ctx: ran.append(1) or {"test/acc1": 0.5})
    assert ran == [] and figures["test/acc1"] == 0.81  # the stored row, in any override order
    monkeypatch.setattr(task_module, "_overrides", lambda: ["bench.index=4", "seed=1"])
    assert run_task(cfg, "train", lambda ctx: ran.append(1) or {"test/acc1": 0.5}) == {
        "test/acc1": 0.5
    }
    assert ran == [1]
