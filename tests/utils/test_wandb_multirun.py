"""A real two-job multirun with W&B offline, in a subprocess, as a user would launch it:
two W&B runs and two summary.json files under the sweep, nothing sent, nothing left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

TOY_APP = REPO_ROOT / "tests" / "apps" / "toy_task.py"


def _leftovers(pid: int) -> list[int]:
    """PIDs still alive that ``pid`` started: its session (``start_new_session``), plus the
    W&B service, which runs in a session of its own but names its parent (``--pid <pid>``)."""
    alive = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        in_session = int(fields[3]) == pid
        is_its_service = b"--pid" in argv and str(pid).encode() in argv
        if fields[0] != "Z" and (in_session or is_its_service):
            alive.append(int(proc.name))
    return alive


def _launch(sweep_dir: Path, *overrides: str) -> tuple[subprocess.CompletedProcess, int]:
    env = dict(os.environ, WANDB_MODE="offline", WANDB_BASE_URL="http://127.0.0.1:9")
    proc = subprocess.Popen(
        [sys.executable, str(TOY_APP), "-m", f"hydra.sweep.dir={sweep_dir}", *overrides],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own session: anything it leaves behind is findable
    )
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), proc.pid


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    sweep_dir = tmp_path_factory.mktemp("sweep")
    result, sid = _launch(sweep_dir, "seed=1,2", "logger=wandb")
    assert result.returncode == 0, result.stderr
    return sweep_dir, sid


def test_each_job_writes_its_summary(sweep: tuple[Path, int]) -> None:
    sweep_dir, _ = sweep
    summaries = [json.loads((sweep_dir / str(i) / "summary.json").read_text()) for i in (0, 1)]
    assert [s["status"] for s in summaries] == ["completed", "completed"]
    assert [s["figures"]["seed_squared"] for s in summaries] == [1, 4]
    assert summaries[0]["config_hash"] != summaries[1]["config_hash"]


def test_each_job_has_its_own_finished_offline_wandb_run(sweep: tuple[Path, int]) -> None:
    sweep_dir, _ = sweep
    runs = [list((sweep_dir / str(i) / "wandb").glob("offline-run-*")) for i in (0, 1)]
    assert [len(r) for r in runs] == [1, 1], runs
    run_ids = {r[0].name.rsplit("-", 1)[1] for r in runs}
    assert len(run_ids) == 2
    for (run_dir,) in runs:
        assert list(run_dir.glob("run-*.wandb")), "no offline run file to `wandb sync`"
        debug_log = (run_dir / "logs" / "debug.log").read_text()
        assert "finishing run" in debug_log and "got exitcode: 0" in debug_log


def test_no_process_outlives_the_sweep(sweep: tuple[Path, int]) -> None:
    _, sid = sweep
    assert _leftovers(sid) == []


def test_failed_job_finishes_its_run_with_an_error_code(tmp_path: Path) -> None:
    result, sid = _launch(tmp_path, "seed=1", "logger=wandb", "+fail=true")
    assert result.returncode != 0
    summary = json.loads((tmp_path / "0" / "summary.json").read_text())
    assert summary["status"] == "failed" and "on purpose" in summary["error"]
    (run_dir,) = (tmp_path / "0" / "wandb").glob("offline-run-*")
    assert "got exitcode: 1" in (run_dir / "logs" / "debug.log").read_text()
    assert _leftovers(sid) == []


def test_a_rerun_into_the_same_folder_continues_its_wandb_run(tmp_path: Path, monkeypatch) -> None:
    from esnas.utils.loggers import WANDB_ID_FILE, WandbRunLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    first = WandbRunLogger(tmp_path / "run", job_type="search")
    first_id = first.run.id
    first.close()
    again = WandbRunLogger(tmp_path / "run", job_type="search")
    assert again.run.id == first_id
    again.close()
    other = WandbRunLogger(tmp_path / "other", job_type="search")
    assert other.run.id != first_id
    other.close()
    assert (tmp_path / "run" / WANDB_ID_FILE).read_text().strip() == first_id
