"""Cost constraints every genome in a search history satisfies (MACs, params, custom hooks).

Why here and not only in the space: the space's own budget (``ESFormerSpace.feasible``) and
the run's limits (``constraints.max_macs`` ...) are checked together, and extra checks such as
a latency predictor plug in as callables without touching any space.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from esnas.spaces.base import Cost, SearchSpace
from esnas.utils.errors import EsnasInputError

Check = Callable[[Hashable, Cost], bool]


class InfeasibleError(EsnasInputError):
    """No genome meeting the constraints was found in a bounded number of samples."""


class Constraints:
    """Limits on a genome's cost, plus the space's own ``feasible`` when it has one.

    Args:
        space: the search space (its ``feasible(genome)`` is honoured if defined).
        max_macs: optional MACs limit (at the space's resolution).
        max_params: optional parameter limit.
        checks: extra hooks ``check(genome, cost) -> bool`` (e.g. a latency predictor).
        max_tries: samples :meth:`sample` draws before giving up with the cheapest cost seen.
    """

    def __init__(
        self,
        space: SearchSpace,
        max_macs: float | None = None,
        max_params: float | None = None,
        checks: Sequence[Check] = (),
        max_tries: int = 2000,
    ) -> None:
        self.space = space
        self.max_macs = None if max_macs is None else float(max_macs)
        self.max_params = None if max_params is None else float(max_params)
        self.checks = list(checks)
        self.max_tries = int(max_tries)

    def describe(self) -> dict[str, Any]:
        """Plain-dict limits for logs and result files."""
        return {
            "max_macs": self.max_macs,
            "max_params": self.max_params,
            "space_max_macs": self.space.max_macs,
            "space_max_params": self.space.max_params,
            "checks": len(self.checks),
        }

    def ok(self, genome: Hashable, cost: Cost | None = None) -> bool:
        """Whether ``genome`` meets every limit."""
        if not self.space.feasible(genome):
            return False
        cost = cost or self.space.cost(genome)
        if self.max_macs is not None and cost.macs > self.max_macs:
            return False
        if self.max_params is not None and cost.params > self.max_params:
            return False
        return all(check(genome, cost) for check in self.checks)

    def _excess(self, cost: Cost) -> float:
        return max(
            cost.macs / (self.max_macs or math.inf), cost.params / (self.max_params or math.inf)
        )

    def sample(self, rng: random.Random) -> Hashable:
        """A random feasible genome by bounded rejection; otherwise a clear error.

        The space's own sampling errors (e.g. ESFormer's budget error) propagate unchanged.
        """
        closest: Cost | None = None
        for _ in range(self.max_tries):
            genome = self.space.sample(rng)
            cost = self.space.cost(genome)
            if self.ok(genome, cost):
                return genome
            if closest is None or self._excess(cost) < self._excess(closest):
                closest = cost
        assert closest is not None
        raise InfeasibleError(
            f"no {self.space.name} genome meets max_macs={self.max_macs}, "
            f"max_params={self.max_params} (plus the space's own budget) in {self.max_tries} "
            f"samples; the cheapest seen costs {closest.macs / 1e6:.3f} MMACs / "
            f"{closest.params / 1e6:.4f}M params: relax the constraints"
        )
