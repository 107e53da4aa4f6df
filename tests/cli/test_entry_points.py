"""The console scripts run as a user types them: ``--cfg job`` and the bad-choice error."""

from __future__ import annotations

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
