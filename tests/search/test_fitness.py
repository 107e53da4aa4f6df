"""Fitness combinations: FreeREA's max-normalised sum and the rank sum."""

from __future__ import annotations

import pytest

from esnas.search.fitness import FLOOR, fitness, max_norm_sum, rank_sum
from esnas.search.records import Individual


def test_max_norm_divides_each_metric_by_its_max_abs_value() -> None:
    assert max_norm_sum([[1.0, 2.0, 4.0], [-10.0, 0.0, 5.0]]) == pytest.approx(
        [0.25 - 1.0, 0.5 + 0.0, 1.0 + 0.5]
    )


def test_failed_scores_rank_last_and_do_not_scale_the_rest() -> None:
    fits = max_norm_sum([[1.0, FLOOR, 2.0]])
    assert fits[0] == pytest.approx(0.5) and fits[2] == pytest.approx(1.0)
    assert fits[1] < -1
    assert rank_sum([[1.0, FLOOR, 2.0]]) == pytest.approx([0.5, 0.0, 1.0])


def test_rank_sum_shares_ties() -> None:
    assert rank_sum([[3.0, 1.0, 3.0], [0.0, 1.0, 2.0]]) == pytest.approx(
        [0.75 + 0.0, 0.0 + 0.5, 0.75 + 1.0]
    )


def test_fitness_names_missing_metrics() -> None:
    ind = Individual(0, "a", 1, 1, {"entropic": 1.0})
    with pytest.raises(ValueError, match=r"logsynflow.*scorer gives entropic"):
        fitness([ind], ["logsynflow"])
