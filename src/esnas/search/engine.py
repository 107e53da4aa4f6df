"""The evolution core every strategy shares: evaluation under a budget, constrained variation,
tournaments, ageing and the history.

Strategies hold only evaluation indices into :attr:`Engine.history`, and all randomness comes
from :attr:`Engine.rng` (a ``random.Random``), so the whole search state is plain data that a
checkpoint restores exactly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

from esnas.search.constraints import Constraints
from esnas.search.fitness import fitness
from esnas.search.operators import can_cross, crossover_in_group
from esnas.search.records import Individual
from esnas.spaces.base import GeneGroup, SearchSpace
from esnas.utils.errors import EsnasInputError


class ScorerLike(Protocol):
    """What the search needs from ``esnas.scoring.Scorer`` (every member is required)."""

    #: The score labels :meth:`score` returns, in order.
    labels: list[str]
    #: What the last :meth:`score` cost without the cache (0.0 for a scorer that cannot say).
    last_seconds: float

    def score(self, genome: Hashable) -> dict[str, float]: ...

    def close(self) -> None:
        """Releases what the scorer holds open (its cache connection)."""


class Engine:
    """Evaluates genomes into the history and makes feasible children.

    Args:
        space: the search space.
        scorer: ``score(genome) -> {label: value}`` with ``last_seconds``.
        constraints: cost limits every evaluated genome meets.
        rng: the search's only random stream.
        max_evaluations: budget in evaluated architectures.
        max_seconds: optional wall-time budget (summed over resumed runs).
        combine: fitness combination (``max_norm`` or ``rank``).
        unique: re-draw children already in the history (bounded), so the budget is spent
            on distinct architectures.
        max_redraws: re-draws of an infeasible (or repeated) child before falling back to a
            random feasible genome.
    """

    def __init__(
        self,
        space: SearchSpace,
        scorer: ScorerLike,
        constraints: Constraints,
        rng: random.Random,
        max_evaluations: int,
        max_seconds: float | None = None,
        combine: str = "max_norm",
        unique: bool = True,
        max_redraws: int = 50,
    ) -> None:
        if int(max_evaluations) < 1:
            raise EsnasInputError(f"budget.evaluations must be >= 1, got {max_evaluations}")
        self.space, self.scorer, self.constraints, self.rng = space, scorer, constraints, rng
        self.max_evaluations = int(max_evaluations)
        self.max_seconds = None if max_seconds is None else float(max_seconds)
        self.combine, self.unique, self.max_redraws = combine, bool(unique), int(max_redraws)
        self.history: list[Individual] = []
        self.elapsed = 0.0  # wall seconds of previous (resumed) runs
        self._started = time.perf_counter()
        self._seen: dict[str, int] = {}
        self._genomes: dict[str, Hashable] = {}

    # ---- budget ---------------------------------------------------------------------------
    @property
    def evaluations(self) -> int:
        return len(self.history)

    def wall_seconds(self) -> float:
        """Wall time of the search so far, including runs before a resume."""
        return self.elapsed + time.perf_counter() - self._started

    def remaining(self) -> int:
        """Evaluations still allowed (0 once the wall-time budget is spent)."""
        if self.max_seconds is not None and self.wall_seconds() >= self.max_seconds:
            return 0
        return max(0, self.max_evaluations - self.evaluations)

    def done(self) -> bool:
        return self.remaining() == 0

    def stopped_by(self) -> str:
        """What ended (or would end) the search: ``evaluations`` when the evaluation budget is
        spent, else ``seconds`` (the wall-time limit fired first), else ``running``."""
        if self.evaluations >= self.max_evaluations:
            return "evaluations"
        return "seconds" if self.done() else "running"

    # ---- genomes ----------------------------------------------------------------------------
    def genome(self, index_or_arch: int | str) -> Hashable:
        """The genome of a history entry (decoded once, then cached)."""
        arch = self.history[index_or_arch].arch if isinstance(index_or_arch, int) else index_or_arch
        if arch not in self._genomes:
            self._genomes[arch] = self.space.decode(arch)
        return self._genomes[arch]

    def random_genome(self) -> Hashable:
        """A random feasible genome (unique when possible)."""
        return self._redraw(lambda: self.constraints.sample(self.rng))[0]

    def _redraw(self, make: Callable[[], Hashable | None]) -> tuple[Hashable | None, bool]:
        """Calls ``make`` until it gives a feasible (and, if asked, new) genome; bounded."""
        repeat = None
        for _ in range(self.max_redraws):
            g = make()
            if g is None or not self.constraints.ok(g):
                continue
            if not self.unique or self.space.encode(g) not in self._seen:
                return g, True
            repeat = repeat or g
        return repeat, False

    def child(self, make: Callable[[], Hashable | None]) -> tuple[Hashable, str]:
        """A feasible child from ``make`` (re-drawn a bounded number of times); when every
        draw failed, a random feasible genome (``+random`` is appended to its op)."""
        g, fresh = self._redraw(make)
        if fresh:
            return g, ""
        r, fresh_random = self._redraw(lambda: self.constraints.sample(self.rng))
        return (r, "+random") if fresh_random or g is None else (g, "")

    def mutant(self, parent: int, groups: Sequence[GeneGroup]) -> tuple[Hashable, str]:
        """A mutation of one gene of a group drawn from ``groups``."""
        g = self.genome(parent)
        child, note = self.child(lambda: self.space.mutate(g, self.rng.choice(groups), self.rng))
        return child, "mutation" + note

    def crossover(self, a: int, b: int, group: GeneGroup | None) -> tuple[Hashable, str] | None:
        """A crossover of ``group``'s genes (``None`` = all), or ``None`` if the space cannot."""
        ga, gb = self.genome(a), self.genome(b)
        if not can_cross(self.space, group):
            return None
        child, note = self.child(lambda: crossover_in_group(self.space, ga, gb, group, self.rng))
        return child, "crossover" + note

    # ---- evaluation -------------------------------------------------------------------------
    def evaluate(
        self,
        genome: Hashable,
        phase: str,
        cycle: int = 0,
        op: str = "random",
        parents: Sequence[int] = (),
    ) -> int:
        """Scores ``genome``, appends it to the history and returns its evaluation index."""
        arch = self.space.encode(genome)
        cost = self.space.cost(genome)
        if not self.constraints.ok(genome, cost):  # a bug in a strategy, never user input
            raise AssertionError(f"infeasible genome {arch} reached evaluation")
        scores = {k: float(v) for k, v in self.scorer.score(genome).items()}
        seconds = float(self.scorer.last_seconds)
        index = self.evaluations
        self.history.append(
            Individual(
                index,
                arch,
                int(cost.params),
                int(cost.macs),
                scores,
                phase=phase,
                cycle=cycle,
                op=op,
                parents=tuple(parents),
                seconds=seconds,
            )
        )
        self._seen.setdefault(arch, index)
        self._genomes[arch] = genome
        return index

    # ---- population helpers -----------------------------------------------------------------
    def fitness_of(self, indices: Sequence[int], metrics: Sequence[str]) -> list[float]:
        """Fitness of history entries ``indices`` relative to each other."""
        return fitness([self.history[i] for i in indices], metrics, self.combine)

    def tournament(
        self, population: Sequence[int], fits: Sequence[float], size: int, parents: int
    ) -> list[int]:
        """The best ``parents`` of ``size`` members drawn without replacement."""
        pos = self.rng.sample(range(len(population)), min(size, len(population)))
        pos.sort(key=lambda p: (-fits[p], population[p]))
        return [population[p] for p in pos[:parents]]

    def settle(
        self,
        population: list[int],
        new: Sequence[int],
        metrics: Sequence[str],
        size: int | None,
        age_out: int,
    ) -> list[int]:
        """Adds ``new`` to ``population``, records their fitness there, removes the
        ``age_out`` oldest, then cuts to the ``size`` fittest (ties: younger kept)."""
        pop = list(population) + list(new)
        fits = dict(zip(pop, self.fitness_of(pop, metrics), strict=True))
        for i in new:
            self.history[i].fitness = fits[i]
        for _ in range(min(age_out, max(0, len(pop) - 1))):
            pop.remove(min(pop))
        if size is not None and len(pop) > size:
            keep = set(sorted(pop, key=lambda i: (-fits[i], -i))[:size])
            pop = [i for i in pop if i in keep]
        return pop

    def best(self, indices: Sequence[int], metrics: Sequence[str]) -> tuple[int, float]:
        """(index, fitness) of the fittest of ``indices`` (ties: earliest)."""
        fits = self.fitness_of(indices, metrics)
        j = max(range(len(indices)), key=lambda p: (fits[p], -indices[p]))
        return indices[j], fits[j]

    # ---- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        version, state, gauss = self.rng.getstate()
        return {
            "rng": [version, list(state), gauss],
            "history": [r.to_dict() for r in self.history],
            "elapsed": self.wall_seconds(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.history = [Individual.from_dict(d) for d in state["history"]]
        self._seen = {}
        for r in self.history:
            self._seen.setdefault(r.arch, r.index)
        self.elapsed = float(state["elapsed"])
        self._started = time.perf_counter()
