"""Baselines on the same engine and budget: random search, REA (aging evolution) and FreeREA.

All three score every genome with every configured metric and select by one fitness (by
default LogSynflow + Entropic, max-normalised), so they differ from cyclic search only in how
they explore.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from esnas.search.engine import Engine
from esnas.search.strategy import Strategy, register_strategy


@register_strategy("random")
class RandomSearch(Strategy):
    """Uniform random feasible genomes; the answer is the fittest of the history.

    Args:
        batch: genomes evaluated per step (one checkpoint per batch).
    """

    def __init__(self, engine: Engine, batch: int = 10, **kw: Any) -> None:
        kw.setdefault("population", 2)  # unused: the whole history is the population
        super().__init__(engine, **kw)
        self.batch = int(batch)

    def step(self) -> None:
        n = min(self.batch, self.engine.remaining())
        new = [self.engine.evaluate(self.engine.random_genome(), "search") for _ in range(n)]
        self.population = self.engine.settle(self.population, new, self.metrics, None, 0)

    def generation_stats(self) -> dict[str, float]:
        if not self.population:
            return {}
        best = self.engine.best(self.population, self.metrics)[1]
        return {"search/best_fitness": best}


@register_strategy("rea")
class RegularizedEvolution(Strategy):
    """Aging evolution (Real et al. 2019): the best of a tournament is mutated once per step,
    the child joins and the oldest member leaves (no cut by fitness).

    Args:
        tournament: members drawn (without replacement) per step.
    """

    def __init__(self, engine: Engine, tournament: int = 10, **kw: Any) -> None:
        kw.setdefault("population", 50)
        super().__init__(engine, **kw)
        self.tournament = int(tournament)

    def step(self) -> None:
        eng = self.engine
        if len(self.population) < self.size:
            self.population = self.fill(self.population, self.size, "search")
            return
        fits = eng.fitness_of(self.population, self.metrics)
        (parent,) = eng.tournament(self.population, fits, self.tournament, 1)
        child, op = eng.mutant(parent, eng.space.gene_groups)
        new = [eng.evaluate(child, "search", 0, op, (parent,))]
        self.population = eng.settle(self.population, new, self.metrics, None, 1)


@register_strategy("freerea")
class FreeREA(Strategy):
    """FreeREA (Cavagnero et al. 2022): population 100, tournament 25, top-2 parents; each
    step one mutation of each parent and one uniform crossover; the oldest leaves and the
    population is cut to the top 100; the answer is the best genome of the whole history.

    Args:
        tournament: members drawn (without replacement) per step.
        metrics: FreeREA summed LogSynflow and NASWOT (max-normalised); we default to
            LogSynflow and Entropic Score.
    """

    def __init__(
        self,
        engine: Engine,
        tournament: int = 25,
        metrics: Sequence[str] = ("logsynflow", "entropic"),
        **kw: Any,
    ) -> None:
        kw.setdefault("population", 100)
        super().__init__(engine, metrics=metrics, **kw)
        self.tournament = int(tournament)

    def step(self) -> None:
        if len(self.population) < self.size:
            self.population = self.fill(self.population, self.size, "search")
            return
        groups = self.engine.space.gene_groups
        self.population = self.generation(
            self.population, self.metrics, self.tournament, groups, None, "search"
        )
