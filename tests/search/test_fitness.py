"""Fitness aggregators: FreeREA's max-normalised sum, the rank sum, AZ-NAS's log-ranks."""

from __future__ import annotations

import math

import pytest

from esnas.search.fitness import (
    COMBINERS,
    FLOOR,
    fitness,
    max_norm_sum,
    parse_combination,
    rank_sum,
    ranks,
)
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


def test_log_rank_is_azs_sum_of_log_ranks_and_geo_rank_its_mean() -> None:
    cols = [[3.0, 1.0, 2.0], [10.0, 30.0, 20.0]]  # ranks 3,1,2 and 1,3,2 of n = 3
    expect = [math.log(3 / 3) + math.log(1 / 3), math.log(1 / 3) + math.log(3 / 3),
              2 * math.log(2 / 3)]  # fmt: skip
    assert COMBINERS.get("log_rank")(cols) == pytest.approx(expect)
    assert COMBINERS.get("geo_rank")(cols) == pytest.approx([math.exp(v / 2) for v in expect])
    # non-linear: the balanced middle (2, 2) beats the extremes (3, 1) that rank_sum ties
    assert COMBINERS.get("rank")(cols)[0] == pytest.approx(COMBINERS.get("rank")(cols)[2])
    assert expect[2] > expect[0]
    assert ranks([1.0, FLOOR, 1.0]) == [2.5, 1.0, 2.5]  # ties share, a failure ranks last


def test_combinations_parse_with_aggregator_or_by_name() -> None:
    assert parse_combination("a+b") == (("a", "b"), "rank")
    assert parse_combination("a+b@log_rank") == (("a", "b"), "log_rank")
    parts, agg = parse_combination("az_nas")
    assert agg == "log_rank" and parts[0] == "az_expressivity" and len(parts) == 4
    with pytest.raises(KeyError, match="valid: geo_rank, log_rank, max_norm, rank"):
        parse_combination("a+b@median")
