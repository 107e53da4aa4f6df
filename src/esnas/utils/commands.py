"""A job's rerun command line, and its identity whatever the order of its overrides."""

from __future__ import annotations

import shlex
from collections.abc import Sequence


def rerun_command(job_type: str, overrides: Sequence[str]) -> str:
    """The command line that reruns a job: ``esnas-<job_type>`` and its Hydra overrides."""
    return shlex.join([f"esnas-{job_type}", *overrides])


def command_key(command: str) -> tuple[str, ...]:
    """A rerun command's identity: its program and its overrides in any order."""
    words = shlex.split(command)
    return (words[0], *sorted(words[1:])) if words else ()
