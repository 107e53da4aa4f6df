"""Fitness = a combination of metric scores over a population (FreeREA's max-normalised sum,
or a rank sum), so metrics on different scales can be added.

Values that a metric marks as failed (``esnas.metrics.base.FLOOR``, -1e30) are left out of the
normaliser and rank below every real value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from esnas.search.records import Individual
from esnas.utils.registry import Registry

FLOOR = -1e30  # mirrors esnas.metrics.base.FLOOR without importing torch-heavy modules
_FAILED = -2.0  # below any max-normalised value (those lie in [-1, 1])

Combiner = Callable[[Sequence[Sequence[float]]], list[float]]
COMBINERS: Registry[Combiner] = Registry("fitness combination")


def _failed(v: float) -> bool:
    return v != v or v <= FLOOR  # NaN or the metrics' floor


@COMBINERS.register("max_norm")
def max_norm_sum(columns: Sequence[Sequence[float]]) -> list[float]:
    """FreeREA: each metric divided by its max |value| over the population, then summed."""
    n = len(columns[0]) if columns else 0
    total = [0.0] * n
    for col in columns:
        scale = max((abs(v) for v in col if not _failed(v)), default=0.0) or 1.0
        for i, v in enumerate(col):
            total[i] += _FAILED if _failed(v) else v / scale
    return total


@COMBINERS.register("rank")
def rank_sum(columns: Sequence[Sequence[float]]) -> list[float]:
    """Sum over metrics of each individual's rank in [0, 1] (ties share their mean rank)."""
    n = len(columns[0]) if columns else 0
    total = [0.0] * n
    for col in columns:
        keyed = sorted(range(n), key=lambda i: (not _failed(col[i]), col[i]))
        i = 0
        while i < n:  # average ranks over runs of equal values
            j = i
            while j + 1 < n and col[keyed[j + 1]] == col[keyed[i]]:
                j += 1
            for k in range(i, j + 1):
                total[keyed[k]] += ((i + j) / 2) / max(n - 1, 1)
            i = j + 1
    return total


def fitness(
    individuals: Sequence[Individual], metrics: Sequence[str], combine: str = "max_norm"
) -> list[float]:
    """Fitness of each individual relative to ``individuals`` (higher is better)."""
    if not individuals:
        return []
    missing = [m for m in metrics if m not in individuals[0].scores]
    if missing:
        have = ", ".join(individuals[0].scores) or "(none)"
        raise ValueError(f"fitness needs metric(s) {', '.join(missing)}; the scorer gives {have}")
    columns = [[ind.scores[m] for ind in individuals] for m in metrics]
    return COMBINERS.get(combine)(columns)
