"""Cyclic search: a multi-start Entropic-Score phase, then cycles of topology and size phases.

Why decoupled phases: Entropic Score ranks *what* the blocks are (topology genes) and
LogSynflow ranks *how big* they are (size genes); evolving each group under its own fitness
keeps one metric's bias from steering the other group. ``combined`` is the same loop with the
combined fitness in every phase (the decoupling ablation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from esnas.search.engine import Engine
from esnas.search.strategy import Strategy, register_strategy
from esnas.spaces.base import GeneGroup
from esnas.utils.errors import EsnasInputError

PHASE_ORDER: tuple[GeneGroup, ...] = ("topology", "size")


@register_strategy("cyclic", "combined")
class CyclicSearch(Strategy):
    """Multi-start initial phase, then alternating topology / size phases.

    Args:
        engine: the evolution core.
        population: main population size.
        tournament: tournament size of every phase.
        init: ``starts`` independent runs, each a random population of ``population``
            evolved for ``steps`` evaluations under ``metrics`` with mutations of ``groups``
            (``null`` = every group of the space); the best of each seed the main population.
        topology: ``steps`` (phase length in evaluations) and ``metrics`` of topology phases.
        size: the same for size phases.
        scale_with_budget: multiply every ``steps`` by ``budget / reference_budget``.
        reference_budget: the budget the configured ``steps`` are meant for.
        final: ``pool`` (``history`` or ``population``) and ``metrics`` (``null`` = the size
            phase's) of the answer.
        crossover: use group-restricted crossover (else two mutations per generation).
    """

    def __init__(
        self,
        engine: Engine,
        population: int = 50,
        tournament: int = 10,
        init: Mapping[str, Any] | None = None,
        topology: Mapping[str, Any] | None = None,
        size: Mapping[str, Any] | None = None,
        scale_with_budget: bool = False,
        reference_budget: int = 1000,
        final: Mapping[str, Any] | None = None,
        crossover: bool = True,
        **kw: Any,
    ) -> None:
        size_cfg = {"steps": 100, "metrics": ["logsynflow", "entropic"], **(size or {})}
        kw.setdefault("metrics", size_cfg["metrics"])
        super().__init__(engine, population=population, **kw)
        self.tournament, self.crossover = int(tournament), bool(crossover)
        init = {
            "starts": 4,
            "population": 10,
            "steps": 15,
            "groups": None,
            "metrics": ["entropic"],
            **(init or {}),
        }
        topo = {"steps": 100, "metrics": ["entropic"], **(topology or {})}
        final = {"pool": "history", "metrics": None, **(final or {})}
        scale = engine.max_evaluations / reference_budget if scale_with_budget else 1.0

        def steps(n: int) -> int:
            return max(1, math.ceil(int(n) * scale))

        self.starts, self.init_size = int(init["starts"]), int(init["population"])
        self.init_steps = steps(init["steps"]) if init["steps"] else 0
        self.init_groups = list(init["groups"] or engine.space.gene_groups)
        self.phase_metrics_of = {
            "init": list(init["metrics"]),
            "topology": list(topo["metrics"]),
            "size": list(size_cfg["metrics"]),
        }
        self.phase_steps = {"topology": steps(topo["steps"]), "size": steps(size_cfg["steps"])}
        self.order = [g for g in PHASE_ORDER if engine.space.has_group(g)]
        if final["pool"] not in ("history", "population"):
            raise EsnasInputError(
                f"final.pool {final['pool']!r} invalid; valid: history, population"
            )
        self.pool_of_final = final["pool"]
        self._final_metrics = list(final["metrics"] or size_cfg["metrics"])
        if self.starts < 1 or self.init_size < 2:
            raise EsnasInputError("init.starts must be >= 1 and init.population >= 2")
        # Progress state (all plain data, see state_dict).
        self.stage = "init"  # init | main
        self.start = 0  # current multi-start run
        self.start_pop: list[int] = []
        self.start_evals = 0
        self.finished_starts: list[list[int]] = []
        self.kind_index = 0  # position in self.order
        self.cycle = 0
        self.phase_evals = 0

    # ---- introspection ------------------------------------------------------------------------
    @property
    def phase(self) -> str:
        return "init" if self.stage == "init" else self.order[self.kind_index]

    @property
    def phase_metrics(self) -> list[str]:
        return self.phase_metrics_of[self.phase]

    @property
    def final_metrics(self) -> list[str]:
        return self._final_metrics

    def metrics_for(self, phase: str) -> list[str]:
        return self.phase_metrics_of[phase]

    def needed_metrics(self) -> set[str]:
        return {m for ms in self.phase_metrics_of.values() for m in ms} | set(self.final_metrics)

    def describe(self) -> list[str]:
        space = self.engine.space
        lines = [
            f"strategy {self.name}: {self.starts} start(s) x ({self.init_size} random + "
            f"{self.init_steps} evolved) scored by {'+'.join(self.phase_metrics_of['init'])}, "
            f"then population {self.size} cycling "
            + ", ".join(
                f"{g} ({self.phase_steps[g]} evals, fitness {'+'.join(self.phase_metrics_of[g])})"
                for g in self.order
            )
        ]
        for g in PHASE_ORDER:
            if g not in self.order:
                lines.append(
                    f"space {space.name} has no {g} genes: only {', '.join(self.order)} phases run"
                )
        lines.append(
            f"final pick: best of the {self.pool_of_final} under {'+'.join(self.final_metrics)}"
        )
        return lines

    def generation_stats(self) -> dict[str, float]:
        pop = self.start_pop if self.stage == "init" else self.population
        if not pop:
            return {}
        fits = self.engine.fitness_of(pop, self.phase_metrics)
        return {
            f"{self.phase}/best_fitness": max(fits),
            f"{self.phase}/mean_fitness": sum(fits) / len(fits),
        }

    # ---- the loop -----------------------------------------------------------------------------
    def step(self) -> None:
        if self.stage == "init":
            self._init_step()
        else:
            self._phase_step()

    def _init_step(self) -> None:
        metrics = self.phase_metrics_of["init"]
        target = self.init_size + self.init_steps
        before = self.engine.evaluations
        if len(self.start_pop) < self.init_size:
            self.start_pop = self.fill(self.start_pop, self.init_size, "init", self.start)
        else:
            self.start_pop = self.generation(
                self.start_pop,
                metrics,
                self.tournament,
                self.init_groups,
                None,
                "init",
                self.start,
                limit=target - self.start_evals,
                crossover=self.crossover,
                size=self.init_size,
            )
        self.start_evals += self.engine.evaluations - before
        if self.start_evals >= target:
            self.finished_starts.append(self.start_pop)
            self.start, self.start_pop, self.start_evals = self.start + 1, [], 0
            if self.start == self.starts:
                self._seed_main_population()

    def _seed_main_population(self) -> None:
        """The best ``ceil(population / starts)`` of every start, fittest first."""
        metrics, per = self.phase_metrics_of["init"], math.ceil(self.size / self.starts)
        seeds: list[int] = []
        for pop in self.finished_starts:
            fits = dict(zip(pop, self.engine.fitness_of(pop, metrics), strict=True))
            seeds += sorted(pop, key=lambda i: (-fits[i], i))[:per]
        self.population = sorted(seeds[: self.size]) if len(seeds) > self.size else sorted(seeds)
        self.stage, self.kind_index, self.cycle, self.phase_evals = "main", 0, 0, 0
        self.finished_starts = []

    def _phase_step(self) -> None:
        kind = self.order[self.kind_index]
        length, metrics = self.phase_steps[kind], self.phase_metrics_of[kind]
        before = self.engine.evaluations
        if len(self.population) < 2:  # tiny budgets or init.starts=1 with population 1
            self.population = self.fill(
                self.population, self.size, kind, self.cycle, limit=length - self.phase_evals
            )
        else:
            self.population = self.generation(
                self.population,
                metrics,
                self.tournament,
                [kind],
                kind,
                kind,
                self.cycle,
                limit=length - self.phase_evals,
                crossover=self.crossover,
            )
        self.phase_evals += self.engine.evaluations - before
        if self.phase_evals >= length:
            self.kind_index, self.phase_evals = (self.kind_index + 1) % len(self.order), 0
            if self.kind_index == 0:
                self.cycle += 1

    def final_pool(self) -> list[int]:
        history = list(range(self.engine.evaluations))
        return history if self.pool_of_final == "history" else list(self.population) or history

    # ---- state --------------------------------------------------------------------------------
    _STATE = (
        "stage",
        "start",
        "start_pop",
        "start_evals",
        "finished_starts",
        "kind_index",
        "cycle",
        "phase_evals",
        "population",
    )

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self._STATE:
            setattr(self, k, state[k])
