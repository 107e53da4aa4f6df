"""The README's "Adding a metric" example runs as written (in a fresh interpreter, so its
registration does not leak into the other tests) and scores what it says."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO_ROOT


def readme_example() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("**Adding a metric**") :]
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
