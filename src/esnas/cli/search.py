"""``esnas-search``: the entry point over :func:`search`."""

from __future__ import annotations

from esnas.cli.app import hydra_entry
from esnas.utils.task import RunContext


def search(ctx: RunContext) -> dict:
    """Not available yet (issue #5); its configs already compose."""
    raise NotImplementedError("esnas-search has not landed yet (issue #5)")


main = hydra_entry("search", "search", search)

if __name__ == "__main__":
    main()
