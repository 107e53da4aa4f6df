"""``esnas-score``: the entry point over :func:`score`."""

from __future__ import annotations

from esnas.cli.app import hydra_entry
from esnas.utils.task import RunContext


def score(ctx: RunContext) -> dict:
    """Not available yet (issue #3); its configs already compose."""
    raise NotImplementedError("esnas-score has not landed yet (issue #3)")


main = hydra_entry("score", "score", score)

if __name__ == "__main__":
    main()
