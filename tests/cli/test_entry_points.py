"""The console scripts run as a user types them: ``--cfg job`` and the bad-choice error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from esnas.utils.config import ConfigChoiceError, check_group_choices
from tests.conftest import PRIMARY_CONFIGS

BIN = Path(sys.executable).parent


def _script(name: str) -> str:
    path = BIN / f"esnas-{name}"
    assert path.exists(), f"console script {path} missing: is esnas installed (make install)?"
    return str(path)


def test_every_entry_point_prints_its_job_config() -> None:
    # Started together: each pays ~3 s of imports, so this costs one start-up, not four.
    procs = {
        name: subprocess.Popen(
            [_script(name), "--cfg", "job"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in PRIMARY_CONFIGS
    }
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert f"task_name: {name}" in out
        assert "seed:" in out


def test_unknown_group_option_fails_in_one_line() -> None:
    result = subprocess.run(
        [_script("score"), "logger=wandbb"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unknown logger 'wandbb'" in lines[0]
    assert "csv, none, wandb" in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "overrides",
    [
        ["logger=typo"],  # plain choice
        ["logger=csv,typo"],  # sweep
        ["launcher=choice(basic,typo)"],  # sweep function
        ["seed=3", "+logger=typo"],  # appended group
    ],
)
def test_check_group_choices_rejects_every_form(overrides: list[str]) -> None:
    with pytest.raises(ConfigChoiceError, match=r"valid (logger|launcher) options: "):
        check_group_choices(overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        ["logger=csv", "seed=1"],
        ["-m", "logger=csv,none"],
        ["~logger"],  # deletion is Hydra's business
        ["hydra/launcher=joblib"],  # plugin groups are Hydra's business
        ["logger.offline=false", "paths.log_dir=/tmp/x"],  # values, not group choices
    ],
)
def test_check_group_choices_accepts_valid_overrides(overrides: list[str]) -> None:
    check_group_choices(overrides)


def test_bad_overrides_and_values_fail_in_one_line_with_status_2(tmp_path: Path) -> None:
    """Malformed syntax, a bad type and a constructor that rejects its config: one line, rc 2,
    and (once the run started) a summary.json that says why."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "WANDB_MODE": "disabled"}
    cases = {
        "syntax": ([_script("score"), "sample.archs=[|foo~0|]"], "malformed override"),
        "type": ([_script("search"), "seed=abc", "logger=none"], "seed must be an integer"),
        "instantiate": ([_script("search"), "+space.bogus=1", "logger=none"], "bogus"),
    }
    procs = {
        name: subprocess.Popen(
            [*argv, f"hydra.run.dir={tmp_path / name}"] if name != "syntax" else argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name, (argv, _) in cases.items()
    }
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        lines = err.strip().splitlines()
        assert proc.returncode == 2, (name, err)
        assert len(lines) == 1 and cases[name][1] in lines[0], (name, err)
    for name in ("type", "instantiate"):
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        assert summary["status"] == "failed" and cases[name][1] in summary["error"]


def test_a_plain_multirun_lands_in_the_default_sweep_folder(tmp_path: Path) -> None:
    """`esnas-score -m seed=0,1` with no hydra.sweep.dir: the sweep folder resolves before
    Hydra's runtime is set, so nothing in it may need ``${hydra:...}``."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "WANDB_MODE": "disabled"}
    env.pop("ESNAS_ROOT", None)
    argv = [_script("score"), "-m", "metrics=[params]", "sample.n=1", "seed=0,1", "logger=none",
            "cache.path=null"]  # fmt: skip
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summaries = sorted((tmp_path / "logs" / "score" / "multiruns").glob("*/*/summary.json"))
    assert len(summaries) == 2
    assert all(json.loads(p.read_text())["status"] == "completed" for p in summaries)
