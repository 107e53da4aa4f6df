"""``esnas-search``: the entry point over :func:`search`."""

from __future__ import annotations

from typing import Any

from esnas.cli.app import hydra_entry
from esnas.utils.task import RunContext


def search(ctx: RunContext) -> dict[str, Any]:
    """Searches ``space`` with ``strategy`` under ``budget``; resumes from the output dir."""
    from esnas.search.recipe import run_search  # why here: `--help` stays fast

    return run_search(ctx)


main = hydra_entry("search", "search", search)

if __name__ == "__main__":
    main()
