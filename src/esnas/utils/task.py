"""The task wrapper every entry point runs in: seed, W&B run, summary.json, always closed.

A task is a function ``fn(ctx) -> figures`` (a dict of JSON-friendly final numbers). The
wrapper gives it a :class:`RunContext`, and whatever happens writes ``summary.json`` and
finishes the logger, so a failed or interrupted multirun job never leaves its W&B run open
for the next job to append to.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from esnas.components import build
from esnas.utils.atomic import write_json_atomic
from esnas.utils.commands import command_key, rerun_command
from esnas.utils.config import config_hash
from esnas.utils.console import get_logger
from esnas.utils.errors import EsnasInputError
from esnas.utils.loggers import NullRunLogger, RunLogger
from esnas.utils.seeding import seed_everything
from esnas.utils.threads import apply_torch_threads

log = get_logger(__name__)

SUMMARY_FILE = "summary.json"


@dataclass
class RunContext:
    """What a task needs from its run: the config, its folder and its logger. A task that
    finished but short of its goal (e.g. a search stopped by its time limit) sets ``status``."""

    cfg: DictConfig
    output_dir: Path
    logger: RunLogger
    job_type: str
    status: str = "completed"


def output_dir_of(cfg: DictConfig) -> Path:
    """The run's folder: Hydra's ``runtime.output_dir``, else ``paths.output_dir``."""
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(cfg.paths.output_dir)


def git_info(start: Path | None = None) -> dict[str, Any]:
    """The commit (and whether the tree is dirty) of the checkout esnas runs from."""
    where = start or Path(__file__).resolve().parent
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=where, capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()

        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def short_commit() -> str:
    """The checkout's commit as a 7-character hash, for results files (``unknown`` outside git)."""
    return str(git_info()["commit"])[:7]


def is_rank_zero() -> bool:
    """False in the non-zero ranks of a DDP job (Lightning or torchrun set ``RANK`` /
    ``LOCAL_RANK``): only rank 0 opens the run logger and writes summary.json."""
    return all(os.environ.get(key, "0") == "0" for key in ("RANK", "LOCAL_RANK"))


def _overrides() -> list[str]:
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def config_int(cfg: DictConfig, key: str) -> int:
    """``cfg.<key>`` as an int, or a one-line ``ValueError`` naming the key (``seed=abc``)."""
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise EsnasInputError(f"{key} must be an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise EsnasInputError(f"{key} must be an integer, got {value!r}") from None


def completed_figures(out: Path, cfg: DictConfig) -> dict[str, Any] | None:
    """The figures of an earlier completed run of the same config in ``out``, else ``None``."""
    try:
        summary = json.loads((out / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None
    if summary.get("status") != "completed" or summary.get("config_hash") != config_hash(cfg):
        return None
    return dict(summary.get("figures") or {})


def completed_row(cfg: DictConfig, job_type: str) -> dict[str, Any] | None:
    """The numeric figures of this job's row in ``cfg.completed_rows`` (an ``esnas-report
    --rows`` CSV), if that file holds a row with the same command; else ``None``.

    Why: a committed benchmark outlives its run folders, so a rerun on a fresh clone must
    still train only the rows it lacks.
    """
    path = cfg.get("completed_rows")
    if not path or not Path(path).exists():
        return None
    import csv

    key = command_key(rerun_command(job_type, _overrides()))
    with Path(path).open(newline="") as f:
        for row in csv.DictReader(f):
            if command_key(row.get("command") or "") == key:
                return {k: _number(v) for k, v in row.items() if k != "command"}
    return None


def _number(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def run_task(
    cfg: DictConfig, job_type: str, fn: Callable[[RunContext], Mapping[str, Any] | None]
) -> dict[str, Any]:
    """Runs ``fn`` inside a seeded, logged run and returns its figures.

    Writes ``summary.json`` (status, figures, config hash, git commit, wall time) into the
    output folder whether ``fn`` returns or raises; the exception is re-raised.
    """
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    out = output_dir_of(cfg)
    out.mkdir(parents=True, exist_ok=True)
    done = completed_figures(out, cfg) if cfg.get("skip_completed") else None
    if done is not None:  # a rerun of a sweep trains only what is missing
        log.info("%s already completed with this config; skipping (skip_completed=true)", out)
        return done
    done = completed_row(cfg, job_type)
    if done is not None:
        log.info("%s is a row of %s; skipping (completed_rows)", out.name, cfg.completed_rows)
        return done
    summary: dict[str, Any] = {
        "task": cfg.get("task_name", job_type),
        "job_type": job_type,
        "status": "running",
        "figures": {},
        "seed": cfg.get("seed"),
        "config_hash": config_hash(cfg),
        "git": git_info(),
        "overrides": _overrides(),
        "started_at": started.isoformat(timespec="seconds"),
        "output_dir": str(out),
    }
    exit_code, logger = 1, None
    try:
        # Checked inside the try: a bad value still leaves a summary.json saying why.
        summary["seed"] = seed_everything(config_int(cfg, "seed"))
        summary["torch_threads"] = apply_torch_threads(cfg.get("torch_threads", "auto"))
        resolved = OmegaConf.to_container(cfg, resolve=True)
        run = {"output_dir": str(out), "job_type": job_type, "run_config": resolved}
        logger = build("logger", cfg.logger, **run) if is_rank_zero() else NullRunLogger(**run)
        ctx = RunContext(cfg=cfg, output_dir=out, logger=logger, job_type=job_type)
        figures = dict(fn(ctx) or {})
        summary.update(status=ctx.status, figures=figures)
        logger.log_summary(figures)
        exit_code = 0
        return figures
    except BaseException as err:  # KeyboardInterrupt too: the summary must say what happened
        summary.update(
            status="failed",
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(limit=20),
        )
        raise
    finally:
        summary["wall_time_s"] = round(time.perf_counter() - t0, 3)
        if is_rank_zero():
            write_json_atomic(out / SUMMARY_FILE, summary)
        try:
            if logger is not None:
                logger.close(exit_code=exit_code)
        except Exception:  # a logger failing to close must not hide the task's own error
            log.exception("closing the %s logger failed", type(logger).__name__)
