"""The README's "Adding a metric" and "Adding a space or a strategy" examples run as written
(in a fresh interpreter, so their registrations do not leak into the other tests) and do what
they say."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def readme_example(heading: str = "**Adding a metric**") -> str:
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README lost its 'Adding a metric' example"
    return match.group(1)


def test_the_readme_metric_example_registers_and_scores() -> None:
    code = readme_example()
    assert len(code.strip().splitlines()) <= 12  # a ten-line example, not a module
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    scores = eval(out.stdout.strip(), {})  # the printed {label: score} dict
    assert set(scores) == {"output_std"} and scores["output_std"] > 0


def test_the_readme_space_and_strategy_example_searches_with_both(tmp_path: Path) -> None:
    code = readme_example("**Adding a space or a strategy**")
    env = {**os.environ, "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "1"}
    env.pop("ESNAS_ROOT", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (best,) = (tmp_path / "logs" / "search" / "runs").glob("*/best.json")
    answer = json.loads(best.read_text())
    assert answer["space"]["name"] == "nb201_small" and answer["strategy"] == "hill_climb"
    assert answer["params"] <= 5e5, answer
    with (best.parent / "history.csv").open() as f:
        history = list(csv.DictReader(f))
    assert len(history) == 5 and [r["op"] for r in history].count("mutation") == 4
    assert all(float(r["params"]) <= 5e5 for r in history)  # the space's own budget
