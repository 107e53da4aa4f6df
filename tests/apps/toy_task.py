"""A toy task on the real ``score`` config: exercises the task wrapper, W&B and multirun
without needing any metric or space. ``fail=true`` makes it raise a bug, ``fail=value`` a bug
that is a plain ``ValueError``, ``fail=input`` an input error."""

from __future__ import annotations

from esnas.cli.app import hydra_entry
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import RunContext


def toy(ctx: RunContext) -> dict:
    """Logs one scalar and returns figures that depend on the seed."""
    ctx.logger.log({"toy/seed": ctx.cfg.seed}, step=0)
    fail = ctx.cfg.get("fail")
    if fail == "value":
        raise ValueError("a bug deep inside, not the user's input")
    if fail == "input":
        raise EsnasInputError("toy.value=3 is invalid; valid: 1 or 2")
    if fail:
        raise RuntimeError("toy task failed on purpose")
    return {"seed_squared": ctx.cfg.seed**2}


main = hydra_entry("score", "toy", toy)

if __name__ == "__main__":
    main()
