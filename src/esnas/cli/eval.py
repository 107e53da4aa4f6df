"""``esnas-eval``: the entry point over :func:`evaluate`."""

from __future__ import annotations

from esnas.cli.app import hydra_entry
from esnas.utils.task import RunContext


def evaluate(ctx: RunContext) -> dict:
    """Not available yet (issue #6); its configs already compose."""
    raise NotImplementedError("esnas-eval has not landed yet (issue #6)")


main = hydra_entry("eval", "eval", evaluate)

if __name__ == "__main__":
    main()
