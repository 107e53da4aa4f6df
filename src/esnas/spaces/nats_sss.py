"""NATS-Bench size search space (NATS-SSS): 32,768 channel configurations on one fixed cell.

Every network is AutoDL's ``DynamicShapeTinyNet`` with the cell ``SSS_CELL``: a stem, then
5 layers (cell, reduction block, cell, reduction block, cell) whose output widths are the 5
genes, each one of 8, 16, ..., 64. All genes are ``size`` genes; there is no topology to
search. The canonical string is NATS' own (``"8:16:32:48:64"``) and the index is NATS' (the
mixed-radix order of ``itertools.product`` over the 5 genes, first gene most significant,
as NATS' ``traverse_net`` enumerates them: 0 = ``8:8:8:8:8``, 32,767 = ``64:64:64:64:64``).
"""

from __future__ import annotations

import functools
import itertools
import numbers
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from esnas.models.nb201 import EDGES, SSS_CELL, NATSSizeNetwork, parse_arch_str, size_reductions
from esnas.spaces.base import Cost, GeneGroup, register_space
from esnas.spaces.nb201 import NATSDatasetSpace
from esnas.utils.errors import EsnasInputError

CHANNEL_CHOICES: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
"""NATS-SSS candidate widths of every layer."""

NUM_LAYERS = 5
NUM_ARCHS = len(CHANNEL_CHOICES) ** NUM_LAYERS  # 32,768
FORMAT = "C0:C1:C2:C3:C4 (e.g. 8:16:32:48:64) with each C in {8, 16, 24, 32, 40, 48, 56, 64}"
_CHANNEL_STRS = {str(c): c for c in CHANNEL_CHOICES}
_CONV_K = {"nor_conv_1x1": 1, "nor_conv_3x3": 9}
_SSS_OPS = parse_arch_str(SSS_CELL)


@dataclass(frozen=True)
class NATSSizeGenome:
    """One NATS-SSS network: the output widths of its 5 layers; immutable and hashable.

    Attributes:
        channels: widths of layers 0-4 (layer 0's width is also the stem's), each in
            ``CHANNEL_CHOICES``.
    """

    channels: tuple[int, ...]

    def __post_init__(self) -> None:
        # Lists from YAML/JSON become tuples so the genome stays hashable.
        channels = tuple(self.channels)
        if len(channels) != NUM_LAYERS or not all(
            isinstance(c, numbers.Integral) and not isinstance(c, bool) and c in CHANNEL_CHOICES
            for c in channels
        ):
            raise EsnasInputError(f"bad NATS-SSS channels {channels!r}; expected {FORMAT}")
        # Why int(): numpy integers become plain ints, so the string and hash stay canonical.
        object.__setattr__(self, "channels", tuple(int(c) for c in channels))

    @classmethod
    def from_arch_str(cls, arch: str) -> NATSSizeGenome:
        """Parses NATS' string (``ValueError`` naming the format and valid widths if malformed)."""
        tokens = arch.split(":") if isinstance(arch, str) else []
        if len(tokens) != NUM_LAYERS or any(t not in _CHANNEL_STRS for t in tokens):
            raise EsnasInputError(f"bad NATS-SSS arch {arch!r}; expected {FORMAT}")
        return cls(tuple(_CHANNEL_STRS[t] for t in tokens))

    @property
    def arch_str(self) -> str:
        """NATS' canonical string, e.g. ``"8:16:32:48:64"``."""
        return ":".join(map(str, self.channels))

    def __str__(self) -> str:
        return self.arch_str


def enumerate_genomes() -> list[NATSSizeGenome]:
    """All 32,768 genomes in NATS index order."""
    return [NATSSizeGenome(c) for c in itertools.product(CHANNEL_CHOICES, repeat=NUM_LAYERS)]


def count_cost(
    channels: Sequence[int],
    num_classes: int,
    hw: tuple[int, int],
    ops: Sequence[str] = _SSS_OPS,
) -> Cost:
    """Exact params and conv+linear MACs of ``NATSSizeNetwork(channels, num_classes)``.

    Counts what ``torch.utils.flop_counter.FlopCounterMode`` counts (convolutions and the
    linear layer; FLOPs = 2 × MACs there); BN, ReLU, pooling and additions are not counted.
    Params include every BN's weight and bias (running stats are buffers), as NATS reports.
    """
    h, w = hw
    c0 = channels[0]
    params, macs = 27 * c0 + 2 * c0, 27 * c0 * h * w  # stem conv 3x3 + BN
    c_prev = c0
    for c, reduction in zip(channels, size_reductions(len(channels)), strict=True):
        if reduction:
            h, w = (h + 1) // 2, (w + 1) // 2  # conv 3x3 stride 2 padding 1
            # conv_a, conv_b (each conv + BN) and the AvgPool + 1x1 conv shortcut (no BN).
            weights = 9 * c_prev * c + 9 * c * c + c_prev * c
            params += weights + 4 * c
            macs += weights * h * w
        else:
            for op, (i, _) in zip(ops, EDGES, strict=True):
                c_in = c_prev if i == 0 else c
                k = _CONV_K.get(op, 1 if op == "skip_connect" and c_in != c else 0)
                if k:  # a conv, or a skip that became a FactorizedReduce (1x1 conv + BN)
                    params += k * c_in * c + 2 * c
                    macs += k * c_in * c * h * w
        c_prev = c
    params += 2 * c_prev + c_prev * num_classes + num_classes  # lastact BN + classifier
    return Cost(params=params, macs=macs + c_prev * num_classes)


@functools.lru_cache(maxsize=NUM_ARCHS * 3)
def _cost(channels: tuple[int, ...], num_classes: int, hw: tuple[int, int]) -> Cost:
    return count_cost(channels, num_classes, hw)


@register_space("nats_sss")
class NATSSizeSpace(NATSDatasetSpace):
    """The NATS-SSS channel space at one NB201 dataset's input shape and head.

    Args:
        dataset: ``cifar10``, ``cifar100`` or ``ImageNet16-120``.
    """

    name = "nats_sss"
    gene_groups: tuple[GeneGroup, ...] = ("size",)
    num_archs = NUM_ARCHS
    genome_type = NATSSizeGenome

    def sample_any(self, rng: random.Random) -> NATSSizeGenome:
        """Uniform over all 32,768 genomes (each width drawn independently)."""
        return NATSSizeGenome(tuple(rng.choice(CHANNEL_CHOICES) for _ in range(NUM_LAYERS)))

    def mutate(self, genome: Hashable, group: GeneGroup, rng: random.Random) -> NATSSizeGenome:
        """Changes exactly one uniformly chosen layer to a different, uniformly chosen width."""
        genome = self._check(genome)
        if group != "size":
            raise EsnasInputError(
                f"NATS-SSS has no {group!r} genes; valid groups: {self.gene_groups}"
            )
        layer = rng.randrange(NUM_LAYERS)
        channels = list(genome.channels)
        channels[layer] = rng.choice([c for c in CHANNEL_CHOICES if c != channels[layer]])
        return NATSSizeGenome(tuple(channels))

    def genes(self, genome: Hashable, group: GeneGroup) -> dict[str, Any]:
        """The width of each of the five layers (size); NATS-SSS has no topology genes."""
        channels = self._check(genome).channels
        return {f"layer{i}": c for i, c in enumerate(channels)} if group == "size" else {}

    def crossover(self, a: Hashable, b: Hashable, rng: random.Random) -> NATSSizeGenome:
        """Uniform crossover: each layer's width from ``a`` or ``b`` with probability 1/2."""
        a, b = self._check(a), self._check(b)
        return NATSSizeGenome(
            tuple(
                x if rng.random() < 0.5 else y for x, y in zip(a.channels, b.channels, strict=True)
            )
        )

    def index_of(self, genome: Hashable) -> int:
        """The NATS-SSS index (0..32,767) of ``genome``: its mixed-radix value, base 8."""
        index = 0
        for c in self._check(genome).channels:
            index = index * len(CHANNEL_CHOICES) + CHANNEL_CHOICES.index(c)
        return index

    def from_index(self, index: int) -> NATSSizeGenome:
        """The genome with NATS-SSS index ``index``."""
        if not 0 <= index < NUM_ARCHS:
            raise EsnasInputError(f"NATS-SSS index must be in 0..{NUM_ARCHS - 1}, got {index}")
        digits = []
        for _ in range(NUM_LAYERS):
            index, d = divmod(index, len(CHANNEL_CHOICES))
            digits.append(CHANNEL_CHOICES[d])
        return NATSSizeGenome(tuple(reversed(digits)))

    def cost(self, genome: Hashable) -> Cost:
        """Exact params (NATS' count) and conv+linear MACs, computed analytically and cached."""
        return _cost(self._check(genome).channels, self.num_classes, self._input_shape[1:])

    def build(self, genome: Hashable) -> nn.Module:
        return NATSSizeNetwork(self._check(genome).channels, num_classes=self.num_classes)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "channel_choices": list(CHANNEL_CHOICES),
            "cell": SSS_CELL,
        }
