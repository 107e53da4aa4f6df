"""``esnas-train``: the entry point over :func:`train`."""

from __future__ import annotations

from esnas.cli.app import hydra_entry
from esnas.utils.task import RunContext


def train(ctx: RunContext) -> dict:
    """Trains a timm model or a searched ESFormer genome with Lightning (issue #6)."""
    from esnas.train.run import train_task  # heavy: after the arg check

    return train_task(ctx)


main = hydra_entry("train", "train", train)

if __name__ == "__main__":
    main()
