"""The search-space protocol: what a strategy may ask of a space, and nothing more.

A space owns its genomes. Strategies only sample, mutate one gene group, cross over,
encode/decode and read costs; they never build models themselves (the scorer does, via
:meth:`SearchSpace.build`). Genome randomness comes from an explicit ``random.Random`` so
one seed reproduces a search and its state can be checkpointed (``rng.getstate()``).
"""

from __future__ import annotations

import abc
import math
import random
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from esnas.utils.errors import EsnasInputError, as_number
from esnas.utils.registry import Registry

GeneGroup = Literal["topology", "size"]
GENE_GROUPS: tuple[GeneGroup, ...] = ("topology", "size")

SPACES: Registry[type[SearchSpace]] = Registry("space")
register_space = SPACES.register


@dataclass(frozen=True)
class Cost:
    """Model cost at the space's input resolution: parameter count and multiply-accumulates."""

    params: int
    macs: int


class SearchSpace(abc.ABC):
    """Base class of every space; genomes are immutable, hashable values.

    Subclasses set ``name`` and ``gene_groups`` (the subset of ``GENE_GROUPS`` they have,
    e.g. NB201 has only ``("topology",)``) and implement the abstract methods.
    """

    name: str = ""
    gene_groups: tuple[GeneGroup, ...] = ()
    #: Number of genomes when the space is enumerable by index (then ``from_index`` exists).
    num_archs: int | None = None
    #: The budget at the space's input size (``None``: unbounded), the one place a search's
    #: cost limit lives: :meth:`within_budget` (a cost), :meth:`feasible` (a genome) and
    #: :meth:`sample` honour it, and constructors take it (``space.max_macs=...``).
    max_macs: float | None = None
    max_params: float | None = None
    #: Draws :meth:`sample` makes before it gives up on the budget.
    max_tries: int = 10_000

    @property
    @abc.abstractmethod
    def input_shape(self) -> tuple[int, int, int]:
        """The (C, H, W) shape a built model expects."""

    @abc.abstractmethod
    def sample_any(self, rng: random.Random) -> Hashable:
        """A uniformly random valid genome, whatever its cost."""

    def set_budget(
        self, max_macs: float | None, max_params: float | None, max_tries: int = 10_000
    ) -> None:
        """Checks and sets the budget (constructors call it with their arguments)."""
        self.max_macs = as_number("space.max_macs", max_macs, float, 0, optional=True)
        self.max_params = as_number("space.max_params", max_params, float, 0, optional=True)
        self.max_tries = as_number("space.max_tries", max_tries, int, 1)

    def sample(self, rng: random.Random) -> Hashable:
        """A random genome within the budget: :meth:`sample_any` by bounded rejection (one draw
        when unbounded); otherwise a one-line error with the closest cost it saw."""
        if self.max_macs is None and self.max_params is None:
            return self.sample_any(rng)
        closest: tuple[float, Cost] | None = None
        for _ in range(self.max_tries):
            genome = self.sample_any(rng)
            cost = self.cost(genome)
            if self.within_budget(cost):
                return genome
            excess = max(
                cost.macs / (self.max_macs or math.inf), cost.params / (self.max_params or math.inf)
            )
            if closest is None or excess < closest[0]:
                closest = (excess, cost)
        assert closest is not None
        cheapest = self.cheapest()
        floor = (
            "" if cheapest is None else f" (cheapest in space: {_cost_text(self.cost(cheapest))})"
        )
        raise EsnasInputError(
            f"no {self.name} genome under max_macs={self.max_macs}, max_params={self.max_params} "
            f"in {self.max_tries} tries; closest found {_cost_text(closest[1])}{floor}"
        )

    def within_budget(self, cost: Cost) -> bool:
        """Whether ``cost`` meets ``max_macs`` and ``max_params``."""
        return (self.max_macs is None or cost.macs <= self.max_macs) and (
            self.max_params is None or cost.params <= self.max_params
        )

    def feasible(self, genome: Hashable) -> bool:
        """Whether ``genome`` is within the budget (always, for an unbounded space): for callers
        without its cost at hand; the engine checks :meth:`within_budget` on the cost it has."""
        if self.max_macs is None and self.max_params is None:
            return True
        return self.within_budget(self.cost(genome))

    def cheapest(self) -> Hashable | None:
        """The genome with the fewest MACs where a space knows it (for budget errors)."""
        return None

    @abc.abstractmethod
    def mutate(self, genome: Hashable, group: GeneGroup, rng: random.Random) -> Hashable:
        """A copy of ``genome`` with one gene of ``group`` changed to a different valid value."""

    @abc.abstractmethod
    def genes(self, genome: Hashable, group: GeneGroup) -> dict[str, Any]:
        """The genes of ``group`` by name (e.g. ``{"edge0": "nor_conv_3x3", ...}``).

        What the operators' contract is stated in: :meth:`mutate` changes exactly one of these,
        :meth:`crossover_group` takes each from a parent and the other groups' from ``a``.
        Names may come and go with a size gene (an ESFormer stage's ops follow its depth).
        """

    @abc.abstractmethod
    def crossover(self, a: Hashable, b: Hashable, rng: random.Random) -> Hashable:
        """Uniform crossover: each gene taken from ``a`` or ``b`` with probability 1/2."""

    def crossover_group(
        self, a: Hashable, b: Hashable, group: GeneGroup, rng: random.Random
    ) -> Hashable:
        """Uniform crossover of the genes of ``group`` only, every other gene from ``a``.

        What keeps cyclic search's phases decoupled. A space with one group gets it for free;
        a space with both overrides it (or the search falls back to mutation only).
        """
        if tuple(self.gene_groups) == (group,):
            return self.crossover(a, b, rng)
        raise NotImplementedError(f"space {self.name!r} cannot cross the {group!r} genes alone")

    @abc.abstractmethod
    def encode(self, genome: Hashable) -> str:
        """The canonical string of ``genome`` (one string per genome, stable across versions)."""

    @abc.abstractmethod
    def decode(self, arch: str) -> Hashable:
        """Inverse of :meth:`encode`; raises :class:`EsnasInputError` naming the valid format."""

    @abc.abstractmethod
    def cost(self, genome: Hashable) -> Cost:
        """Params and MACs without building the model (cheap enough for the search loop)."""

    @abc.abstractmethod
    def build(self, genome: Hashable) -> nn.Module:
        """A freshly initialised ``nn.Module`` for ``genome``."""

    def from_index(self, index: int) -> Hashable:
        """The genome with ``index`` in ``range(num_archs)`` (enumerable spaces only)."""
        raise NotImplementedError(f"space {self.name!r} is not enumerable by index")

    def index_of(self, genome: Hashable) -> int:
        """Inverse of :meth:`from_index` (enumerable spaces only)."""
        raise NotImplementedError(f"space {self.name!r} is not enumerable by index")

    def has_group(self, group: GeneGroup) -> bool:
        return group in self.gene_groups

    def genome_dict(self, genome: Hashable) -> dict[str, Any] | None:
        """``genome`` as readable nested fields for ``best_arch.yaml`` where the canonical
        string is not self-explanatory (ESFormer's stages); ``None``: the string says it all."""
        return None

    def describe(self) -> dict[str, Any]:
        """Plain-dict facts about the space for logs and result files (part of the score
        cache's key: a new field here is a cache miss for every score)."""
        return {"name": self.name, "gene_groups": list(self.gene_groups)}

    def benchmark_genomes(self) -> list[Hashable] | None:
        """The genomes a benchmark trained (those :meth:`ground_truth` knows): every genome of
        an enumerable benchmark space; spaces that hold more than their benchmark (ViT-Bench-101)
        override it; ``None`` for an open space without one."""
        if self.num_archs is None:
            return None
        return [self.from_index(i) for i in range(self.num_archs)]

    def ground_truth(self, genome: Hashable) -> dict[str, float]:
        """Known trained accuracies of ``genome`` (benchmark spaces), ``{}`` where none exist;
        a search reports them beside its answer, so sweeps need no separate lookup."""
        return {}

    def traits(self, genome: Hashable) -> dict[str, float]:
        """Numeric structural facts of ``genome`` (e.g. attention blocks) that sweep tables
        report beside its cost, ``{}`` where the space has none worth a column."""
        return {}


def _cost_text(cost: Cost) -> str:
    return f"{cost.macs / 1e9:.3f} GMACs / {cost.params / 1e6:.2f}M params"


def create_space(name: str, **kwargs: Any) -> SearchSpace:
    """Instantiates the space registered as ``name``."""
    return SPACES.get(name)(**kwargs)
