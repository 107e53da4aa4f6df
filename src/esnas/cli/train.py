"""``esnas-train``: the entry point over :func:`train`."""

from __future__ import annotations

from esnas.cli.app import hydra_entry
from esnas.utils.task import RunContext


def train(ctx: RunContext) -> dict:
    """Not available yet (issue #6); its configs already compose."""
    raise NotImplementedError("esnas-train has not landed yet (issue #6)")


main = hydra_entry("train", "train", train)

if __name__ == "__main__":
    main()
