"""The search recipe end to end: output files, logger calls, checkpoints and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from esnas.search.checkpoint import CHECKPOINT_FILE, CorruptCheckpointError
from esnas.utils.task import run_task
from tests.conftest import REPO_ROOT
from tests.search.fakes import fake_search
from tests.search.helpers import SHORT_CYCLIC, TINY_ESFORMER, history_of, make_recipe


def test_csv_logger_run_writes_every_output(run_config) -> None:
    cfg = run_config(
        "search", ["logger=csv", *SHORT_CYCLIC, *TINY_ESFORMER, "budget.evaluations=60"]
    )
    figures = run_task(cfg, "search", fake_search)
    out = Path(cfg.paths.output_dir)
    best = json.loads((out / "best.json").read_text())
    assert best["arch"] == figures["best_arch"]
    assert {"arch", "params", "macs", "scores"} <= set(best)
    assert set(best["scores"]) == {"entropic", "logsynflow", "az_progressivity", "meco"}
    arch = yaml.safe_load((out / "best_arch.yaml").read_text())
    assert arch["space"] == "esformer" and arch["arch"] == best["arch"]
    assert arch["genome"]["stages"] and arch["space_config"]["max_macs"] == 6e7
    assert arch["search"]["run_dir"] == str(out) and "group" in arch["search"]
    assert len((out / "history.csv").read_text().splitlines()) == 61
    for png in ("pareto.png", "trajectory.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert (out / "tables" / "history.csv").exists()
    keys = {line.split(",")[1] for line in (out / "metrics.csv").read_text().splitlines()[1:]}
    assert {
        "init/best_fitness",
        "topology/mean_fitness",
        "size/best_fitness",
        "phase/code",
        "evaluations",
    } <= keys
    artifacts = json.loads((out / "artifacts.json").read_text())
    assert {a["name"] for a in artifacts} == {"pareto", "trajectory", "best-arch-esformer"}
    assert set(figures) >= {
        "best_arch",
        "best_fitness",
        "evaluations",
        "wall_time_s",
        "search_seconds_uncached",
    }
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"


def test_resume_extends_a_finished_search_identically(run_config, tmp_path) -> None:
    args = ["strategy=freerea", "strategy.population=10", "strategy.tournament=4", "seed=2"]
    whole = make_recipe(run_config("search", [*args, "budget.evaluations=50"]), tmp_path / "a")
    assert whole.run()["resumed"] is False
    # 22 = 10 random + 4 generations of 3: a budget that ends on a generation boundary (a
    # budget cutting a generation short settles a smaller generation, so differs after it).
    part = make_recipe(run_config("search", [*args, "budget.evaluations=22"]), tmp_path / "b")
    part.run()
    resumed = make_recipe(run_config("search", [*args, "budget.evaluations=50"]), tmp_path / "b")
    assert resumed.resumed and resumed.engine.evaluations == 22
    assert resumed.run()["resumed"] is True  # the summary says so (esnas-report counts it)
    assert history_of(resumed) == history_of(whole)
    fresh = make_recipe(
        run_config("search", [*args, "budget.evaluations=50", "resume=false"]), tmp_path / "b"
    )
    assert not fresh.resumed and fresh.engine.evaluations == 0


@pytest.mark.parametrize("content", ["{not json", '{"format_version": 1}', ""])
def test_corrupt_checkpoint_is_an_error_naming_the_file(run_config, tmp_path, content) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / CHECKPOINT_FILE).write_text(content)
    with pytest.raises(CorruptCheckpointError, match=str(out / CHECKPOINT_FILE)):
        make_recipe(run_config("search", []), out)


def test_checkpoint_of_another_search_is_refused(run_config, tmp_path) -> None:
    make_recipe(run_config("search", ["budget.evaluations=10", "strategy=random"]), tmp_path).run()
    with pytest.raises(CorruptCheckpointError, match="belongs to another search"):
        make_recipe(run_config("search", ["strategy=rea"]), tmp_path)


def _command(run_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.search.fakes",
        "logger=csv",
        f"hydra.run.dir={run_dir}",
        "budget.evaluations=150",
        "seed=4",
        *SHORT_CYCLIC,
        *TINY_ESFORMER,
        *extra,
    ]


def test_sigkill_then_resume_matches_an_uninterrupted_run(run_config, tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HYDRA_FULL_ERROR": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _command(killed, "+sleep=0.02"),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    state, deadline = killed / CHECKPOINT_FILE, time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists():
            done = len(json.loads(state.read_text())["engine"]["history"])
            if done >= 50:
                break
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before the kill: {proc.stderr.read().decode()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 50 <= done < 150 and not (killed / "best.json").exists()

    resumed = subprocess.run(  # the same command: a resume refuses another config
        _command(killed, "+sleep=0.02"),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming cyclic" in resumed.stderr + resumed.stdout

    cfg = run_config(
        "search", ["logger=csv", "budget.evaluations=150", "seed=4", *SHORT_CYCLIC, *TINY_ESFORMER]
    )
    run_task(cfg, "search", fake_search)
    reference = Path(cfg.paths.output_dir)
    assert (killed / "history.csv").read_text() == (reference / "history.csv").read_text()
    got, want = (json.loads((d / "best.json").read_text()) for d in (killed, reference))
    assert got["arch"] == want["arch"] and got["scores"] == want["scores"]


def test_nb201_search_reports_the_answers_ground_truth(run_config) -> None:
    from esnas.spaces import NB201GroundTruth

    cfg = run_config(
        "search", ["logger=none", "space=nb201", *SHORT_CYCLIC, "budget.evaluations=30"]
    )
    figures = run_task(cfg, "search", fake_search)
    truth = NB201GroundTruth.load()
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        want = truth.test_accuracy(figures["best_arch"], dataset)
        assert figures[f"best_test_acc/{dataset}"] == want


def test_a_search_stopped_by_its_time_limit_says_so(run_config) -> None:
    over = ["logger=none", *SHORT_CYCLIC, *TINY_ESFORMER, "budget.evaluations=60"]
    cfg = run_config("search", [*over, "budget.seconds=0.3", "+sleep=0.02"])
    with pytest.warns(RuntimeWarning, match="stopped at its time limit"):
        figures = run_task(cfg, "search", fake_search)
    out = Path(cfg.paths.output_dir)
    summary = json.loads((out / "summary.json").read_text())
    best = json.loads((out / "best.json").read_text())
    assert summary["status"] == "time_limit"
    assert figures["stopped_by"] == "seconds" and figures["budget_evaluations"] == 60
    assert 0 < figures["evaluations"] < 60
    assert best["stopped_by"] == "seconds" and best["budget_evaluations"] == 60


def test_a_search_that_spends_its_evaluations_is_completed(run_config) -> None:
    over = ["logger=none", *SHORT_CYCLIC, *TINY_ESFORMER, "budget.evaluations=30"]
    figures = run_task(run_config("search", [*over, "budget.seconds=600"]), "search", fake_search)
    assert figures["stopped_by"] == "evaluations" and figures["evaluations"] == 30


def test_resume_with_another_setting_names_the_differing_keys(run_config, tmp_path) -> None:
    base = ["strategy=random", "budget.evaluations=10", "logger=none"]
    make_recipe(run_config("search", base), tmp_path).run()
    # The budget, logger and device may change on resume; the probe may not.
    more = [*base[:1], "budget.evaluations=20", "logger=csv", "device=cpu"]
    assert make_recipe(run_config("search", more), tmp_path).resumed
    with pytest.raises(CorruptCheckpointError) as info:
        make_recipe(run_config("search", [*base, "probe.batch_size=8"]), tmp_path)
    message = str(info.value)
    assert "probe.batch_size (64 → 8)" in message and "resume=false" in message
    assert "\\n" not in message and "budget" not in message


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("arch", "|not_an_op~0|", "does not decode"),
        ("scores", {"entropic": float("nan"), "logsynflow": 1.0}, "non-finite"),
        ("phase", "warmup", "unknown phase 'warmup'"),
    ],
)
def test_a_hand_edited_state_is_refused_in_one_line(run_config, tmp_path, field, value, match):
    cfg = run_config("search", ["strategy=random", "budget.evaluations=6", "logger=none"])
    make_recipe(cfg, tmp_path).run()
    path = tmp_path / CHECKPOINT_FILE
    state = json.loads(path.read_text())
    state["engine"]["history"][3][field] = value
    path.write_text(json.dumps(state))
    with pytest.raises(CorruptCheckpointError, match=match) as info:
        make_recipe(cfg, tmp_path)
    assert str(path) in str(info.value) and "\\n" not in str(info.value)
