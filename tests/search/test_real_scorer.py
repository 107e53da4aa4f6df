"""The search with the real cached scorer (slow: it builds and scores models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from esnas.utils.task import run_task

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "overrides",
    [
        ["space=nb201", "budget.evaluations=24"],
        ["experiment=esformer_xs_search", "budget.evaluations=12", "budget.seconds=null"],
    ],
    ids=["nb201", "esformer_xs"],
)
def test_cyclic_search_with_the_real_scorer(run_config, tmp_path, overrides) -> None:
    from esnas.cli.search import search

    small = [
        "logger=csv", "probe.batch_size=4", "probe.num_inits=1",
        f"cache.path={tmp_path / 'cache.sqlite'}", "strategy.init.starts=1",
        "strategy.init.population=4", "strategy.init.steps=2", "strategy.population=4",
        "strategy.tournament=2", "strategy.scale_with_budget=false",
        "strategy.topology.steps=3", "strategy.size.steps=3",
    ]  # fmt: skip
    cfg = run_config("search", [*overrides, *small])
    figures = run_task(cfg, "search", search)
    out = Path(cfg.paths.output_dir)
    best = json.loads((out / "best.json").read_text())
    assert best["arch"] == figures["best_arch"] and set(best["scores"]) == {
        "entropic",
        "logsynflow",
    }
    assert figures["search_seconds_uncached"] > 0
    # A second run on the same cache scores nothing new but reports the same uncached time.
    again = run_config("search", [*overrides, *small, "resume=false"])
    figures2 = run_task(again, "search", search)
    assert figures2["best_arch"] == figures["best_arch"]
    assert figures2["search_seconds_uncached"] == pytest.approx(
        figures["search_seconds_uncached"], rel=1e-6
    )
