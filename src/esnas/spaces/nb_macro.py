"""NAS-Bench-Macro (Su et al., CVPR 2021): 6,561 CIFAR-10 networks and their ground truth.

Every network is a stem (3x3 conv, 32 channels), 8 searchable layers in 3 stages of 2, 3, 3
layers, and a head (1x1 conv to 1,280 channels, global pool, linear). The first layer of each
stage halves the resolution and doubles the channels (32 -> 64 -> 128 -> 256); each layer is
one of 3 blocks, written as one digit:

* ``0`` Identity: nothing, or where the layer downsamples, a 1x1 stride-2 conv + BN;
* ``1`` MobileNetV2 inverted residual, kernel 3, expansion 3;
* ``2`` MobileNetV2 inverted residual, kernel 5, expansion 6.

The canonical string is the benchmark's own key, the 8 digits in layer order (``"01202100"``);
the index is the benchmark's enumeration order (``itertools.product`` over ``"012"``, first
layer most significant), i.e. the string read in base 3. :func:`trained_as` names the network
the benchmark actually trained for a string (see there). Ground truth comes from the CSV in
``esnas/data/nb_macro`` (its ``PROVENANCE.md`` says where from and how it was converted).
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from esnas.spaces.base import Cost, GeneGroup, SearchSpace, register_space
from esnas.utils.errors import EsnasInputError

STAGES: tuple[int, ...] = (2, 3, 3)
"""Layers per stage; the first layer of each stage has stride 2 and doubles the channels."""
NUM_LAYERS = sum(STAGES)  # 8
NUM_ARCHS = 3**NUM_LAYERS  # 6,561
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
INPUT_SHAPE: tuple[int, int, int] = (3, 32, 32)
NUM_CLASSES = 10
OP_NAMES: tuple[str, ...] = ("id", "k3e3", "k5e6")
"""Readable name of each digit (0 Identity, 1 MB k3 e3, 2 MB k5 e6)."""
BLOCKS: dict[int, tuple[int, int]] = {1: (3, 3), 2: (5, 6)}
"""Digit of a MobileNetV2 block -> (kernel size, expansion ratio)."""
FORMAT = (
    "8 digits of 0/1/2, one per layer (0 Identity, 1 MobileNetV2 block k3 e3, 2 MobileNetV2 "
    "block k5 e6), e.g. '01202100'"
)
COLUMNS: tuple[str, ...] = (
    "arch", "test_acc_0", "test_acc_1", "test_acc_2", "mean_acc", "std", "params", "flops",
)  # fmt: skip
"""Columns of the packaged CSV (accuracies in %, params a count, flops in MACs)."""
CSV_NAME = "nb_macro_cifar10.csv"


def data_dir() -> Path:
    """Folder of the packaged NAS-Bench-Macro CSV (resolved through ``importlib.resources``)."""
    return Path(str(resources.files("esnas") / "data" / "nb_macro"))


def layer_plan() -> tuple[tuple[int, int, int], ...]:
    """``(in_channels, out_channels, stride)`` of the 8 layers, in order.

    Why one function: the builder and the analytic cost must agree on every layer's shape.
    """
    plan, channels = [], STEM_CHANNELS
    for depth in STAGES:
        plan.append((channels, 2 * channels, 2))
        channels *= 2
        plan.extend((channels, channels, 1) for _ in range(depth - 1))
    return tuple(plan)


@dataclass(frozen=True)
class NBMacroGenome:
    """One NAS-Bench-Macro network: the digit (0, 1 or 2) of each of its 8 layers; immutable
    and hashable."""

    ops: tuple[int, ...]

    def __post_init__(self) -> None:
        ops = tuple(self.ops)
        if len(ops) != NUM_LAYERS or not all(
            isinstance(o, int) and not isinstance(o, bool) and o in (0, 1, 2) for o in ops
        ):
            raise EsnasInputError(f"bad NAS-Bench-Macro layers {ops!r}; expected {FORMAT}")
        object.__setattr__(self, "ops", ops)

    @classmethod
    def from_arch_str(cls, arch: str) -> NBMacroGenome:
        """Parses the benchmark's key (a one-line error naming the format if malformed)."""
        if not isinstance(arch, str) or len(arch) != NUM_LAYERS or set(arch) - set("012"):
            raise EsnasInputError(f"bad NAS-Bench-Macro arch {arch!r}; expected {FORMAT}")
        return cls(tuple(int(c) for c in arch))

    @property
    def arch_str(self) -> str:
        """The benchmark's key, e.g. ``"01202100"``."""
        return "".join(map(str, self.ops))

    def __str__(self) -> str:
        return self.arch_str


def trained_as(arch: str) -> str:
    """The string of the network the benchmark trained for ``arch``.

    Why it matters: an Identity that does not downsample is a no-op, so within a stage only
    the order of the blocks after its first layer counts. The benchmark trained one network
    per such class (3,969 of them), the one with those Identities moved to the end of their
    stage, and copied its row to every other string of the class; so ``"00001000"`` and
    ``"00010000"`` share one row, and :meth:`NBMacroSpace.build` builds the same function for
    both.
    """
    ops, out, start = NBMacroGenome.from_arch_str(arch).arch_str, [], 0
    for depth in STAGES:
        rest = ops[start + 1 : start + depth]
        blocks = rest.replace("0", "")
        out.append(ops[start] + blocks + "0" * (len(rest) - len(blocks)))
        start += depth
    return "".join(out)


# ---- the network ---------------------------------------------------------------------------
def _conv_bn(inp: int, oup: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    """A bias-free conv with ``k // 2`` padding followed by BN, as every benchmark conv is."""
    conv = nn.Conv2d(inp, oup, k, stride, padding=k // 2, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(oup)]


class MacroIdentity(nn.Module):
    """Digit 0: the input unchanged, or a 1x1 conv + BN where the layer changes shape."""

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        reshape = stride != 1 or inp != oup
        self.downsample = nn.Sequential(*_conv_bn(inp, oup, 1, stride)) if reshape else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.downsample is None else self.downsample(x)


class MacroBlock(nn.Module):
    """Digits 1 and 2: MobileNetV2 inverted residual (1x1 expand, kxk depthwise, 1x1 project,
    ReLU after the first two), with a shortcut where input and output shapes agree."""

    def __init__(self, inp: int, oup: int, stride: int, kernel: int, expansion: int) -> None:
        super().__init__()
        hidden = inp * expansion
        self.conv = nn.Sequential(
            *_conv_bn(inp, hidden, 1),
            nn.ReLU(inplace=True),
            *_conv_bn(hidden, hidden, kernel, stride, groups=hidden),
            nn.ReLU(inplace=True),
            *_conv_bn(hidden, oup, 1),
        )
        self.use_shortcut = stride == 1 and inp == oup

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out + x if self.use_shortcut else out


def make_layer(op: int, inp: int, oup: int, stride: int) -> nn.Module:
    """The module of digit ``op`` for one layer's shape."""
    if op == 0:
        return MacroIdentity(inp, oup, stride)
    kernel, expansion = BLOCKS[op]
    return MacroBlock(inp, oup, stride, kernel, expansion)


class NBMacroNetwork(nn.Module):
    """The benchmark's CIFAR-10 network for one genome (PyTorch's default initialisation, as
    the benchmark's training script used); module names follow the benchmark's model."""

    def __init__(self, ops: Sequence[int], num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.arch_str = NBMacroGenome(tuple(ops)).arch_str  # validates
        self.stem = nn.Sequential(*_conv_bn(3, STEM_CHANNELS, 3), nn.ReLU(inplace=True))
        self.features = nn.Sequential(
            *(make_layer(op, *shape) for op, shape in zip(ops, layer_plan(), strict=True))
        )
        self.out = nn.Sequential(
            *_conv_bn(layer_plan()[-1][1], HEAD_CHANNELS, 1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.out(self.features(self.stem(x)))
        return self.classifier(torch.flatten(x, 1))


# ---- analytic cost -------------------------------------------------------------------------
def _conv_cost(inp: int, oup: int, k: int, hw_out: int, groups: int = 1) -> tuple[int, int]:
    """(params, MACs) of a bias-free conv and its BN (BN's affine weights, no MACs)."""
    weights = inp // groups * oup * k * k
    return weights + 2 * oup, weights * hw_out * hw_out


def _layer_cost(op: int, inp: int, oup: int, stride: int, hw: int) -> tuple[int, int, int]:
    """(params, MACs, output side) of one layer at input side ``hw``."""
    hw_out = (hw - 1) // stride + 1  # every conv pads k // 2
    if op == 0:
        if stride == 1 and inp == oup:
            return 0, 0, hw
        return (*_conv_cost(inp, oup, 1, hw_out), hw_out)
    kernel, expansion = BLOCKS[op]
    hidden = inp * expansion
    parts = (
        _conv_cost(inp, hidden, 1, hw),
        _conv_cost(hidden, hidden, kernel, hw_out, groups=hidden),
        _conv_cost(hidden, oup, 1, hw_out),
    )
    return sum(p for p, _ in parts), sum(m for _, m in parts), hw_out


@functools.lru_cache(maxsize=NUM_ARCHS)
def count_cost(ops: tuple[int, ...], num_classes: int = NUM_CLASSES) -> Cost:
    """Exact params and conv + linear MACs of :class:`NBMacroNetwork` at 32x32, no build.

    MACs count each conv's and the linear layer's multiply-accumulates (no BN, ReLU, adds or
    pooling): the benchmark's own ``flops`` convention, equal to its column for all 6,561
    networks, and to ``FlopCounterMode`` flops / 2.
    """
    hw = INPUT_SHAPE[1]
    params, macs = _conv_cost(3, STEM_CHANNELS, 3, hw)
    for op, shape in zip(ops, layer_plan(), strict=True):
        p, m, hw = _layer_cost(op, *shape, hw)
        params, macs = params + p, macs + m
    p, m = _conv_cost(layer_plan()[-1][1], HEAD_CHANNELS, 1, hw)
    linear = HEAD_CHANNELS * num_classes
    return Cost(params=params + p + linear + num_classes, macs=macs + m + linear)


# ---- the space -----------------------------------------------------------------------------
@register_space("nb_macro")
class NBMacroSpace(SearchSpace):
    """NAS-Bench-Macro's 6,561 networks on CIFAR-10 (input 3x32x32, 10 classes).

    Gene groups (why this split: depth and block type vary independently, as size and
    topology do in the other spaces):

    * ``size``: ``block<i>`` for each of the 8 layers, ``True`` where it holds a MobileNetV2
      block and ``False`` where it is Identity. Flipping one changes the depth (a downsampling
      layer's Identity still keeps its 1x1 conv). A layer a size step turns on repeats the
      block type of the nearest layer that has one (the earlier on a tie; ``k3e3`` where none
      has), so a size step never invents a block type.
    * ``topology``: ``op<i>`` in ``{"k3e3", "k5e6"}`` for each layer that holds a block (the
      names come and go with the ``size`` genes). Mutating it swaps one block's type.

    Args:
        max_macs: Optional MACs budget that :meth:`sample` respects.
        max_params: Optional parameter budget that :meth:`sample` respects.
        max_tries: Rejection-sampling attempts before :meth:`sample` gives up.
    """

    name = "nb_macro"
    gene_groups: tuple[GeneGroup, ...] = ("topology", "size")
    num_archs = NUM_ARCHS

    def __init__(
        self,
        max_macs: float | None = None,
        max_params: float | None = None,
        max_tries: int = 10_000,
    ) -> None:
        self.num_classes = NUM_CLASSES
        self.set_budget(max_macs, max_params, max_tries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_macs={self.max_macs}, max_params={self.max_params})"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return INPUT_SHAPE

    @staticmethod
    def _check(genome: Hashable) -> NBMacroGenome:
        if not isinstance(genome, NBMacroGenome):
            raise TypeError(f"expected an NBMacroGenome, got {type(genome).__name__}")
        return genome

    def encode(self, genome: Hashable) -> str:
        return self._check(genome).arch_str

    def decode(self, arch: str) -> NBMacroGenome:
        return NBMacroGenome.from_arch_str(arch)

    def sample_any(self, rng: random.Random) -> NBMacroGenome:
        """Uniform over all 6,561 strings (each layer's digit drawn independently)."""
        return NBMacroGenome(tuple(rng.randrange(3) for _ in range(NUM_LAYERS)))

    def cheapest(self) -> NBMacroGenome:
        """All Identity: the fewest MACs and params of the space."""
        return NBMacroGenome((0,) * NUM_LAYERS)

    def genes(self, genome: Hashable, group: GeneGroup) -> dict[str, Any]:
        """Size: ``block<i>`` (a block, not Identity) per layer; topology: ``op<i>`` per block."""
        ops = self._check(genome).ops
        if group == "size":
            return {f"block{i}": op != 0 for i, op in enumerate(ops)}
        if group == "topology":
            return {f"op{i}": OP_NAMES[op] for i, op in enumerate(ops) if op}
        return {}

    def mutate(
        self, genome: Hashable, group: GeneGroup, rng: random.Random
    ) -> NBMacroGenome | None:
        """One gene of ``group`` changed: a layer turned Identity or back into a block (size),
        or one block's type swapped (topology).

        ``None`` for topology when every layer is Identity (there is no type to swap): the
        search engine takes ``None`` as a failed draw and draws again.
        """
        ops = list(self._check(genome).ops)
        if group == "size":
            i = rng.randrange(NUM_LAYERS)
            ops[i] = 0 if ops[i] else _inherited_block(ops, i)
        elif group == "topology":
            blocks = [i for i, op in enumerate(ops) if op]
            if not blocks:
                return None
            i = rng.choice(blocks)
            ops[i] = 3 - ops[i]  # 1 <-> 2
        else:
            raise EsnasInputError(f"unknown gene group {group!r}; valid: topology, size")
        return NBMacroGenome(tuple(ops))

    def crossover(self, a: Hashable, b: Hashable, rng: random.Random) -> NBMacroGenome:
        """Uniform crossover: each layer's digit (presence and type together) from ``a`` or
        ``b`` with probability 1/2."""
        a, b = self._check(a), self._check(b)
        pairs = zip(a.ops, b.ops, strict=True)
        return NBMacroGenome(tuple(x if rng.random() < 0.5 else y for x, y in pairs))

    def crossover_group(
        self, a: Hashable, b: Hashable, group: GeneGroup, rng: random.Random
    ) -> NBMacroGenome:
        """Uniform crossover of one group, every other gene from ``a``.

        ``size`` crosses each layer's presence; a layer present only in ``b`` brings ``b``'s
        type. ``topology`` crosses the type of each of ``a``'s blocks with ``b``'s where ``b``
        has a block there, keeping ``a``'s depth.
        """
        a, b = self._check(a), self._check(b)
        if group not in ("topology", "size"):
            raise EsnasInputError(f"unknown gene group {group!r}; valid: topology, size")
        out = []
        for x, y in zip(a.ops, b.ops, strict=True):
            from_b = rng.random() < 0.5
            if group == "size":  # presence from the drawn parent, the type from a where a has one
                out.append((x or y) if (y if from_b else x) else 0)
            else:
                out.append(y if x and y and from_b else x)
        return NBMacroGenome(tuple(out))

    def index_of(self, genome: Hashable) -> int:
        """The benchmark's enumeration index (0..6,560): the string read in base 3."""
        return int(self.encode(genome), 3)

    def from_index(self, index: int) -> NBMacroGenome:
        """The genome with enumeration index ``index``."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < NUM_ARCHS:
            raise EsnasInputError(
                f"NAS-Bench-Macro index must be an int in 0..{NUM_ARCHS - 1}, got {index!r}"
            )
        digits = []
        for _ in range(NUM_LAYERS):
            index, d = divmod(index, 3)
            digits.append(d)
        return NBMacroGenome(tuple(reversed(digits)))

    def cost(self, genome: Hashable) -> Cost:
        """Exact params (equal to the benchmark's) and MACs (equal to its ``flops``)."""
        return count_cost(self._check(genome).ops, self.num_classes)

    def build(self, genome: Hashable) -> nn.Module:
        return NBMacroNetwork(self._check(genome).ops, self.num_classes)

    def ground_truth(self, genome: Hashable) -> dict[str, float]:
        """CIFAR-10 test accuracy (%): the mean of the benchmark's 3 trainings and each run
        (``test_acc/cifar10/run<k>``, for the ceiling of repeated trainings)."""
        row = NBMacroGroundTruth.load().row(self.encode(genome))
        runs = {f"test_acc/cifar10/run{k}": row[f"test_acc_{k}"] for k in range(3)}
        return {"test_acc/cifar10": row["mean_acc"], **runs}

    def genome_dict(self, genome: Hashable) -> dict[str, Any]:
        """The layers by name per stage, as the digits are not self-explanatory."""
        ops, start, stages = self._check(genome).ops, 0, {}
        for s, depth in enumerate(STAGES):
            stages[f"stage{s}"] = [OP_NAMES[o] for o in ops[start : start + depth]]
            start += depth
        return stages

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "dataset": "cifar10",
            "input_shape": list(INPUT_SHAPE),
            "num_classes": self.num_classes,
            "size": NUM_ARCHS,
        }


def _inherited_block(ops: Sequence[int], i: int) -> int:
    """The type a size step gives layer ``i``: the nearest block's (earlier on a tie), else 1."""
    blocks = sorted((abs(j - i), j) for j, op in enumerate(ops) if op and j != i)
    return ops[blocks[0][1]] if blocks else 1


# ---- ground truth --------------------------------------------------------------------------
class NBMacroGroundTruth:
    """The benchmark's table, loaded once: one row per string, keyed by the string.

    Args:
        path: the CSV; defaults to the packaged copy.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        path = Path(path) if path is not None else data_dir() / CSV_NAME
        with path.open(newline="") as f:
            self.rows = {r["arch"]: _typed(r) for r in csv.DictReader(f)}
        if len(self.rows) != NUM_ARCHS:
            raise EsnasInputError(f"{path} has {len(self.rows)} rows; expected {NUM_ARCHS}")

    @classmethod
    @functools.lru_cache(maxsize=1)
    def load(cls) -> NBMacroGroundTruth:
        """The packaged ground truth, read from disk only on the first call."""
        return cls()

    def row(self, arch: str) -> dict[str, float]:
        """The benchmark's figures of ``arch`` (a format error for a malformed string)."""
        return self.rows[NBMacroGenome.from_arch_str(arch).arch_str]


def _typed(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row with numbers as numbers (params and flops as ints)."""
    ints = ("params", "flops")
    return {k: v if k == "arch" else int(v) if k in ints else float(v) for k, v in row.items()}


def convert(json_path: str | Path, csv_path: str | Path) -> int:
    """Writes the benchmark's ``nas-bench-macro_cifar10.json`` as the packaged CSV.

    Why a CSV: a third the size, read without a JSON of nested lists, diff-able. Rows are in
    index order; floats are written with ``repr`` so they read back bit for bit. Returns the
    number of rows; a JSON without exactly the 6,561 strings is an input error.
    """
    data = json.loads(Path(json_path).read_text())
    expected = {NBMacroSpace().encode(NBMacroSpace().from_index(i)) for i in range(NUM_ARCHS)}
    if not isinstance(data, dict) or set(data) != expected:
        raise EsnasInputError(f"{json_path} is not NAS-Bench-Macro's table ({FORMAT} keys)")
    with Path(csv_path).open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for arch in sorted(expected):  # base-3 strings sort in index order
            r = data[arch]
            accs = [repr(float(a)) for a in r["test_acc"]]
            stats = [repr(float(r["mean_acc"])), repr(float(r["std"]))]
            writer.writerow([arch, *accs, *stats, int(r["params"]), int(r["flops"])])
    return len(expected)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m esnas.spaces.nb_macro_convert --convert JSON [--out CSV]``."""
    parser = argparse.ArgumentParser(description="Convert NAS-Bench-Macro's JSON to esnas' CSV.")
    parser.add_argument("--convert", required=True, metavar="JSON")
    parser.add_argument("--out", default=str(data_dir() / CSV_NAME), metavar="CSV")
    args = parser.parse_args(argv)
    print(f"wrote {convert(args.convert, args.out)} rows to {args.out}")
