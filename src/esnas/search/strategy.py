"""Strategy base class, registry and the generation step strategies share.

A strategy is a small state machine over an :class:`~esnas.search.engine.Engine`: each
:meth:`Strategy.step` runs one generation (a few evaluations), after which the recipe logs
and checkpoints. Its state is plain data (evaluation indices and counters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from esnas.search.engine import Engine
from esnas.search.fitness import COMBINERS
from esnas.spaces.base import GeneGroup
from esnas.utils.errors import EsnasInputError, as_number
from esnas.utils.registry import Registry
from esnas.utils.schema import signature_options

STRATEGIES: Registry[type[Strategy]] = Registry("strategy")


@dataclass(frozen=True)
class EngineSettings:
    """The keys of a ``strategy`` node that the engine and recipe read, not the strategy.

    Why they sit in the strategy node: each strategy's config picks its own defaults (FreeREA
    sums max-normalised scores, the default fitness adds log-ranks). The recipe splits them
    off (:meth:`split`) and the rest must be the strategy's own options.

    Attributes:
        combine: how scores combine into a fitness (a ``COMBINERS`` name).
        unique: re-draw children already evaluated, so the budget buys distinct archs.
        checkpoint_every: generations between checkpoints.
        rescore: the final re-scoring of the finalists (``top``, ``probe``); empty = off.
    """

    combine: str = "max_norm"
    unique: bool = True
    checkpoint_every: int = 1
    rescore: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        COMBINERS.get(self.combine)  # unknown: one line naming the valid ones
        as_number("strategy.checkpoint_every", self.checkpoint_every, int, 1)
        as_number("strategy.rescore.top", self.rescore.get("top") or 0, int, 0)

    @classmethod
    def split(cls, node: Mapping[str, Any]) -> tuple[EngineSettings, dict[str, Any]]:
        """``(engine settings, the strategy's own options)`` of a strategy node without
        ``name``."""
        own = dict(node)
        taken = {key: own.pop(key) for key in ENGINE_SETTINGS if key in own}
        rescore = taken.get("rescore") or {}
        if not isinstance(rescore, Mapping):
            raise EsnasInputError(
                f"strategy.rescore={rescore!r} is invalid; valid: {{top: <int>, probe: {{...}}}}"
            )
        taken["rescore"] = dict(rescore)
        return cls(**taken), own


ENGINE_SETTINGS: tuple[str, ...] = tuple(f.name for f in fields(EngineSettings))


def strategy_options(cls: type[Strategy]) -> dict[str, Any]:
    """A strategy's own options and defaults: its constructor's keyword arguments and those of
    every base it forwards ``**kw`` to (``engine`` and ``name`` are the recipe's)."""
    options: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if issubclass(klass, Strategy) and "__init__" in vars(klass):
            options |= signature_options(klass.__init__, 2)  # self, engine
    options.pop("name", None)
    return options


def check_strategy_options(name: str, options: Mapping[str, Any]) -> None:
    """A one-line :class:`EsnasInputError` for an option strategy ``name`` does not take."""
    valid = strategy_options(STRATEGIES.get(name))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise EsnasInputError(
            f"strategy {name!r} has no option(s) {', '.join(unknown)}; valid: "
            f"{', '.join(sorted(valid))} (engine settings: {', '.join(ENGINE_SETTINGS)})"
        )


def register_strategy(*names: str):
    """Registers a strategy class under one or more names (``combined`` reuses cyclic)."""

    def decorator(cls: type[Strategy]) -> type[Strategy]:
        for name in names:
            STRATEGIES.register(name)(cls)
        return cls

    return decorator


class Strategy:
    """Base strategy: a population (history indices) evolved one generation per step.

    Args:
        engine: the evolution core.
        name: the registry name this instance was created under.
        metrics: labels whose combination is the fitness (selection and final pick).
        population: population size.
        chunk: random evaluations per step while the population is being filled (so the
            first generation is checkpointed in pieces, not all at once).
    """

    #: The cycle of alternating phases the search is in (0 for strategies without cycles).
    cycle: int = 0

    def __init__(
        self,
        engine: Engine,
        name: str = "",
        metrics: Sequence[str] = ("logsynflow", "entropic"),
        population: int = 100,
        chunk: int = 10,
    ) -> None:
        self.engine = engine
        self.name = name
        self.metrics = list(metrics)
        self.size = int(population)
        self.chunk = int(chunk)
        self.population: list[int] = []
        if self.size < 2:
            raise EsnasInputError(f"strategy.population must be >= 2, got {self.size}")

    # ---- what the recipe asks ---------------------------------------------------------------
    @property
    def phase(self) -> str:
        """Current phase (for progress, logs and records)."""
        return "search"

    @property
    def phase_metrics(self) -> list[str]:
        """Fitness metrics of the current phase."""
        return self.metrics

    @property
    def final_metrics(self) -> list[str]:
        """Fitness metrics of the final pick (also used for plots)."""
        return self.metrics

    def needed_metrics(self) -> set[str]:
        """Every metric label this strategy reads."""
        return set(self.metrics)

    def describe(self) -> list[str]:
        """Lines for the run log saying what this strategy will do."""
        return [f"strategy {self.name}: fitness = {' + '.join(self.metrics)}"]

    def step(self) -> None:
        """One generation (at least one evaluation unless the budget is spent)."""
        raise NotImplementedError

    def final_pool(self) -> list[int]:
        """Evaluation indices the answer is picked from: the whole history."""
        return list(range(self.engine.evaluations))

    def pick(self) -> int:
        """Evaluation index of the answer: the fittest of :meth:`final_pool`."""
        return self.engine.best(self.final_pool(), self.final_metrics)[0]

    def finalists(self, k: int) -> list[int]:
        """The ``k`` fittest of :meth:`final_pool` under the final fitness, best first (ties:
        earliest), so ``finalists(1) == [pick()]``."""
        pool = self.final_pool()
        fits = self.engine.fitness_of(pool, self.final_metrics)
        order = sorted(range(len(pool)), key=lambda p: (-fits[p], pool[p]))
        return [pool[p] for p in order[:k]]

    def generation_stats(self) -> dict[str, float]:
        """Best and mean fitness of the population under the current phase's fitness."""
        if not self.population:
            return {}
        fits = self.engine.fitness_of(self.population, self.phase_metrics)
        return {
            f"{self.phase}/best_fitness": max(fits),
            f"{self.phase}/mean_fitness": sum(fits) / len(fits),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"population": list(self.population)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.population = list(state["population"])

    # ---- shared steps -------------------------------------------------------------------------
    def fill(self, population: list[int], size: int, phase: str, cycle: int = 0, limit=None):
        """Adds up to ``chunk`` random genomes to ``population`` (until it has ``size``)."""
        n = min(self.chunk, size - len(population), self.engine.remaining())
        if limit is not None:
            n = min(n, limit)
        new = [
            self.engine.evaluate(self.engine.random_genome(), phase, cycle)
            for _ in range(max(n, 0))
        ]
        return self.engine.settle(population, new, self.metrics_for(phase), None, 0)

    def metrics_for(self, phase: str) -> list[str]:
        """Fitness metrics of ``phase`` (overridden by multi-phase strategies)."""
        return self.metrics

    def generation(
        self,
        population: list[int],
        metrics: Sequence[str],
        tournament: int,
        groups: Sequence[GeneGroup],
        cross_group: GeneGroup | None,
        phase: str,
        cycle: int = 0,
        limit: int | None = None,
        age_out: int = 1,
        crossover: bool = True,
        size: int | None = None,
    ) -> list[int]:
        """FreeREA's generation: a tournament picks the top-2 parents, each is mutated once
        and the two are crossed once; the oldest member leaves and the population is cut
        back to ``size`` (default: the strategy's) by fitness. ``limit`` caps the evaluations."""
        eng = self.engine
        n = eng.remaining() if limit is None else min(limit, eng.remaining())
        fits = eng.fitness_of(population, metrics)
        parents = eng.tournament(population, fits, tournament, 2)
        a, b = parents[0], parents[-1]
        plan = [("m", a), ("m", b), ("x", None)] if crossover else [("m", a), ("m", b)]
        new: list[int] = []
        for kind, p in plan[:n]:
            if new and eng.done():  # the wall-time budget ran out mid-generation
                break
            made = eng.crossover(a, b, cross_group) if kind == "x" else None
            if made is not None:
                child, op = made
                parents_of = (a, b)
            else:  # mutation, or crossover the space cannot do for this group alone
                p = a if p is None else p
                child, op = eng.mutant(p, groups)
                parents_of = (p,)
            new.append(eng.evaluate(child, phase, cycle, op, parents_of))
        return eng.settle(population, new, metrics, size or self.size, age_out)
