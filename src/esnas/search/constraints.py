"""What every genome in a search history satisfies: the space's budget plus custom checks.

The budget (``max_macs`` / ``max_params``) has one home, the space (``space.max_macs=...``),
whose :meth:`~esnas.spaces.base.SearchSpace.sample` already draws within it. Checks the space
cannot know, such as a latency predictor, plug in here as callables without touching any space.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from esnas.spaces.base import Cost, SearchSpace
from esnas.utils.errors import EsnasInputError

Check = Callable[[Hashable, Cost], bool]


class InfeasibleError(EsnasInputError):
    """No genome passing the checks was found in a bounded number of samples."""


class Constraints:
    """The space's budget plus extra ``checks``.

    Args:
        space: the search space (its budget is honoured through ``within_budget`` on the cost
            the engine computed anyway, and ``sample``).
        checks: extra hooks ``check(genome, cost) -> bool`` (e.g. a latency predictor).
        max_tries: samples :meth:`sample` draws before giving up on the checks.
    """

    def __init__(
        self, space: SearchSpace, checks: Sequence[Check] = (), max_tries: int = 2000
    ) -> None:
        self.space = space
        self.checks = list(checks)
        self.max_tries = int(max_tries)

    def describe(self) -> dict[str, Any]:
        """Plain-dict limits for logs and result files."""
        return {
            "max_macs": self.space.max_macs,
            "max_params": self.space.max_params,
            "checks": len(self.checks),
        }

    def ok(self, genome: Hashable, cost: Cost | None = None) -> bool:
        """Whether ``genome`` meets the budget and every check."""
        cost = cost or self.space.cost(genome)
        if not self.space.within_budget(cost):
            return False
        return all(check(genome, cost) for check in self.checks)

    def sample(self, rng: random.Random) -> Hashable:
        """A random genome within the budget (the space's own sampling) that passes the checks,
        by bounded rejection; otherwise a clear error. The space's budget error propagates."""
        for _ in range(self.max_tries):
            genome = self.space.sample(rng)
            if not self.checks or self.ok(genome):
                return genome
        raise InfeasibleError(
            f"no {self.space.name} genome passes the {len(self.checks)} custom check(s) within "
            f"the space's budget (max_macs={self.space.max_macs}, max_params="
            f"{self.space.max_params}) in {self.max_tries} samples: relax the checks"
        )
