"""ViT-Bench-101 (Auto-Prox, Wei et al., AAAI 2024): AutoFormer-Ti and PiT search spaces with
the benchmark's trained accuracies.

The benchmark trained 200 AutoFormer-Ti subnets and 100 PiT subnets from scratch on CIFAR-100,
Flowers and Chaoyang with distillation (all 300) and without (the PiT ones and 100 of the
AutoFormer ones), and evaluated the AutoFormer ones with AutoFormer's ImageNet supernet weights.
The two spaces here are the full search spaces those networks were drawn from (the benchmark's
own choice sets and sampler), so sampling, mutation and crossover work as in any space;
:meth:`~ViTBenchSpace.ground_truth` answers for the 300 benchmark networks (``{}`` elsewhere),
from the CSVs in ``esnas/data/vitbench`` (its ``PROVENANCE.md`` says where from and how they
were converted).

Input and head are the benchmark's CIFAR-100 configs (``configs/auto/*/..._c100_base.yaml``):
``MODEL.IMG_SIZE`` is left at its 224 default, so CIFAR images are resized to 3x224x224, and
``NUM_CLASSES`` is 100. Models are built as the benchmark's ``AutoFormerSub`` and ``PiT`` build
them (same modules and shapes, hence the same parameter counts), from timm's ViT blocks.

Gene groups, and why this split. Topology here means *what each position of the network holds*,
size *the network-wide dimensions*, the convention of the ESFormer space (per-position block
ops are topology; depth, width and expansion are size):

* AutoFormer: ``size`` = ``depth`` and ``embed_dim``; ``topology`` = ``heads<i>`` and
  ``mlp<i>``, the attention heads and MLP ratio of each layer (the names come and go with
  depth). Heads are the purest topology gene there is: at a fixed width they only re-partition
  the channels into independent attention maps, leaving params and MACs unchanged. The per-layer
  MLP ratio changes cost, but it is a per-layer block variant (like ESFormer's kernel per
  position), and it cannot be a size gene anyway: a depth step would add or drop such genes,
  and a mutation must change exactly one gene of its group.
* PiT: ``size`` only (``base_dim``, ``mlp_ratio``, ``depth0-2``, ``heads0-2``), as NATS-SSS.
  Every PiT choice is network-wide or per stage, and the heads are widths: a stage's embedding
  is ``base_dim * heads``, so a head step doubles or halves that stage. There is no choice of
  what a position holds at a fixed shape, hence no topology genes.
"""

from __future__ import annotations

import csv
import functools
import json
import numbers
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import torch
from timm.layers import PatchEmbed, trunc_normal_
from timm.models.pit import PoolingVisionTransformer
from timm.models.vision_transformer import Block
from torch import nn

from esnas.spaces.base import Cost, GeneGroup, SearchSpace, register_space
from esnas.utils.errors import EsnasInputError, as_number

IMG_SIZE = 224
"""The benchmark's ``MODEL.IMG_SIZE`` (its default; the c100 configs do not set it)."""
INPUT_SHAPE: tuple[int, int, int] = (3, IMG_SIZE, IMG_SIZE)
NUM_CLASSES = 100
"""CIFAR-100's; the benchmark's Flowers configs have 102 classes, its Chaoyang ones 4."""
PATCH_SIZE = 16
PIT_STRIDE = 8
"""PiT's patch embedding: a 16x16 conv with stride 8 and no padding (27x27 tokens at 224)."""
LN_EPS = 1e-6
"""The benchmark's ``TRANSFORMER.LN_EPS``: every LayerNorm's epsilon."""

AF_EMBED_DIMS: tuple[int, ...] = (192, 216, 240)
AF_DEPTHS: tuple[int, ...] = (12, 13, 14)
AF_HEADS: tuple[int, ...] = (3, 4)
AF_MLP_RATIOS: tuple[float, ...] = (3.5, 4.0)
"""AutoFormer-Ti's choices (``AUTOFORMER_SEARCH_SPACE``): one embed dim and depth per network,
heads and MLP ratio per layer."""

PIT_BASE_DIMS: tuple[int, ...] = (16, 24, 32, 40)
PIT_MLP_RATIOS: tuple[int, ...] = (2, 4, 6, 8)
PIT_STAGE_DEPTHS: tuple[tuple[int, ...], ...] = ((1, 2, 3), (4, 6, 8), (2, 4, 6))
PIT_HEADS: tuple[int, ...] = (2, 4, 8)
"""PiT's per-stage choices (``PIT_SEARCH_SPACE``): base (head) dim and MLP ratio per network,
depth and heads per stage."""
PIT_DEPTH_TRIPLES: tuple[tuple[int, int, int], ...] = (
    (1, 6, 6), (1, 8, 4), (2, 4, 6), (2, 6, 4), (2, 6, 6),
    (2, 8, 2), (2, 8, 4), (3, 4, 6), (3, 6, 4), (3, 8, 2),
)  # fmt: skip
PIT_HEAD_TRIPLES: tuple[tuple[int, int, int], ...] = (
    (2, 2, 2), (2, 2, 4), (2, 2, 8), (2, 4, 4), (2, 4, 8),
    (2, 8, 8), (4, 4, 4), (4, 4, 8), (4, 8, 8), (8, 8, 8),
)  # fmt: skip
"""The lists the benchmark's PiT sampler draws from (``sample_trial_configs``): the per-stage
depths with 12-14 blocks in all, and the non-decreasing head triples (a stage's depthwise
pooling conv needs the next width to be a multiple of its own)."""

AF_FORMAT = (
    "e<embed dim>|h<heads>m<mlp ratio> for each of 12-14 layers, embed dim in 192/216/240, "
    "heads in 3/4, mlp ratio in 3.5/4.0, e.g. 'e216|h3m3.5|h4m4.0|...'"
)
PIT_FORMAT = (
    "b<base dim>|m<mlp ratio>|d<depths>|h<heads> with base dim in 16/24/32/40, mlp ratio in "
    "2/4/6/8, depths one of "
    + ", ".join("-".join(map(str, t)) for t in PIT_DEPTH_TRIPLES)
    + " and heads a non-decreasing triple of 2/4/8, e.g. 'b32|m4|d2-6-4|h2-4-8'"
)
ACCURACIES: tuple[str, ...] = (
    "c100_base", "c100_kd", "flowers_base", "flowers_kd", "chaoyang_base", "chaoyang_kd",
)  # fmt: skip
"""Top-1 test accuracy (%) columns of both CSVs: dataset, then trained alone or with KD."""
AF_EXTRA = ("imagenet_supernet",)
"""AutoFormer only: ImageNet top-1 (%) of the subnet with AutoFormer's supernet weights."""


def data_dir() -> Path:
    """Folder of the packaged ViT-Bench-101 CSVs (resolved through ``importlib.resources``)."""
    return Path(str(resources.files("esnas") / "data" / "vitbench"))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    """A list or tuple as a tuple (YAML and JSON give lists); anything else as ``()``, which
    no genome accepts, so a bad type is the same one-line input error as a bad value."""
    return tuple(value) if isinstance(value, (list, tuple)) else ()


_AF_EMBED_TOKENS = {f"e{e}": e for e in AF_EMBED_DIMS}
_AF_LAYER_TOKENS = {f"h{h}m{r:.1f}": (h, r) for h in AF_HEADS for r in AF_MLP_RATIOS}


# ---- genomes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class AutoFormerGenome:
    """One AutoFormer-Ti subnet: embed dim, and heads and MLP ratio of every layer (the depth is
    their length); immutable and hashable.

    Attributes:
        embed_dim: in ``AF_EMBED_DIMS``.
        heads: per layer, in ``AF_HEADS``.
        mlp_ratios: per layer, in ``AF_MLP_RATIOS`` (stored as floats).
    """

    embed_dim: int
    heads: tuple[int, ...]
    mlp_ratios: tuple[float, ...]

    def __post_init__(self) -> None:
        heads, ratios = _as_tuple(self.heads), _as_tuple(self.mlp_ratios)
        ok = (
            _is_int(self.embed_dim)
            and self.embed_dim in AF_EMBED_DIMS
            and len(heads) == len(ratios)
            and len(heads) in AF_DEPTHS
            and all(_is_int(h) and h in AF_HEADS for h in heads)
            and all(isinstance(r, numbers.Real) and r in AF_MLP_RATIOS for r in ratios)
        )
        if not ok:
            raise EsnasInputError(f"bad AutoFormer genome {self!r}; expected {AF_FORMAT}")
        # Why int()/float(): numpy numbers and 4 vs 4.0 must not make two strings or hashes.
        object.__setattr__(self, "embed_dim", int(self.embed_dim))
        object.__setattr__(self, "heads", tuple(int(h) for h in heads))
        object.__setattr__(self, "mlp_ratios", tuple(float(r) for r in ratios))

    @property
    def depth(self) -> int:
        return len(self.heads)

    @classmethod
    def from_arch_str(cls, arch: str) -> AutoFormerGenome:
        """Parses the canonical string (a one-line error naming the format if malformed)."""
        tokens = arch.split("|") if isinstance(arch, str) else []
        embed = _AF_EMBED_TOKENS.get(tokens[0]) if tokens else None
        layers = [_AF_LAYER_TOKENS.get(t) for t in tokens[1:]]
        if embed is None or None in layers or len(layers) not in AF_DEPTHS:
            raise EsnasInputError(f"bad AutoFormer arch {arch!r}; expected {AF_FORMAT}")
        return cls(embed, tuple(h for h, _ in layers), tuple(r for _, r in layers))  # type: ignore[misc]

    @property
    def arch_str(self) -> str:
        """``e<embed>|h<heads>m<ratio>|...``, one token per layer, e.g. ``e216|h3m3.5|...``."""
        layers = (f"h{h}m{r:.1f}" for h, r in zip(self.heads, self.mlp_ratios, strict=True))
        return "|".join((f"e{self.embed_dim}", *layers))

    def __str__(self) -> str:
        return self.arch_str


@dataclass(frozen=True)
class PiTGenome:
    """One PiT subnet: base (head) dim and MLP ratio of the network, depth and heads of each of
    its 3 stages; immutable and hashable. Stage ``s`` is ``base_dim * heads[s]`` wide."""

    base_dim: int
    mlp_ratio: int
    depths: tuple[int, int, int]
    heads: tuple[int, int, int]

    def __post_init__(self) -> None:
        depths, heads = _as_tuple(self.depths), _as_tuple(self.heads)
        ok = (
            all(_is_int(v) for v in (self.base_dim, self.mlp_ratio, *depths, *heads))
            and self.base_dim in PIT_BASE_DIMS
            and self.mlp_ratio in PIT_MLP_RATIOS
            and depths in PIT_DEPTH_TRIPLES
            and heads in PIT_HEAD_TRIPLES
        )
        if not ok:
            raise EsnasInputError(f"bad PiT genome {self!r}; expected {PIT_FORMAT}")
        object.__setattr__(self, "base_dim", int(self.base_dim))
        object.__setattr__(self, "mlp_ratio", int(self.mlp_ratio))
        object.__setattr__(self, "depths", tuple(int(d) for d in depths))
        object.__setattr__(self, "heads", tuple(int(h) for h in heads))

    @property
    def widths(self) -> tuple[int, ...]:
        """Embedding width of each stage (``base_dim * heads``)."""
        return tuple(self.base_dim * h for h in self.heads)

    @classmethod
    def from_arch_str(cls, arch: str) -> PiTGenome:
        """Parses the canonical string (a one-line error naming the format if malformed)."""
        tokens = arch.split("|") if isinstance(arch, str) else []
        if [t[:1] for t in tokens] != ["b", "m", "d", "h"]:
            raise EsnasInputError(f"bad PiT arch {arch!r}; expected {PIT_FORMAT}")
        try:
            b, m = int(tokens[0][1:]), int(tokens[1][1:])
            depths = tuple(int(x) for x in tokens[2][1:].split("-"))
            heads = tuple(int(x) for x in tokens[3][1:].split("-"))
            genome = cls(b, m, depths, heads)  # type: ignore[arg-type]
        except ValueError:
            raise EsnasInputError(f"bad PiT arch {arch!r}; expected {PIT_FORMAT}") from None
        if genome.arch_str != arch:  # "b032", "m+4": not canonical
            raise EsnasInputError(f"bad PiT arch {arch!r}; expected {PIT_FORMAT}")
        return genome

    @property
    def arch_str(self) -> str:
        """``b<base>|m<ratio>|d<d0>-<d1>-<d2>|h<h0>-<h1>-<h2>``, e.g. ``b32|m4|d2-6-4|h2-4-8``."""
        d, h = "-".join(map(str, self.depths)), "-".join(map(str, self.heads))
        return f"b{self.base_dim}|m{self.mlp_ratio}|d{d}|h{h}"

    def __str__(self) -> str:
        return self.arch_str


# ---- the networks ----------------------------------------------------------------------------
_layer_norm = partial(nn.LayerNorm, eps=LN_EPS)


def _init_weights(m: nn.Module) -> None:
    """The benchmark's AutoFormer init: linears trunc-normal (std .02) with zero bias, LayerNorms
    1 and 0; the patch conv keeps PyTorch's default."""
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


class AutoFormerNet(nn.Module):
    """The benchmark's ``AutoFormerSub`` for one genome, in timm's ViT layout (``patch_embed``,
    ``cls_token``, ``pos_embed``, ``blocks.<i>``, ``norm``, ``head``) so metrics find its parts.

    As the benchmark's: a 16x16 patch conv, a class token and learned position embedding, pre-norm
    blocks (qkv with bias, GELU MLP of ``int(dim * ratio)``), a final LayerNorm, then the head on
    the mean of the *patch* tokens (the class token is carried but not read). No drop path: the
    benchmark's 0.1 is a training regulariser, and a freshly built model is scored, not trained.
    """

    def __init__(self, genome: AutoFormerGenome, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        dim = genome.embed_dim
        self.patch_embed = PatchEmbed(IMG_SIZE, PATCH_SIZE, INPUT_SHAPE[0], dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, dim))
        self.blocks = nn.Sequential(
            *(
                Block(dim, h, r, qkv_bias=True, norm_layer=_layer_norm)
                for h, r in zip(genome.heads, genome.mlp_ratios, strict=True)
            )
        )
        self.norm = _layer_norm(dim)
        self.head = nn.Linear(dim, num_classes)
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 1:].mean(dim=1))


class PiTNet(PoolingVisionTransformer):
    """The benchmark's ``PiT``: timm's ``PoolingVisionTransformer`` is the same network (the
    benchmark's is a port of the official PiT, as timm's is): a 16x16 stride-8 patch conv, a
    27x27 position embedding, 3 stages of pre-norm blocks (``base_dim * heads`` wide) joined by
    depthwise stride-2 conv pooling (plus a linear for the class token), a final LayerNorm on the
    class token and the head on it; the same modules, shapes and init. Layout: ``patch_embed``,
    ``cls_token``, ``pos_embed``, ``transformers.<s>.blocks.<i>``, ``transformers.<s>.pool``.
    """

    def __init__(self, genome: PiTGenome, num_classes: int = NUM_CLASSES) -> None:
        super().__init__(
            img_size=IMG_SIZE,
            patch_size=PATCH_SIZE,
            stride=PIT_STRIDE,
            base_dims=[genome.base_dim] * len(genome.depths),
            depth=list(genome.depths),
            heads=list(genome.heads),
            mlp_ratio=genome.mlp_ratio,
            num_classes=num_classes,
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """timm's, with the class token repeated rather than expanded (the same values).

        Why: under ``no_grad`` an expanded parameter is a leaf view that still says it requires
        grad, and module hooks that track autograd (``FlopCounterMode``) fail on it when it is
        passed to ``transformers``; a repeat is an ordinary tensor.
        """
        x = self.pos_drop(self.patch_embed(x) + self.pos_embed)
        cls_tokens = self.cls_token.repeat(x.shape[0], 1, 1)
        x, cls_tokens = self.transformers((x, cls_tokens))
        return self.norm(cls_tokens)


# ---- analytic cost ---------------------------------------------------------------------------
def _block_cost(dim: int, mlp_ratio: float, tokens: int) -> tuple[int, int]:
    """(params, MACs) of one pre-norm block on ``tokens`` tokens.

    Params: qkv and proj, fc1 and fc2 with their biases, two LayerNorms. MACs: the four linears
    per token plus ``q @ kᵀ`` and ``attn @ v`` (``tokens² * dim`` each, whatever the heads:
    that is why heads are cost-free); no LayerNorm, GELU, softmax or residual adds.
    """
    hidden = int(dim * mlp_ratio)
    weights = 4 * dim * dim + 2 * dim * hidden
    params = weights + 3 * dim + dim + hidden + dim + 4 * dim
    return params, tokens * weights + 2 * tokens * tokens * dim


def _conv_cost(c_in: int, c_out: int, k: int, side_out: int, groups: int = 1) -> tuple[int, int]:
    """(params, MACs) of a square conv with bias: weights + bias, weights per output pixel."""
    weights = c_in // groups * c_out * k * k
    return weights + c_out, weights * side_out * side_out


@functools.lru_cache(maxsize=65536)
def autoformer_cost(genome: AutoFormerGenome, num_classes: int = NUM_CLASSES) -> Cost:
    """Exact params and MACs of :class:`AutoFormerNet` at 3x224x224, without building it.

    MACs count what ``FlopCounterMode`` counts (flops / 2): convs, linears (no bias) and the
    attention matmuls; so does every space here.
    """
    dim, side = genome.embed_dim, IMG_SIZE // PATCH_SIZE
    tokens = side * side + 1
    params, macs = _conv_cost(INPUT_SHAPE[0], dim, PATCH_SIZE, side)
    params += dim + tokens * dim  # class token, position embedding
    for ratio in genome.mlp_ratios:
        p, m = _block_cost(dim, ratio, tokens)
        params, macs = params + p, macs + m
    params += 2 * dim + dim * num_classes + num_classes  # final LayerNorm, head
    return Cost(params=params, macs=macs + dim * num_classes)


@functools.lru_cache(maxsize=65536)
def pit_cost(genome: PiTGenome, num_classes: int = NUM_CLASSES) -> Cost:
    """Exact params and MACs of :class:`PiTNet` at 3x224x224, without building it (MACs as
    :func:`autoformer_cost`; a pooling step is a depthwise 3x3 stride-2 conv on the patch tokens
    and a linear on the class token)."""
    widths = genome.widths
    side = (IMG_SIZE - PATCH_SIZE) // PIT_STRIDE + 1
    params, macs = _conv_cost(INPUT_SHAPE[0], widths[0], PATCH_SIZE, side)
    params += widths[0] * side * side + widths[0]  # position embedding, class token
    for s, (width, depth) in enumerate(zip(widths, genome.depths, strict=True)):
        if s:
            side = (side + 2 - 3) // 2 + 1
            p, m = _conv_cost(widths[s - 1], width, 3, side, groups=widths[s - 1])
            fc = widths[s - 1] * width
            params, macs = params + p + fc + width, macs + m + fc
        p, m = _block_cost(width, genome.mlp_ratio, side * side + 1)
        params, macs = params + depth * p, macs + depth * m
    params += 2 * widths[-1] + widths[-1] * num_classes + num_classes
    return Cost(params=params, macs=macs + widths[-1] * num_classes)


# ---- the spaces ------------------------------------------------------------------------------
class ViTBenchSpace(SearchSpace):
    """What both ViT-Bench-101 spaces share: input, head, budget and ground-truth lookup.

    Neither is enumerable by index: AutoFormer-Ti holds 1,056,964,608 networks, and PiT's 1,600
    are left open too, since ``sample.n: all`` over them would score 1,500 networks without
    ground truth at 224 px. :meth:`benchmark_genomes` lists the benchmark's networks (the ones
    with ground truth), to score as ``sample.archs``.

    Args:
        num_classes: The head's classes (100, CIFAR-100, the benchmark's params; 102 Flowers,
            4 Chaoyang, as its other configs).
        max_macs: Optional MACs budget that :meth:`sample` respects.
        max_params: Optional parameter budget that :meth:`sample` respects.
        max_tries: Rejection-sampling attempts before :meth:`sample` gives up.
    """

    kind: ClassVar[str] = ""
    genome_type: ClassVar[type] = object

    def __init__(
        self,
        num_classes: int = NUM_CLASSES,
        max_macs: float | None = None,
        max_params: float | None = None,
        max_tries: int = 10_000,
    ) -> None:
        self.num_classes = as_number("space.num_classes", num_classes, int, 1)
        self.set_budget(max_macs, max_params, max_tries)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_classes={self.num_classes}, max_macs={self.max_macs}, "
            f"max_params={self.max_params})"
        )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return INPUT_SHAPE

    def _check(self, genome: Hashable) -> Any:
        if not isinstance(genome, self.genome_type):
            raise TypeError(f"expected a {self.genome_type.__name__}, got {type(genome).__name__}")
        return genome

    def encode(self, genome: Hashable) -> str:
        return self._check(genome).arch_str

    def decode(self, arch: str) -> Any:
        return self.genome_type.from_arch_str(arch)

    def benchmark_genomes(self) -> list[Hashable]:
        """The benchmark's networks in the CSV's order (the ones :meth:`ground_truth` knows)."""
        return [self.decode(a) for a in ViTBenchGroundTruth.load(self.kind).rows]

    def ground_truth(self, genome: Hashable) -> dict[str, float]:
        """Top-1 test accuracy (%) of a benchmark network, ``test_acc/<column>`` for each column
        it has (``c100_base``, ``c100_kd``, ``flowers_base``, ...; see ``PROVENANCE.md``);
        ``{}`` for a genome the benchmark did not train."""
        row = ViTBenchGroundTruth.load(self.kind).rows.get(self.encode(genome))
        if row is None:
            return {}
        return {f"test_acc/{k}": v for k, v in row.items() if k in _ACC_SET and v is not None}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "benchmark": "ViT-Bench-101",
            "input_shape": list(INPUT_SHAPE),
            "num_classes": self.num_classes,
        }


_ACC_SET = frozenset((*ACCURACIES, *AF_EXTRA))


def _pick(rng: random.Random, x: Any, y: Any) -> Any:
    """``x`` or ``y`` with probability 1/2 (one draw either way, so seeds stay aligned)."""
    return x if rng.random() < 0.5 else y


def _other(rng: random.Random, choices: Sequence[Any], current: Any) -> Any:
    return rng.choice([c for c in choices if c != current])


def _resize(values: tuple[Any, ...], depth: int) -> tuple[Any, ...]:
    """``values`` cut to ``depth`` or extended by repeating the last (a size step that adds a
    layer copies the last layer's heads and ratio: it never invents a block variant)."""
    return values[:depth] + values[-1:] * (depth - len(values))


def _unknown_group(space: SearchSpace, group: str) -> EsnasInputError:
    return EsnasInputError(
        f"{space.name} has no {group!r} genes; valid groups: {', '.join(space.gene_groups)}"
    )


@register_space("vitbench_autoformer")
class ViTBenchAutoFormerSpace(ViTBenchSpace):
    """AutoFormer-Ti as ViT-Bench-101 searched it: depth 12/13/14, embed dim 192/216/240, and
    per layer 3 or 4 heads and MLP ratio 3.5 or 4.0 (about 1.06e9 networks). Genes: ``size``
    ``depth``, ``embed_dim``; ``topology`` ``heads<i>``, ``mlp<i>`` per layer (module docstring:
    why). Ground truth for the benchmark's 200 networks (:class:`ViTBenchGroundTruth`)."""

    name = "vitbench_autoformer"
    kind = "autoformer"
    genome_type = AutoFormerGenome
    gene_groups: tuple[GeneGroup, ...] = ("topology", "size")

    def sample_any(self, rng: random.Random) -> AutoFormerGenome:
        """The benchmark's sampler: a depth, then heads and ratio of each layer, then the embed
        dim, each uniform (so a depth is as likely as any other, not weighted by its count)."""
        depth = rng.choice(AF_DEPTHS)
        ratios = tuple(rng.choice(AF_MLP_RATIOS) for _ in range(depth))
        heads = tuple(rng.choice(AF_HEADS) for _ in range(depth))
        return AutoFormerGenome(rng.choice(AF_EMBED_DIMS), heads, ratios)

    def cheapest(self) -> AutoFormerGenome:
        """Depth 12, embed dim 192, MLP ratio 3.5 everywhere (heads cost nothing)."""
        depth = min(AF_DEPTHS)
        return AutoFormerGenome(min(AF_EMBED_DIMS), (AF_HEADS[0],) * depth, (3.5,) * depth)

    def genes(self, genome: Hashable, group: GeneGroup) -> dict[str, Any]:
        """Size: ``depth``, ``embed_dim``; topology: ``heads<i>`` and ``mlp<i>`` per layer."""
        g = self._check(genome)
        if group == "size":
            return {"depth": g.depth, "embed_dim": g.embed_dim}
        if group == "topology":
            return {
                **{f"heads{i}": h for i, h in enumerate(g.heads)},
                **{f"mlp{i}": r for i, r in enumerate(g.mlp_ratios)},
            }
        return {}

    def mutate(self, genome: Hashable, group: GeneGroup, rng: random.Random) -> AutoFormerGenome:
        """One gene of ``group`` changed: the depth (layers cut or the last one repeated) or the
        embed dim (size), or one layer's heads or MLP ratio flipped (topology)."""
        g = self._check(genome)
        heads, ratios, embed = g.heads, g.mlp_ratios, g.embed_dim
        if group == "size":
            if rng.random() < 0.5:
                embed = _other(rng, AF_EMBED_DIMS, embed)
            else:
                depth = _other(rng, AF_DEPTHS, g.depth)
                heads, ratios = _resize(heads, depth), _resize(ratios, depth)
        elif group == "topology":
            i = rng.randrange(2 * g.depth)
            if i < g.depth:
                heads = (*heads[:i], _other(rng, AF_HEADS, heads[i]), *heads[i + 1 :])
            else:
                i -= g.depth
                ratios = (*ratios[:i], _other(rng, AF_MLP_RATIOS, ratios[i]), *ratios[i + 1 :])
        else:
            raise _unknown_group(self, group)
        return AutoFormerGenome(embed, heads, ratios)

    def crossover(self, a: Hashable, b: Hashable, rng: random.Random) -> AutoFormerGenome:
        """Uniform crossover: depth and embed dim from either parent; each layer's heads and
        ratio from either parent that has the layer (from the deeper one past the other's end)."""
        a, b = self._check(a), self._check(b)
        depth, embed = _pick(rng, a.depth, b.depth), _pick(rng, a.embed_dim, b.embed_dim)
        heads = tuple(_layer(rng, a.heads, b.heads, i) for i in range(depth))
        ratios = tuple(_layer(rng, a.mlp_ratios, b.mlp_ratios, i) for i in range(depth))
        return AutoFormerGenome(embed, heads, ratios)

    def crossover_group(
        self, a: Hashable, b: Hashable, group: GeneGroup, rng: random.Random
    ) -> AutoFormerGenome:
        """Uniform crossover of one group, every other gene from ``a``: ``size`` draws depth and
        embed dim and fits ``a``'s layers to the depth (cut, or the last repeated); ``topology``
        keeps ``a``'s depth and takes each layer's heads and ratio from ``b`` with probability
        1/2 where ``b`` has that layer."""
        a, b = self._check(a), self._check(b)
        if group == "size":
            depth, embed = _pick(rng, a.depth, b.depth), _pick(rng, a.embed_dim, b.embed_dim)
            return AutoFormerGenome(embed, _resize(a.heads, depth), _resize(a.mlp_ratios, depth))
        if group != "topology":
            raise _unknown_group(self, group)
        heads = tuple(_layer(rng, a.heads, b.heads[: a.depth], i) for i in range(a.depth))
        ratios = tuple(
            _layer(rng, a.mlp_ratios, b.mlp_ratios[: a.depth], i) for i in range(a.depth)
        )
        return AutoFormerGenome(a.embed_dim, heads, ratios)

    def cost(self, genome: Hashable) -> Cost:
        """Exact params (the benchmark's model's) and MACs, analytic and cached."""
        return autoformer_cost(self._check(genome), self.num_classes)

    def build(self, genome: Hashable) -> nn.Module:
        return AutoFormerNet(self._check(genome), self.num_classes)

    def genome_dict(self, genome: Hashable) -> dict[str, Any]:
        """The benchmark's own config fields (``hidden_dim``, ``depth``, ``num_heads``,
        ``mlp_ratio``), as its ``arch_config`` dicts hold them."""
        g = self._check(genome)
        return {
            "hidden_dim": g.embed_dim,
            "depth": g.depth,
            "num_heads": list(g.heads),
            "mlp_ratio": list(g.mlp_ratios),
        }

    def describe(self) -> dict[str, Any]:
        choices = {"embed_dim": AF_EMBED_DIMS, "depth": AF_DEPTHS, "heads": AF_HEADS}
        choices["mlp_ratio"] = AF_MLP_RATIOS
        return {**super().describe(), "choices": {k: list(v) for k, v in choices.items()}}


def _layer(rng: random.Random, xs: tuple[Any, ...], ys: tuple[Any, ...], i: int) -> Any:
    """Layer ``i``'s value from ``xs`` or ``ys``: a draw where both have the layer, else the one
    that has it."""
    if i < len(xs) and i < len(ys):
        return _pick(rng, xs[i], ys[i])
    return xs[i] if i < len(xs) else ys[i]


_PIT_CHOICES: dict[str, tuple[int, ...]] = {
    "base_dim": PIT_BASE_DIMS,
    "mlp_ratio": PIT_MLP_RATIOS,
    **{f"depth{s}": d for s, d in enumerate(PIT_STAGE_DEPTHS)},
    **{f"heads{s}": PIT_HEADS for s in range(len(PIT_STAGE_DEPTHS))},
}
_CROSS_TRIES = 16


def _pit_from_genes(genes: dict[str, int]) -> PiTGenome | None:
    """The genome of ``genes``, or ``None`` where the depths or heads are not a valid triple."""
    stages = range(len(PIT_STAGE_DEPTHS))
    depths = tuple(genes[f"depth{s}"] for s in stages)
    heads = tuple(genes[f"heads{s}"] for s in stages)
    if depths not in PIT_DEPTH_TRIPLES or heads not in PIT_HEAD_TRIPLES:
        return None
    return PiTGenome(genes["base_dim"], genes["mlp_ratio"], depths, heads)  # type: ignore[arg-type]


def _cross_triple(rng: random.Random, x: tuple[int, ...], y: tuple[int, ...], valid: Any) -> Any:
    """Per-stage uniform crossover of a constrained triple: redrawn until valid, and after
    ``_CROSS_TRIES`` draws the whole triple of one parent (always valid)."""
    for _ in range(_CROSS_TRIES):
        child = tuple(_pick(rng, p, q) for p, q in zip(x, y, strict=True))
        if child in valid:
            return child
    return _pick(rng, x, y)


@register_space("vitbench_pit")
class ViTBenchPiTSpace(ViTBenchSpace):
    """PiT as ViT-Bench-101 searched it: base dim 16/24/32/40, MLP ratio 2/4/6/8, per-stage
    depths (1-3, 4-8, 2-6; 12-14 blocks in all: 10 triples) and heads (2/4/8, non-decreasing:
    10 triples), 1,600 networks. All genes are ``size`` (module docstring: why). Ground truth
    for the benchmark's 100 networks (:class:`ViTBenchGroundTruth`)."""

    name = "vitbench_pit"
    kind = "pit"
    genome_type = PiTGenome
    gene_groups: tuple[GeneGroup, ...] = ("size",)

    def sample_any(self, rng: random.Random) -> PiTGenome:
        """The benchmark's sampler: each of ratio, heads triple, base dim and depth triple
        uniform from its list (uniform over all 1,600 networks)."""
        ratio, heads = rng.choice(PIT_MLP_RATIOS), rng.choice(PIT_HEAD_TRIPLES)
        base, depths = rng.choice(PIT_BASE_DIMS), rng.choice(PIT_DEPTH_TRIPLES)
        return PiTGenome(base, ratio, depths, heads)

    def cheapest(self) -> PiTGenome:
        """Base dim 16, MLP ratio 2, 2 heads everywhere, the depths with the fewest MACs."""
        nets = (PiTGenome(16, 2, d, (2, 2, 2)) for d in PIT_DEPTH_TRIPLES)
        return min(nets, key=lambda g: pit_cost(g, self.num_classes).macs)

    def genes(self, genome: Hashable, group: GeneGroup) -> dict[str, Any]:
        """Size: ``base_dim``, ``mlp_ratio``, ``depth<s>`` and ``heads<s>`` per stage."""
        g = self._check(genome)
        if group != "size":
            return {}
        return {
            "base_dim": g.base_dim,
            "mlp_ratio": g.mlp_ratio,
            **{f"depth{s}": d for s, d in enumerate(g.depths)},
            **{f"heads{s}": h for s, h in enumerate(g.heads)},
        }

    def mutate(self, genome: Hashable, group: GeneGroup, rng: random.Random) -> PiTGenome:
        """One gene changed to another value that keeps the genome valid: a gene is drawn among
        those that have one (every network has several), then one of its valid values."""
        if group != "size":
            raise _unknown_group(self, group)
        genes = self.genes(genome, "size")
        moves: dict[str, list[PiTGenome]] = {}
        for name, current in genes.items():
            for value in _PIT_CHOICES[name]:
                child = _pit_from_genes({**genes, name: value}) if value != current else None
                if child is not None:
                    moves.setdefault(name, []).append(child)
        return rng.choice(moves[rng.choice(sorted(moves))])

    def crossover(self, a: Hashable, b: Hashable, rng: random.Random) -> PiTGenome:
        """Uniform crossover: base dim and ratio from either parent; each stage's depth and
        heads from either parent, redrawn while the triple is invalid (see ``_cross_triple``)."""
        a, b = self._check(a), self._check(b)
        base, ratio = _pick(rng, a.base_dim, b.base_dim), _pick(rng, a.mlp_ratio, b.mlp_ratio)
        depths = _cross_triple(rng, a.depths, b.depths, PIT_DEPTH_TRIPLES)
        heads = _cross_triple(rng, a.heads, b.heads, PIT_HEAD_TRIPLES)
        return PiTGenome(base, ratio, depths, heads)

    def cost(self, genome: Hashable) -> Cost:
        """Exact params (the benchmark's model's) and MACs, analytic and cached."""
        return pit_cost(self._check(genome), self.num_classes)

    def build(self, genome: Hashable) -> nn.Module:
        return PiTNet(self._check(genome), self.num_classes)

    def genome_dict(self, genome: Hashable) -> dict[str, Any]:
        """The benchmark's own config fields (``base_dim``, ``mlp_ratio``, ``depth``,
        ``num_heads``), as its ``arch_config`` dicts hold them."""
        g = self._check(genome)
        return {
            "base_dim": g.base_dim,
            "mlp_ratio": g.mlp_ratio,
            "depth": list(g.depths),
            "num_heads": list(g.heads),
        }

    def describe(self) -> dict[str, Any]:
        choices = {
            "base_dim": list(PIT_BASE_DIMS),
            "mlp_ratio": list(PIT_MLP_RATIOS),
            "depths": [list(t) for t in PIT_DEPTH_TRIPLES],
            "heads": [list(t) for t in PIT_HEAD_TRIPLES],
        }
        return {**super().describe(), "choices": choices}


# ---- ground truth ----------------------------------------------------------------------------
KINDS: dict[str, tuple[str, ...]] = {
    "autoformer": ("hidden_dim", "depth", "num_heads", "mlp_ratio"),
    "pit": ("base_dim", "mlp_ratio", "depth", "num_heads"),
}
"""Kind -> the benchmark's ``arch`` fields, the CSV's raw config columns (JSON values)."""
NUM_ROWS = {"autoformer": 200, "pit": 100}


def columns(kind: str) -> tuple[str, ...]:
    """The CSV columns of ``kind``: string, provenance, raw config, accuracies (%)."""
    extra = AF_EXTRA if kind == "autoformer" else ()
    return ("arch", "source", "source_index", *KINDS[kind], *ACCURACIES, *extra)


def genome_of(kind: str, arch: dict[str, Any]) -> AutoFormerGenome | PiTGenome:
    """The genome of one of the benchmark's ``arch`` dicts (an input error if it is outside the
    space, or if its AutoFormer ``depth`` disagrees with its per-layer lists)."""
    if kind == "pit":
        return PiTGenome(arch["base_dim"], arch["mlp_ratio"], arch["depth"], arch["num_heads"])
    genome = AutoFormerGenome(arch["hidden_dim"], arch["num_heads"], arch["mlp_ratio"])
    if genome.depth != arch["depth"]:
        raise EsnasInputError(f"AutoFormer arch {arch!r}: depth differs from its layer lists")
    return genome


class ViTBenchGroundTruth:
    """One of the benchmark's tables, loaded once: rows keyed by the canonical string, in file
    order, with numbers as numbers and missing accuracies as ``None``.

    Args:
        kind: ``autoformer`` or ``pit``.
        path: the CSV; defaults to the packaged ``<kind>.csv``.
    """

    def __init__(self, kind: str, path: str | Path | None = None) -> None:
        if kind not in KINDS:
            raise EsnasInputError(f"unknown ViT-Bench kind {kind!r}; valid: {', '.join(KINDS)}")
        path = Path(path) if path is not None else data_dir() / f"{kind}.csv"
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != columns(kind):
                raise EsnasInputError(f"{path} columns are not {', '.join(columns(kind))}")
            self.rows = {r["arch"]: _typed(r) for r in reader}
        for arch, row in self.rows.items():
            if genome_of(kind, {k: row[k] for k in KINDS[kind]}).arch_str != arch:
                raise EsnasInputError(f"{path}: arch {arch!r} disagrees with its config columns")

    @classmethod
    @functools.lru_cache(maxsize=2)
    def load(cls, kind: str) -> ViTBenchGroundTruth:
        """The packaged table of ``kind``, read from disk only on the first call."""
        truth = cls(kind)
        if len(truth.rows) != NUM_ROWS[kind]:
            raise EsnasInputError(f"packaged {kind}.csv has {len(truth.rows)} rows")
        return truth


def _typed(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row with the raw config parsed from JSON, accuracies as floats (``None`` if empty)."""
    out: dict[str, Any] = {"arch": row["arch"], "source": row["source"]}
    out["source_index"] = int(row["source_index"])
    for key, value in row.items():
        if key in _ACC_SET:
            out[key] = float(value) if value else None
        elif key not in out:
            out[key] = json.loads(value)
    return out
