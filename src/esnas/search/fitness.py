"""Fitness = an aggregation of metric scores over a population, so metrics on different scales
can be added: FreeREA's max-normalised sum, a rank sum, AZ-NAS's sum of log-ranks or the
geometric mean of ranks. The same registry serves every strategy's fitness (``combine:``)
and the correlation tables (``esnas-report --combine a+b@log_rank``); named compositions
(``az_nas``) live in :data:`COMPOSITES`.

Values that a metric marks as failed (``esnas.utils.floor.FLOOR``, -1e30) are left out of the
normaliser and rank below every real value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import exp, log

from esnas.search.records import Individual
from esnas.utils.errors import EsnasInputError
from esnas.utils.floor import FLOOR
from esnas.utils.registry import Registry

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


def ranks(col: Sequence[float]) -> list[float]:
    """Ranks 1..n, ascending (ties share their mean rank; failed values rank below all)."""
    n = len(col)
    keyed = sorted(range(n), key=lambda i: (not _failed(col[i]), col[i]))
    out = [0.0] * n
    i = 0
    while i < n:  # average ranks over runs of equal values
        j = i
        while j + 1 < n and col[keyed[j + 1]] == col[keyed[i]]:
            j += 1
        for k in range(i, j + 1):
            out[keyed[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


@COMBINERS.register("rank")
def rank_sum(columns: Sequence[Sequence[float]]) -> list[float]:
    """Sum over metrics of each individual's rank in [0, 1] (ties share their mean rank)."""
    n = len(columns[0]) if columns else 0
    total = [0.0] * n
    for col in columns:
        for i, r in enumerate(ranks(col)):
            total[i] += (r - 1) / max(n - 1, 1)
    return total


@COMBINERS.register("log_rank")
def log_rank_sum(columns: Sequence[Sequence[float]]) -> list[float]:
    """AZ-NAS (Lee & Ham 2024): Σ over metrics of log(rank / n), ranks 1..n. Non-linear: a
    metric that ranks an individual near the bottom costs far more than one near the top adds."""
    n = len(columns[0]) if columns else 0
    total = [0.0] * n
    for col in columns:
        for i, r in enumerate(ranks(col)):
            total[i] += log(r / n)
    return total


@COMBINERS.register("geo_rank")
def geometric_rank(columns: Sequence[Sequence[float]]) -> list[float]:
    """Geometric mean of the ranks / n, in (0, 1]: the same order as ``log_rank``, on a
    scale that reads as a rank."""
    m = max(len(columns), 1)
    return [exp(v / m) for v in log_rank_sum(columns)]


# Named compositions: name -> (metric labels, aggregator), e.g. `--combine az_nas`.
COMPOSITES: Registry[tuple[tuple[str, ...], str]] = Registry("metric composition")
COMPOSITES.register("az_nas")(
    (("az_expressivity", "az_progressivity", "az_trainability", "az_complexity"), "log_rank")
)


def parse_combination(spec: str, default: str = "rank") -> tuple[tuple[str, ...], str]:
    """``"a+b"`` / ``"a+b@log_rank"`` / a :data:`COMPOSITES` name -> (labels, aggregator)."""
    if spec in COMPOSITES:
        return COMPOSITES.get(spec)
    labels, _, agg = spec.partition("@")
    COMBINERS.get(agg or default)  # an unknown aggregator fails here, in one line
    return tuple(labels.split("+")), agg or default


def fitness(
    individuals: Sequence[Individual], metrics: Sequence[str], combine: str = "max_norm"
) -> list[float]:
    """Fitness of each individual relative to ``individuals`` (higher is better)."""
    if not individuals:
        return []
    missing = [m for m in metrics if m not in individuals[0].scores]
    if missing:
        have = ", ".join(individuals[0].scores) or "(none)"
        raise EsnasInputError(
            f"fitness needs metric(s) {', '.join(missing)}; the scorer gives {have}"
        )
    columns = [[ind.scores[m] for ind in individuals] for m in metrics]
    return COMBINERS.get(combine)(columns)
