"""``esnas-eval``: the entry point over :func:`evaluate`."""

from __future__ import annotations

from esnas.cli.app import hydra_entry
from esnas.utils.task import RunContext


def evaluate(ctx: RunContext) -> dict:
    """Evaluates a checkpoint or exported weights: top-1/5, img/s, params, MACs."""
    from esnas.train.evaluate import eval_task  # heavy: after the arg check

    return eval_task(ctx)


main = hydra_entry("eval", "eval", evaluate)

if __name__ == "__main__":
    main()
