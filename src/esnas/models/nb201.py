"""The NAS-Bench-201 / NATS-Bench TSS cell network, rebuilt so parameter counts match NATS exactly.

Why a re-implementation instead of importing NATS/AutoDL: neither is installable offline, and
the metrics only need a freshly initialised ``nn.Module``. Module names follow AutoDL's
``TinyNetwork`` (``stem``, ``cells.{i}.layers.{j}.op``, ``lastact``, ``classifier``) so NATS
state dicts map by name. The models package imports nothing from ``esnas.spaces``; the space
imports the constants and the parser below. ``NATSSizeNetwork`` is NATS-SSS's
``DynamicShapeTinyNet`` (one width per layer on a fixed cell), built from the same blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from esnas.utils.errors import EsnasInputError

OP_NAMES: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
"""NB201's own op order (NASLib numbers ops differently: always map through ``arch_str``)."""

EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""(from_node, to_node) of each gene, in the order the official ``arch_str`` lists them."""

NUM_NODES = 4
ARCH_STR_FORMAT = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"


def parse_arch_str(arch: str) -> tuple[str, ...]:
    """Parses an official NB201 ``arch_str`` into the 6 op names in ``EDGES`` order.

    Raises:
        ValueError: if ``arch`` is not of the form ``ARCH_STR_FORMAT`` with ops from
            ``OP_NAMES``; the message names both.
    """
    hint = f"expected NB201 arch_str {ARCH_STR_FORMAT} with op in {{{', '.join(OP_NAMES)}}}"
    if not isinstance(arch, str) or not (arch.startswith("|") and arch.endswith("|")):
        raise EsnasInputError(f"bad arch {arch!r}: {hint}")
    nodes = arch[1:-1].split("|+|")
    if len(nodes) != NUM_NODES - 1:
        raise EsnasInputError(f"bad arch {arch!r}: {hint}")
    ops: list[str] = []
    for to_node, node in enumerate(nodes, start=1):
        tokens = node.split("|")
        if len(tokens) != to_node:
            raise EsnasInputError(
                f"bad arch {arch!r}: node {to_node} needs {to_node} inputs; {hint}"
            )
        for from_node, token in enumerate(tokens):
            op, sep, src = token.partition("~")
            if not sep or src != str(from_node) or op not in OP_NAMES:
                raise EsnasInputError(f"bad arch {arch!r}: bad edge {token!r}; {hint}")
            ops.append(op)
    return tuple(ops)


def to_arch_str(ops: Sequence[str]) -> str:
    """The official NB201 string of 6 op names given in ``EDGES`` order."""
    if len(ops) != len(EDGES) or any(op not in OP_NAMES for op in ops):
        raise EsnasInputError(f"need {len(EDGES)} ops from {OP_NAMES}, got {tuple(ops)!r}")
    nodes = [
        "|".join(f"{op}~{i}" for op, (i, j) in zip(ops, EDGES, strict=True) if j == to_node)
        for to_node in range(1, NUM_NODES)
    ]
    return "|" + "|+|".join(nodes) + "|"


class ReLUConvBN(nn.Module):
    """ReLU → Conv (no bias) → BN(affine, running stats): AutoDL's ``ReLUConvBN``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    """The ``none`` op; ``x.mul(0.)`` (as NATS) keeps the graph so gradients are zeros, not None."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class AvgPool3x3(nn.Module):
    """The ``avg_pool_3x3`` op (stride 1, padding 1, padded zeros not counted)."""

    def __init__(self) -> None:
        super().__init__()
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


OPS: dict[str, Callable[[int], nn.Module]] = {
    "none": lambda c: Zero(),
    "skip_connect": lambda c: nn.Identity(),
    "nor_conv_1x1": lambda c: ReLUConvBN(c, c, 1, 1, 0),
    "nor_conv_3x3": lambda c: ReLUConvBN(c, c, 3, 1, 1),
    "avg_pool_3x3": lambda c: AvgPool3x3(),
}
"""Op factories for a normal cell (stride 1, C_in == C_out, as in every NB201 cell)."""


class FactorizedReduce(nn.Module):
    """AutoDL's ``FactorizedReduce`` at stride 1: Conv1x1 (no bias) → BN, without a ReLU.

    Why: NATS-SSS cells whose input width differs from their output width replace a
    ``skip_connect`` edge from the input node by this projection (AutoDL defines a ``relu``
    here too but only applies it at stride 2; it has no parameters, so names still match).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=True, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


RESIZE_OPS: dict[str, Callable[[int, int], nn.Module]] = {
    "skip_connect": FactorizedReduce,
    "nor_conv_1x1": lambda c_in, c_out: ReLUConvBN(c_in, c_out, 1, 1, 0),
    "nor_conv_3x3": lambda c_in, c_out: ReLUConvBN(c_in, c_out, 3, 1, 1),
}
"""Op factories for input-node edges when C_in != C_out (NATS-SSS cells; stride 1)."""


def make_op(op: str, c_in: int, c_out: int) -> nn.Module:
    """One stride-1 cell op mapping ``c_in`` to ``c_out`` channels, as AutoDL's ``OPS`` does."""
    if c_in == c_out:
        return OPS[op](c_out)
    if op not in RESIZE_OPS:
        valid = ", ".join(RESIZE_OPS)
        raise EsnasInputError(f"op {op!r} cannot map {c_in} to {c_out} channels; valid: {valid}")
    return RESIZE_OPS[op](c_in, c_out)


class InferCell(nn.Module):
    """One NB201 cell: node j is the sum over i < j of op_{i,j}(node i); node 3 is the output."""

    def __init__(self, ops: Sequence[str], channels: int, c_in: int | None = None) -> None:
        """Builds the 6 edge ops.

        Args:
            ops: 6 op names in ``EDGES`` order.
            channels: output channels (of every node but the input).
            c_in: input-node channels if they differ from ``channels`` (NATS-SSS); edges from
                node 0 then map ``c_in`` → ``channels``, as in AutoDL's ``InferCell``.
        """
        super().__init__()
        c_in = channels if c_in is None else c_in
        self.layers = nn.ModuleList(
            make_op(op, c_in if i == 0 else channels, channels)
            for op, (i, _) in zip(ops, EDGES, strict=True)
        )
        self.ops = tuple(ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for to_node in range(1, NUM_NODES):
            terms = [
                layer(nodes[i])
                for layer, (i, j) in zip(self.layers, EDGES, strict=True)
                if j == to_node
            ]
            nodes.append(sum(terms[1:], terms[0]))
        return nodes[-1]


class ResNetBasicblock(nn.Module):
    """Stride-2 reduction block between stages (AutoDL's ``ResNetBasicblock``)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        # Why no BN here: NATS' shortcut is AvgPool + 1x1 conv only; a BN would add params.
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class _CellNetwork(nn.Module):
    """Forward pass shared by the cell networks: ``stem`` → ``cells`` → ``lastact`` → head."""

    stem: nn.Module
    cells: nn.ModuleList
    lastact: nn.Module
    global_pooling: nn.Module
    classifier: nn.Linear

    def _init_tail(self, cells: list[nn.Module], c_last: int, num_classes: int) -> None:
        """The cells, then NATS's head: BN-ReLU, global average pool, linear classifier."""
        self.cells = nn.ModuleList(cells)
        self.num_features = c_last
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_last), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_last, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and cells up to the last BN-ReLU: the (B, C_last, H/4, W/4) feature map."""
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.lastact(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Global average pool and the linear classifier."""
        return self.classifier(self.global_pooling(x).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class NB201Network(_CellNetwork):
    """NATS ``TinyNetwork``: stem, 3 stages of ``N`` cells at C/2C/4C, reductions, head.

    Args:
        genome: 6 op names in ``EDGES`` order, or an official ``arch_str``.
        num_classes: classifier outputs (10 / 100 / 120 for the NB201 datasets).
        C: stem / first-stage channels (16 in NB201).
        N: cells per stage (5 in NB201).
    """

    def __init__(
        self, genome: Sequence[str] | str, num_classes: int = 10, C: int = 16, N: int = 5
    ) -> None:
        super().__init__()
        ops = parse_arch_str(genome) if isinstance(genome, str) else tuple(genome)
        self.arch_str = to_arch_str(ops)  # also validates a sequence of ops
        self.ops = ops
        self.num_classes = num_classes
        self.stem = nn.Sequential(
            nn.Conv2d(3, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C)
        )
        cells: list[nn.Module] = []
        c_prev = C
        for stage, c in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                cells.append(ResNetBasicblock(c_prev, c))
            cells.extend(InferCell(ops, c) for _ in range(N))
            c_prev = c
        self._init_tail(cells, c_prev, num_classes)


SSS_CELL = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
"""The fixed cell of every NATS-SSS network (NATS' best on CIFAR-100 validation, TSS 9930)."""


def size_reductions(num_layers: int) -> tuple[bool, ...]:
    """AutoDL's ``layer_reductions`` for ``num_layers = 3N + 2``: N cells, reduce, N, reduce, N."""
    if num_layers % 3 != 2:
        raise EsnasInputError(f"need 3N + 2 channel values (e.g. 5), got {num_layers}")
    n = num_layers // 3
    return (False,) * n + (True,) + (False,) * n + (True,) + (False,) * n


class NATSSizeNetwork(_CellNetwork):
    """NATS-SSS ``DynamicShapeTinyNet``: the ``SSS_CELL`` network with one width per layer.

    Layer ``i`` outputs ``channels[i]``; the stem outputs ``channels[0]``. Reduction layers
    are ``ResNetBasicblock``s, the others ``InferCell``s whose input-node edges map the previous
    width to this one (a ``skip_connect`` becomes a ``FactorizedReduce`` when they differ).
    Module names follow AutoDL, as in ``NB201Network``.

    Args:
        channels: ``3N + 2`` widths (5 in NATS-SSS, N = 1), or a string like ``"8:16:32:48:64"``.
        num_classes: classifier outputs.
        genome: the cell, as 6 op names or an ``arch_str`` (NATS fixes it to ``SSS_CELL``).
    """

    def __init__(
        self,
        channels: Sequence[int] | str,
        num_classes: int = 10,
        genome: Sequence[str] | str = SSS_CELL,
    ) -> None:
        super().__init__()
        if isinstance(channels, str):
            channels = [int(c) for c in channels.split(":")]
        self.channels = tuple(int(c) for c in channels)
        if any(c <= 0 for c in self.channels):
            raise EsnasInputError(f"channels must be positive, got {self.channels}")
        reductions = size_reductions(len(self.channels))
        ops = parse_arch_str(genome) if isinstance(genome, str) else tuple(genome)
        self.genotype = to_arch_str(ops)
        self.ops = ops
        self.arch_str = ":".join(map(str, self.channels))
        self.num_classes = num_classes
        c0 = self.channels[0]
        self.stem = nn.Sequential(
            nn.Conv2d(3, c0, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(c0)
        )
        cells: list[nn.Module] = []
        c_prev = c0
        for c, reduction in zip(self.channels, reductions, strict=True):
            cells.append(ResNetBasicblock(c_prev, c) if reduction else InferCell(ops, c, c_prev))
            c_prev = c
        self._init_tail(cells, c_prev, num_classes)


def count_macs(
    ops: Sequence[str], num_classes: int, hw: tuple[int, int], C: int = 16, N: int = 5
) -> int:
    """Conv and linear multiply-accumulates of ``NB201Network``, computed without building it.

    Counts what ``torch.utils.flop_counter.FlopCounterMode`` counts (convolutions and the
    linear layer; FLOPs = 2 × MACs there); BN, ReLU, pooling and additions are not counted.
    """
    h, w = hw
    macs = 3 * C * 9 * h * w  # stem
    per_conv = {"nor_conv_1x1": 1, "nor_conv_3x3": 9}
    cell_k = sum(per_conv.get(op, 0) for op in ops)
    c_prev = C
    for stage, c in enumerate((C, 2 * C, 4 * C)):
        if stage > 0:
            h, w = (h + 1) // 2, (w + 1) // 2  # conv 3x3 stride 2 padding 1
            macs += (9 * c_prev * c + 9 * c * c + c_prev * c) * h * w
        macs += N * cell_k * c * c * h * w
        c_prev = c
    return macs + c_prev * num_classes


def count_params(ops: Sequence[str], num_classes: int, C: int = 16, N: int = 5) -> int:
    """Trainable parameters of ``NB201Network`` (what NATS reports), without building it."""
    per_conv = {"nor_conv_1x1": 1, "nor_conv_3x3": 9}
    params = 3 * C * 9 + 2 * C  # stem conv + BN
    c_prev = C
    for stage, c in enumerate((C, 2 * C, 4 * C)):
        if stage > 0:
            params += 9 * c_prev * c + 2 * c + 9 * c * c + 2 * c + c_prev * c
        params += N * sum(per_conv[op] * c * c + 2 * c for op in ops if op in per_conv)
        c_prev = c
    return params + 2 * c_prev + c_prev * num_classes + num_classes
