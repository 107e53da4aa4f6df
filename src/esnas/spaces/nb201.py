"""NAS-Bench-201 / NATS-Bench TSS: 15,625 cells of 6 edges × 5 ops, plus their ground truth.

The genome is the cell (one gene per edge, all in the ``topology`` group; the macro net is
fixed, so there are no ``size`` genes). Official indices and ground truth come from the CSVs
in ``esnas/data/nb201`` (see the ``PROVENANCE.md`` there); the index order is NB201's own, not
an enumeration order, so it is read from the ``index, arch_str`` columns of the accuracy file.
"""

from __future__ import annotations

import csv
import functools
import itertools
import random
from collections.abc import Hashable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from torch import nn

from esnas.models.nb201 import (
    EDGES,
    NUM_NODES,
    OP_NAMES,
    NB201Network,
    count_macs,
    count_params,
    parse_arch_str,
    to_arch_str,
)
from esnas.spaces.base import Cost, GeneGroup, SearchSpace, register_space
from esnas.utils.errors import EsnasInputError

NUM_ARCHS = len(OP_NAMES) ** len(EDGES)  # 15,625

DATASETS: dict[str, tuple[tuple[int, int, int], int]] = {
    "cifar10": ((3, 32, 32), 10),
    "cifar100": ((3, 32, 32), 100),
    "ImageNet16-120": ((3, 16, 16), 120),
}
"""NB201 dataset name → (input shape, number of classes)."""

_CSV_SUFFIX = {"cifar10": "c10", "cifar100": "c100", "ImageNet16-120": "in16"}
PROXIES: tuple[str, ...] = ("logsynflow", "synflow", "naswot", "nregions", "zen")


def data_dir() -> Path:
    """Folder of the packaged NB201 CSVs (resolved through ``importlib.resources``)."""
    return Path(str(resources.files("esnas") / "data" / "nb201"))


def check_dataset(dataset: str) -> str:
    """Returns ``dataset`` if it is an NB201 dataset, else raises a one-line ``ValueError``."""
    if dataset not in DATASETS:
        raise EsnasInputError(f"unknown NB201 dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    return dataset


@dataclass(frozen=True)
class NB201Genome:
    """One NB201 cell: 6 op names in official edge order (``EDGES``); immutable and hashable."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        to_arch_str(self.ops)  # validates length and op names

    @classmethod
    def from_arch_str(cls, arch: str) -> NB201Genome:
        """Parses an official ``arch_str`` (``ValueError`` naming the format if malformed)."""
        return cls(parse_arch_str(arch))

    @property
    def arch_str(self) -> str:
        return to_arch_str(self.ops)

    def __str__(self) -> str:
        return self.arch_str


def live_edges(genome: NB201Genome) -> tuple[bool, ...]:
    """Which edges lie on some input→output path that avoids ``none`` ops.

    Why: ops off every such path cannot influence the output (their gradients are zero), which
    is where data-free proxies like LogSynflow degenerate.
    """
    edges = [e for e, op in zip(EDGES, genome.ops, strict=True) if op != "none"]
    from_input = {0}
    for i, j in edges:  # EDGES is topologically ordered
        if i in from_input:
            from_input.add(j)
    to_output = {NUM_NODES - 1}
    for i, j in reversed(edges):
        if j in to_output:
            to_output.add(i)
    return tuple(
        op != "none" and i in from_input and j in to_output
        for op, (i, j) in zip(genome.ops, EDGES, strict=True)
    )


def is_connected(genome: NB201Genome) -> bool:
    """Whether the cell's output depends on its input (some path without a ``none`` op)."""
    return any(live_edges(genome))


@functools.lru_cache(maxsize=1)
def _index_table() -> tuple[tuple[str, ...], dict[str, int]]:
    """Official index → arch_str (and back), read once from the accuracy CSV."""
    with open(data_dir() / "nb201_tss_accuracy.csv", newline="") as f:
        rows = [(int(r["index"]), r["arch_str"]) for r in csv.DictReader(f)]
    archs = [""] * len(rows)
    for i, arch in rows:
        archs[i] = arch
    return tuple(archs), {arch: i for i, arch in enumerate(archs)}


def all_genomes() -> list[NB201Genome]:
    """All 15,625 cells in official index order."""
    return [NB201Genome.from_arch_str(a) for a in _index_table()[0]]


def enumerate_genomes() -> list[NB201Genome]:
    """All 15,625 cells as the product of op choices per edge (independent of the CSV)."""
    return [NB201Genome(ops) for ops in itertools.product(OP_NAMES, repeat=len(EDGES))]


@functools.lru_cache(maxsize=65536)
def _cost(ops: tuple[str, ...], num_classes: int, hw: tuple[int, int]) -> Cost:
    return Cost(params=count_params(ops, num_classes), macs=count_macs(ops, num_classes, hw))


class NATSDatasetSpace(SearchSpace):
    """What NB201 and NATS-SSS share: one NB201 dataset's input shape and head, and genomes of
    ``genome_type`` with an ``arch_str`` (their canonical string) and ``from_arch_str``.

    Args:
        dataset: ``cifar10``, ``cifar100`` or ``ImageNet16-120``.
        max_macs: Optional MACs budget that :meth:`sample` respects.
        max_params: Optional parameter budget that :meth:`sample` respects.
        max_tries: Rejection-sampling attempts before :meth:`sample` gives up.
    """

    genome_type: type

    def __init__(
        self,
        dataset: str = "cifar10",
        max_macs: float | None = None,
        max_params: float | None = None,
        max_tries: int = 10_000,
    ) -> None:
        self.dataset = check_dataset(dataset)
        self._input_shape, self.num_classes = DATASETS[dataset]
        self.set_budget(max_macs, max_params, max_tries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dataset={self.dataset!r})"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self._input_shape

    def _check(self, genome: Hashable) -> Any:
        if not isinstance(genome, self.genome_type):
            name = self.genome_type.__name__
            raise TypeError(f"expected a {name}, got {type(genome).__name__}")
        return genome

    def encode(self, genome: Hashable) -> str:
        return self._check(genome).arch_str

    def decode(self, arch: str) -> Any:
        return self.genome_type.from_arch_str(arch)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "dataset": self.dataset,
            "input_shape": list(self._input_shape),
            "num_classes": self.num_classes,
            "size": self.num_archs,
        }


@register_space("nb201")
class NB201Space(NATSDatasetSpace):
    """The NB201 cell space at one dataset's input shape and head.

    Args:
        dataset: ``cifar10``, ``cifar100`` or ``ImageNet16-120``.
    """

    name = "nb201"
    gene_groups: tuple[GeneGroup, ...] = ("topology",)
    num_archs = NUM_ARCHS
    genome_type = NB201Genome

    def ground_truth(self, genome: Hashable) -> dict[str, float]:
        """NATS 200-epoch test accuracy (%) on every dataset, e.g. ``test_acc/cifar10``."""
        truth = NB201GroundTruth.load()
        arch = self.encode(genome)
        return {f"test_acc/{d}": truth.test_accuracy(arch, d) for d in DATASETS}

    def sample_any(self, rng: random.Random) -> NB201Genome:
        """Uniform over all 15,625 cells (each edge's op drawn independently)."""
        return NB201Genome(tuple(rng.choice(OP_NAMES) for _ in EDGES))

    def mutate(self, genome: Hashable, group: GeneGroup, rng: random.Random) -> NB201Genome:
        """Changes exactly one uniformly chosen edge to a different, uniformly chosen op."""
        genome = self._check(genome)
        if group != "topology":
            raise EsnasInputError(f"NB201 has no {group!r} genes; valid groups: {self.gene_groups}")
        edge = rng.randrange(len(EDGES))
        ops = list(genome.ops)
        ops[edge] = rng.choice([op for op in OP_NAMES if op != ops[edge]])
        return NB201Genome(tuple(ops))

    def genes(self, genome: Hashable, group: GeneGroup) -> dict[str, Any]:
        """The op on each of the six edges (topology); NB201 has no size genes."""
        ops = self._check(genome).ops
        return {f"edge{i}": op for i, op in enumerate(ops)} if group == "topology" else {}

    def crossover(self, a: Hashable, b: Hashable, rng: random.Random) -> NB201Genome:
        """Uniform crossover: each edge's op from ``a`` or ``b`` with probability 1/2."""
        a, b = self._check(a), self._check(b)
        return NB201Genome(
            tuple(x if rng.random() < 0.5 else y for x, y in zip(a.ops, b.ops, strict=True))
        )

    def index_of(self, genome: Hashable) -> int:
        """The official NB201 / NATS-TSS index (0..15,624) of ``genome``."""
        return _index_table()[1][self.encode(genome)]

    def from_index(self, index: int) -> NB201Genome:
        """The cell with official index ``index``."""
        if not 0 <= index < NUM_ARCHS:
            raise EsnasInputError(f"NB201 index must be in 0..{NUM_ARCHS - 1}, got {index}")
        return self.decode(_index_table()[0][index])

    def cost(self, genome: Hashable) -> Cost:
        """Exact params (equal to NATS' count) and conv+linear MACs, computed analytically."""
        return _cost(self._check(genome).ops, self.num_classes, self._input_shape[1:])

    def build(self, genome: Hashable) -> nn.Module:
        return NB201Network(self._check(genome).ops, num_classes=self.num_classes)


class NB201GroundTruth:
    """Published NB201 test accuracies and FreeREA proxies, loaded once, keyed by official index.

    Args:
        directory: folder with ``nb201_tss_accuracy.csv`` and ``nb201_proxies_full.csv``;
            defaults to the packaged copy.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        import pandas as pd  # why here: only ground-truth users pay for importing pandas

        root = Path(directory) if directory is not None else data_dir()
        acc = pd.read_csv(root / "nb201_tss_accuracy.csv", index_col="index")
        self.accuracy = acc.sort_index()
        proxies = pd.read_csv(root / "nb201_proxies_full.csv")
        self.proxies = proxies.set_index(["dataset", "index"]).sort_index()
        self._by_arch = {a: i for i, a in self.accuracy["arch_str"].items()}

    @classmethod
    @functools.lru_cache(maxsize=1)
    def load(cls) -> NB201GroundTruth:
        """The packaged ground truth, read from disk only on the first call."""
        return cls()

    def index(self, key: int | str | NB201Genome) -> int:
        """Official index of ``key`` (an index, an ``arch_str`` or a genome)."""
        if isinstance(key, NB201Genome):
            key = key.arch_str
        if isinstance(key, str):
            if key not in self._by_arch:
                parse_arch_str(key)  # raises the format error for malformed strings
            return self._by_arch[key]
        if not 0 <= int(key) < NUM_ARCHS:
            raise EsnasInputError(f"NB201 index must be in 0..{NUM_ARCHS - 1}, got {key}")
        return int(key)

    def test_accuracy(self, key: int | str | NB201Genome, dataset: str = "cifar10") -> float:
        """Test accuracy (%) after NATS' 200-epoch schedule, mean over seeds."""
        col = f"{_CSV_SUFFIX[check_dataset(dataset)]}_test"
        return float(self.accuracy.at[self.index(key), col])

    def test_accuracies(self, dataset: str = "cifar10") -> Any:
        """All test accuracies of ``dataset`` as a Series indexed by official index."""
        return self.accuracy[f"{_CSV_SUFFIX[check_dataset(dataset)]}_test"]

    def best(self, dataset: str = "cifar10") -> tuple[int, float]:
        """(index, test accuracy) of the best cell on ``dataset``."""
        acc = self.test_accuracies(dataset)
        return int(acc.idxmax()), float(acc.max())

    def best_accuracy(self, dataset: str = "cifar10") -> float:
        """The highest test accuracy (%) of any cell on ``dataset`` (e.g. 94.373 on CIFAR-10)."""
        return self.best(dataset)[1]

    def params(self, key: int | str | NB201Genome, dataset: str = "cifar10") -> float:
        """NATS' parameter count in millions (6 decimals, as stored)."""
        col = f"params_M_{_CSV_SUFFIX[check_dataset(dataset)]}"
        return float(self.accuracy.at[self.index(key), col])

    def proxy(self, key: int | str | NB201Genome, name: str, dataset: str = "cifar10") -> float:
        """FreeREA's (or NASLib's, for ``zen``) published proxy value of one cell."""
        return float(self.proxy_values(name, dataset).at[self.index(key)])

    def proxy_values(self, name: str, dataset: str = "cifar10") -> Any:
        """All published values of proxy ``name`` on ``dataset``, indexed by official index."""
        if name not in PROXIES:
            raise EsnasInputError(f"unknown NB201 proxy {name!r}; valid: {', '.join(PROXIES)}")
        return self.proxies.loc[check_dataset(dataset), name]
