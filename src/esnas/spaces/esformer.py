"""The ESFormer hybrid CNN-Transformer space: block ops are topology, the rest is size.

Entropic Score searches the *topology* genes (which block, with which kernel, at every
position of every stage); LogSynflow searches the *size* genes (depth, width and expansion
per stage, stem width, attention head dim). See ``docs/esformer_space.md``.

A genome stores one op per active block, so depth is the length of a stage's op list and
there are no inert positional genes: mutating depth up repeats the stage's last op (a size
mutation never invents a new block type), mutating it down drops trailing blocks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from torch import nn

from esnas.models.esformer import ARCH_FORMAT, ESFormer, parse_arch
from esnas.models.esformer_blocks import ALL_OPS, ATTN_TYPES, CONV_OPS
from esnas.spaces.base import GENE_GROUPS, Cost, GeneGroup, SearchSpace, register_space
from esnas.utils.errors import EsnasInputError, as_number

STEM_WIDTHS: tuple[int, ...] = (16, 24, 32)
HEAD_DIMS: tuple[int, ...] = (16, 32, 64)
EXPANSIONS: tuple[int, ...] = (2, 3, 4, 6)
STAGE_WIDTHS: tuple[tuple[int, ...], ...] = (
    (16, 24, 32, 48, 64),
    (32, 48, 64, 80, 96, 128),
    (64, 80, 96, 112, 128, 160, 192, 224, 256, 288),
    (96, 128, 160, 192, 224, 256, 288, 320, 384, 448, 512),
)
STAGE_DEPTHS: tuple[tuple[int, ...], ...] = (
    (1, 2, 3),
    (1, 2, 3, 4),
    tuple(range(2, 10)),
    (1, 2, 3, 4),
)
# Attention starts late: downsampled-KV attention from stage 2 (28x28 tokens at 224), global
# attention from stage 3 (14x14), where quadratic attention is affordable on mobile budgets.
STAGE_OPS: tuple[tuple[str, ...], ...] = (
    CONV_OPS,
    (*CONV_OPS, "ka"),
    ALL_OPS,
    ALL_OPS,
)
NUM_STAGES = 4
FORMAT = ARCH_FORMAT


def _check(value: Any, valid: Sequence[Any], what: str) -> None:
    if value not in valid:
        raise EsnasInputError(f"{what} {value!r} invalid; valid: {', '.join(map(str, valid))}")


@dataclass(frozen=True)
class ESFormerGenome:
    """One ESFormer architecture; validated on creation, hashable, with a canonical string.

    Attributes:
        stem_width: Channels of the first stem conv.
        head_dim: Attention head width (heads = max(1, width // head_dim)).
        widths: Channels of stages 1-4.
        expansions: MBConv expansion / MLP ratio of stages 1-4.
        blocks: Per stage, the op of every block (its length is the stage depth).
    """

    stem_width: int
    head_dim: int
    widths: tuple[int, ...]
    expansions: tuple[int, ...]
    blocks: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        # Lists from YAML/JSON become tuples so the genome stays hashable.
        object.__setattr__(self, "widths", tuple(self.widths))
        object.__setattr__(self, "expansions", tuple(self.expansions))
        object.__setattr__(self, "blocks", tuple(tuple(ops) for ops in self.blocks))
        _check(self.stem_width, STEM_WIDTHS, "stem_width")
        _check(self.head_dim, HEAD_DIMS, "head_dim")
        for name in ("widths", "expansions", "blocks"):
            if len(getattr(self, name)) != NUM_STAGES:
                raise EsnasInputError(
                    f"{name} needs {NUM_STAGES} stages, got {getattr(self, name)!r}"
                )
        for i in range(NUM_STAGES):
            _check(self.widths[i], STAGE_WIDTHS[i], f"stage {i + 1} width")
            _check(self.expansions[i], EXPANSIONS, f"stage {i + 1} expansion")
            _check(len(self.blocks[i]), STAGE_DEPTHS[i], f"stage {i + 1} depth")
            for op in self.blocks[i]:
                _check(op, STAGE_OPS[i], f"stage {i + 1} op")

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(len(ops) for ops in self.blocks)

    def __str__(self) -> str:
        """Canonical string, e.g. ``s16h32|32e4:ir3,ir3|64e3:se3,cx5|112e3:ka,ka|192e3:sa``."""
        stages = (
            f"{w}e{e}:{','.join(ops)}"
            for w, e, ops in zip(self.widths, self.expansions, self.blocks, strict=True)
        )
        return f"s{self.stem_width}h{self.head_dim}|" + "|".join(stages)

    @classmethod
    def parse(cls, arch: str) -> ESFormerGenome:
        """Inverse of ``str(genome)``; raises ``ValueError`` naming the format."""
        return cls.from_dict(parse_arch(arch))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON-safe), also the form ``ESFormer`` is built from."""
        return {
            "stem_width": self.stem_width,
            "head_dim": self.head_dim,
            "stages": [
                {"width": w, "expansion": e, "blocks": list(ops)}
                for w, e, ops in zip(self.widths, self.expansions, self.blocks, strict=True)
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ESFormerGenome:
        """Inverse of :meth:`to_dict` (accepts OmegaConf containers and lists)."""
        try:
            stages = list(d["stages"])
            return cls(
                stem_width=int(d["stem_width"]),
                head_dim=int(d["head_dim"]),
                widths=tuple(int(s["width"]) for s in stages),
                expansions=tuple(int(s["expansion"]) for s in stages),
                blocks=tuple(tuple(str(op) for op in s["blocks"]) for s in stages),
            )
        except (KeyError, TypeError) as err:
            raise EsnasInputError(
                "ESFormer genome dict needs stem_width, head_dim and stages: [{width, expansion,"
                f" blocks}}] x{NUM_STAGES}; missing/bad {err}"
            ) from None


def _count_op_configs(attention: bool) -> int:
    """Number of per-stage op assignments over all depths (optionally conv ops only)."""
    total = 1
    for depths, ops in zip(STAGE_DEPTHS, STAGE_OPS, strict=True):
        n = len(ops) if attention else len(CONV_OPS)
        total *= sum(n**d for d in depths)
    return total


@register_space("esformer")
class ESFormerSpace(SearchSpace):
    """Hybrid CNN-Transformer space at mobile budgets (see ``docs/esformer_space.md``).

    Args:
        resolution: Square input side the costs are computed at (>= 32).
        num_classes: Classifier outputs (counted in the cost).
        max_macs: Optional MACs budget that :meth:`sample` respects.
        max_params: Optional parameter budget that :meth:`sample` respects.
        max_tries: Rejection-sampling attempts before :meth:`sample` gives up.
    """

    name = "esformer"
    gene_groups: tuple[GeneGroup, ...] = ("topology", "size")

    def __init__(
        self,
        resolution: int = 224,
        num_classes: int = 1000,
        max_macs: float | None = None,
        max_params: float | None = None,
        max_tries: int = 10_000,
    ) -> None:
        # ESFormer downsamples by 32, so a smaller input has no last stage
        self.resolution = as_number("space.resolution", resolution, int, 32)
        self.num_classes = as_number("space.num_classes", num_classes, int, 1)
        self.set_budget(max_macs, max_params, max_tries)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.resolution, self.resolution)

    # ---- sampling and variation -------------------------------------------------------
    def sample_any(self, rng: random.Random) -> ESFormerGenome:
        """Each gene uniform over its choices (depth first, then one op per block)."""
        depths = [rng.choice(d) for d in STAGE_DEPTHS]
        return ESFormerGenome(
            stem_width=rng.choice(STEM_WIDTHS),
            head_dim=rng.choice(HEAD_DIMS),
            widths=tuple(rng.choice(w) for w in STAGE_WIDTHS),
            expansions=tuple(rng.choice(EXPANSIONS) for _ in range(NUM_STAGES)),
            blocks=tuple(
                tuple(rng.choice(STAGE_OPS[i]) for _ in range(d)) for i, d in enumerate(depths)
            ),
        )

    def mutate(
        self, genome: ESFormerGenome, group: GeneGroup, rng: random.Random
    ) -> ESFormerGenome:
        """Changes one gene of ``group`` to a different valid value (budgets not enforced)."""
        g = genome
        if group == "topology":
            stage, pos = rng.choice([(i, j) for i, d in enumerate(g.depths) for j in range(d)])
            op = rng.choice([o for o in STAGE_OPS[stage] if o != g.blocks[stage][pos]])
            ops = list(g.blocks[stage])
            ops[pos] = op
            return _replace_stage(g, stage, blocks=tuple(ops))
        if group != "size":
            raise EsnasInputError(
                f"unknown gene group {group!r}; valid: {', '.join(self.gene_groups)}"
            )
        gene = rng.choice(
            ["stem_width", "head_dim"] + [f"{k}{i}" for k in "wed" for i in range(NUM_STAGES)]
        )
        if gene == "stem_width":
            return _replace(g, stem_width=rng.choice([v for v in STEM_WIDTHS if v != g.stem_width]))
        if gene == "head_dim":
            return _replace(g, head_dim=rng.choice([v for v in HEAD_DIMS if v != g.head_dim]))
        kind, i = gene[0], int(gene[1])
        if kind == "w":
            return _replace_stage(
                g, i, width=rng.choice([v for v in STAGE_WIDTHS[i] if v != g.widths[i]])
            )
        if kind == "e":
            return _replace_stage(
                g, i, expansion=rng.choice([v for v in EXPANSIONS if v != g.expansions[i]])
            )
        d = rng.choice([v for v in STAGE_DEPTHS[i] if v != g.depths[i]])
        ops = g.blocks[i][:d] + (g.blocks[i][-1],) * max(0, d - g.depths[i])
        return _replace_stage(g, i, blocks=ops)

    def genes(self, genome: ESFormerGenome, group: GeneGroup) -> dict[str, Any]:
        """Topology: the op at each block position (``op<stage>.<block>``); size: stem width,
        head dim, and each stage's width, expansion and depth."""
        if group == "topology":
            return {
                f"op{i}.{j}": op for i, ops in enumerate(genome.blocks) for j, op in enumerate(ops)
            }
        if group != "size":
            return {}
        per_stage = zip(genome.widths, genome.expansions, genome.depths, strict=True)
        return {"stem_width": genome.stem_width, "head_dim": genome.head_dim} | {
            f"{name}{i}": v
            for i, stage in enumerate(per_stage)
            for name, v in zip(("width", "expansion", "depth"), stage, strict=True)
        }

    def crossover(self, a: ESFormerGenome, b: ESFormerGenome, rng: random.Random) -> ESFormerGenome:
        """Uniform crossover of every gene; block ops are crossed position by position."""
        return self._cross(a, b, rng, topology=True, size=True)

    def crossover_group(
        self, a: ESFormerGenome, b: ESFormerGenome, group: GeneGroup, rng: random.Random
    ) -> ESFormerGenome:
        """Uniform crossover of one gene group, every other gene from ``a``.

        ``topology`` crosses block ops position-wise on ``a``'s depths; ``size`` crosses stem
        width, head dim, widths, expansions and depths, keeping ``a``'s ops (a deeper stage
        repeats ``a``'s last op, as :meth:`mutate` does, so a size step never invents a block).
        """
        if group not in GENE_GROUPS:
            raise EsnasInputError(f"unknown gene group {group!r}; valid: {', '.join(GENE_GROUPS)}")
        return self._cross(a, b, rng, topology=group == "topology", size=group == "size")

    @staticmethod
    def _cross(
        a: ESFormerGenome, b: ESFormerGenome, rng: random.Random, topology: bool, size: bool
    ) -> ESFormerGenome:
        def pick(x: Any, y: Any) -> Any:
            return x if rng.random() < 0.5 else y

        def keep(x: Any, y: Any) -> Any:
            return x

        op_gene, size_gene = (pick if topology else keep), (pick if size else keep)
        blocks = []
        for oa, ob in zip(a.blocks, b.blocks, strict=True):
            ops = []
            for j in range(size_gene(len(oa), len(ob))):
                if j < len(oa) and j < len(ob):
                    ops.append(op_gene(oa[j], ob[j]))
                elif j < len(oa):
                    ops.append(oa[j])
                else:  # only b is this deep: its op, or a's last op when ops are not crossed
                    ops.append(ob[j] if topology else oa[-1])
            blocks.append(tuple(ops))
        return ESFormerGenome(
            stem_width=size_gene(a.stem_width, b.stem_width),
            head_dim=size_gene(a.head_dim, b.head_dim),
            widths=tuple(size_gene(x, y) for x, y in zip(a.widths, b.widths, strict=True)),
            expansions=tuple(
                size_gene(x, y) for x, y in zip(a.expansions, b.expansions, strict=True)
            ),
            blocks=tuple(blocks),
        )

    # ---- codec, cost, build -----------------------------------------------------------
    def encode(self, genome: ESFormerGenome) -> str:
        return str(genome)

    def decode(self, arch: str) -> ESFormerGenome:
        return ESFormerGenome.parse(arch)

    def cost(self, genome: ESFormerGenome) -> Cost:
        """Analytic params/MACs at the space's resolution (exact vs. the built model)."""
        p, m = ESFormer.cost(genome.to_dict(), self.resolution, self.num_classes)
        return Cost(params=p, macs=m)

    def build(self, genome: ESFormerGenome, **kwargs: Any) -> nn.Module:
        """A freshly initialised :class:`~esnas.models.esformer.ESFormer` (kwargs go to it)."""
        return ESFormer(genome.to_dict(), num_classes=self.num_classes, **kwargs)

    def cheapest(self) -> ESFormerGenome:
        """The genome with the fewest MACs: smallest choice of every size gene, cheapest ops."""
        base = dict(stem_width=STEM_WIDTHS[0], head_dim=HEAD_DIMS[0])
        widths = tuple(w[0] for w in STAGE_WIDTHS)
        exps = (EXPANSIONS[0],) * NUM_STAGES
        blocks = []
        for i in range(NUM_STAGES):  # ops are independent, so pick each stage's cheapest alone

            def macs(op: str, i: int = i) -> int:
                trial = [(STAGE_OPS[j][0],) * STAGE_DEPTHS[j][0] for j in range(NUM_STAGES)]
                trial[i] = (op,) * STAGE_DEPTHS[i][0]
                g = ESFormerGenome(**base, widths=widths, expansions=exps, blocks=tuple(trial))
                return ESFormer.cost(g.to_dict(), self.resolution)[1]

            blocks.append((min(STAGE_OPS[i], key=macs),) * STAGE_DEPTHS[i][0])
        return ESFormerGenome(**base, widths=widths, expansions=exps, blocks=tuple(blocks))

    def size(self, distinct_models: bool = False) -> int:
        """Number of genomes; ``distinct_models`` merges genomes that differ only in an inert
        head_dim (no attention block), i.e. counts distinct networks."""
        rest = len(STEM_WIDTHS) * math.prod(len(w) for w in STAGE_WIDTHS)
        rest *= len(EXPANSIONS) ** NUM_STAGES
        ops_all, ops_conv = _count_op_configs(True), _count_op_configs(False)
        if distinct_models:
            return rest * (len(HEAD_DIMS) * (ops_all - ops_conv) + ops_conv)
        return rest * len(HEAD_DIMS) * ops_all

    def traits(self, genome: ESFormerGenome) -> dict[str, float]:
        """Block counts: does the search pick attention, and how deep is the answer?"""
        ops = [op for stage in genome.blocks for op in stage]
        return {"attention_blocks": sum(op in ATTN_TYPES for op in ops), "blocks": len(ops)}

    def genome_dict(self, genome: ESFormerGenome) -> dict[str, Any]:
        return genome.to_dict()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "resolution": self.resolution,
            "num_classes": self.num_classes,
            "max_macs": self.max_macs,
            "max_params": self.max_params,
            "size": self.size(),
            "attention_ops": list(ATTN_TYPES),
        }


def _replace(g: ESFormerGenome, **changes: Any) -> ESFormerGenome:
    return ESFormerGenome(**{f.name: changes.get(f.name, getattr(g, f.name)) for f in fields(g)})


def _replace_stage(
    g: ESFormerGenome,
    i: int,
    width: int | None = None,
    expansion: int | None = None,
    blocks: tuple[str, ...] | None = None,
) -> ESFormerGenome:
    def put(t: tuple[Any, ...], v: Any) -> tuple[Any, ...]:
        return t if v is None else (*t[:i], v, *t[i + 1 :])

    return _replace(
        g,
        widths=put(g.widths, width),
        expansions=put(g.expansions, expansion),
        blocks=put(g.blocks, blocks),
    )
