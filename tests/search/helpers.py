"""Builds a search recipe on a composed config with the fake scorer."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from esnas.scoring.run import metric_spec
from esnas.search.recipe import SearchRecipe
from esnas.utils.loggers import DiskRunLogger
from tests.search.fakes import FakeScorer

# A tiny ESFormer budget: 64 px costs, small enough that sampling still finds genomes.
TINY_ESFORMER = [
    "space=esformer",
    "space.resolution=64",
    "space.max_macs=6e7",
    "space.max_params=1.5e6",
]
# Phases short enough that every phase kind runs within ~100 evaluations.
SHORT_CYCLIC = [
    "strategy.population=12",
    "strategy.tournament=4",
    "strategy.init.starts=2",
    "strategy.init.population=6",
    "strategy.init.steps=6",
    "strategy.topology.steps=15",
    "strategy.size.steps=15",
]


def make_recipe(cfg: DictConfig, out: Path, rescorer: object | None = None) -> SearchRecipe:
    """A set-up recipe writing to ``out`` with the fake scorer (and ``rescorer``, else a
    fake one with other scores, for ``strategy.rescore``)."""
    space, labels = instantiate(cfg.space), list(metric_spec(cfg))
    rescorer = rescorer or FakeScorer(space, labels, salt="rescore")
    recipe = SearchRecipe(out, DiskRunLogger(out), FakeScorer(space, labels), rescorer)
    recipe.setup(cfg)
    return recipe


def history_of(recipe: SearchRecipe) -> list[tuple]:
    """The history without timings (what must match between runs)."""
    return [
        (r.index, r.arch, r.phase, r.cycle, r.op, r.parents, r.fitness, tuple(r.scores.items()))
        for r in recipe.engine.history
    ]
