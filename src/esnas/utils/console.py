"""Logging and progress that look good in a terminal and stay quiet in logs and CI.

Rich renders when stderr is a TTY; otherwise progress bars are disabled and messages go
through the standard ``logging`` module (which Hydra routes into the run's log file).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

console = Console(stderr=True)


def is_interactive() -> bool:
    """True when progress bars are worth drawing: stderr is a terminal."""
    return sys.stderr.isatty()


def get_logger(name: str) -> logging.Logger:
    """A standard logger; Hydra configures its handlers (console + ``<task>.log``)."""
    return logging.getLogger(name)


@contextmanager
def progress_bar(description: str = "", disable: bool | None = None) -> Iterator[Progress]:
    """A rich progress bar with counts, elapsed and remaining time; off when not a TTY.

    Use ``task = bar.add_task(desc, total=n)`` then ``bar.update(task, advance=1,
    description=...)`` so long loops can show their phase and best-so-far in the description.
    """
    disable = not is_interactive() if disable is None else disable
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=disable, transient=False) as bar:
        yield bar


def track(items: Iterable[T], description: str = "", total: int | None = None) -> Iterator[T]:
    """Iterates ``items`` under a progress bar (no bar when not a TTY)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
