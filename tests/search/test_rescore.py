"""The final re-scoring (``strategy.rescore``) and re-picking a finished search elsewhere
(``resume_from``): the answer is the best of the finalists under the re-scoring probe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra.utils import instantiate

from esnas.scoring.run import metric_spec
from esnas.search.checkpoint import CHECKPOINT_FILE, CorruptCheckpointError
from esnas.search.fitness import fitness
from tests.search.fakes import FakeScorer
from tests.search.helpers import history_of, make_recipe

BASE = ["strategy=random", "budget.evaluations=30", "logger=none", "seed=3"]
RANDOM = [*BASE, "strategy.rescore.top=0"]  # the first pick only
RANDOM_RESCORED = [*BASE, "strategy.rescore.top=5", "strategy.rescore.probe.num_inits=7"]


class Favouring:
    """A re-scorer that scores one finalist above all others (and counts its calls)."""

    def __init__(self, space, labels, favourite: str) -> None:
        self.space, self.labels, self.favourite = space, labels, favourite
        self.last_seconds, self.scored = 0.0, []

    def score(self, genome) -> dict[str, float]:
        arch = self.space.encode(genome)
        self.scored.append(arch)
        return {label: float(arch == self.favourite) for label in self.labels}


def test_finalists_are_the_top_of_the_final_fitness_best_first(run_config, tmp_path) -> None:
    recipe = make_recipe(run_config("search", RANDOM), tmp_path)
    recipe.run()
    strat, history = recipe.strategy, recipe.engine.history
    fits = fitness(history, strat.final_metrics, recipe.engine.combine)
    top = strat.finalists(5)
    assert top[0] == strat.pick() and strat.finalists(1) == [strat.pick()]
    assert [fits[i] for i in top] == sorted(fits, reverse=True)[:5]


def test_rescore_picks_the_best_finalist_under_the_rescorer(run_config, tmp_path) -> None:
    plain = make_recipe(run_config("search", RANDOM), tmp_path / "plain")
    first = plain.run()
    fifth = plain.engine.history[plain.strategy.finalists(5)[4]].arch
    cfg = run_config("search", RANDOM_RESCORED)
    rescorer = Favouring(None, ["entropic", "logsynflow", "az_progressivity", "meco"], fifth)
    recipe = make_recipe(cfg, tmp_path / "rescored", rescorer)
    rescorer.space = recipe.space
    figures = recipe.run()
    assert len(rescorer.scored) == 5 and fifth in rescorer.scored  # the finalists only
    assert figures["best_arch"] == fifth != first["best_arch"]
    assert figures["first_pick_arch"] == first["best_arch"] and figures["rescore_top"] == 5
    assert history_of(recipe) == history_of(plain)  # the search's path is unchanged


def test_resume_from_repicks_a_finished_search_without_rescoring_its_history(
    run_config, tmp_path
) -> None:
    done = make_recipe(run_config("search", RANDOM), tmp_path / "done")
    done.run()
    source = tmp_path / "done" / CHECKPOINT_FILE
    cfg = run_config("search", [*RANDOM_RESCORED, f"resume_from={source}"])
    again = make_recipe(cfg, tmp_path / "again")
    assert again.resumed and again.engine.evaluations == 30
    figures = again.run()
    assert again.scorer.calls == 0  # the history came from the finished search
    assert history_of(again) == history_of(done)
    assert figures["first_pick_arch"] == done.engine.history[done.strategy.pick()].arch
    assert figures["best_arch"] in {done.engine.history[i].arch for i in done.strategy.finalists(5)}
    summary = json.loads((tmp_path / "again" / "best.json").read_text())
    assert summary["arch"] == figures["best_arch"]


def test_resume_from_another_search_or_no_file_is_refused(run_config, tmp_path) -> None:
    make_recipe(run_config("search", RANDOM), tmp_path / "done").run()
    source = tmp_path / "done" / CHECKPOINT_FILE
    with pytest.raises(CorruptCheckpointError, match=f"{source} belongs to another search"):
        make_recipe(
            run_config("search", [*RANDOM, "seed=4", f"resume_from={source}"]), tmp_path / "x"
        )
    missing = Path(tmp_path / "nowhere.json")
    with pytest.raises(ValueError, match=r"resume_from=.*nowhere\.json.* is not a file"):
        make_recipe(run_config("search", [*RANDOM, f"resume_from={missing}"]), tmp_path / "y")
    with pytest.raises(
        ValueError, match=r"strategy\.rescore\.top=-1 is invalid; valid: an int >= 0"
    ):
        make_recipe(run_config("search", [*RANDOM, "strategy.rescore.top=-1"]), tmp_path / "z")


def test_a_rescorer_that_agrees_with_the_search_keeps_its_pick(run_config, tmp_path) -> None:
    """The finalists' new scores replace theirs in the same fitness over the same pool: equal
    scores give the same answer (ranked among the finalists alone, they need not)."""
    for seed in range(8):
        cfg = run_config("search", [*RANDOM_RESCORED, f"seed={seed}"])
        space, labels = instantiate(cfg.space), list(metric_spec(cfg))
        figures = make_recipe(cfg, tmp_path / str(seed), FakeScorer(space, labels)).run()
        assert figures["best_arch"] == figures["first_pick_arch"], seed
