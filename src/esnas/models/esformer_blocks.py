"""ESFormer building blocks: one module per block op, keyed by a short op name.

Every block keeps the NCHW layout and its width, so a stage is a plain sequence of blocks
and any op may follow any other. Op names are ``<type><kernel>`` for the convolutional
types (``ir3``, ``se5``, ``cx7``, ``pl3``) and bare ``sa`` / ``ka`` for the attention types,
which have no kernel.

Each block declares its analytic cost beside its constructor (``cost``: params and MACs from
the same arguments, no torch, ~µs), because the search prices thousands of genomes and
building one takes ~100 ms. MACs are ``FlopCounterMode`` flops / 2: convolutions, linear
layers and attention matmuls; biases, norms, activations, pooling and softmax count zero.
Params are ``sum(p.numel())`` (BN running stats are buffers). Tests hold every ``cost`` equal
to its built module, so a change to a constructor without its cost fails there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import (
    ConvNormAct,
    DropPath,
    LayerNorm2d,
    Mlp,
    SqueezeExcite,
    make_divisible,
    use_fused_attn,
)
from torch import nn

from esnas.utils.errors import EsnasInputError

CONV_TYPES: tuple[str, ...] = ("ir", "se", "cx", "pl")
ATTN_TYPES: tuple[str, ...] = ("ka", "sa")
KERNELS: tuple[int, ...] = (3, 5, 7)
CONV_OPS: tuple[str, ...] = tuple(f"{t}{k}" for t in CONV_TYPES for k in KERNELS)
ALL_OPS: tuple[str, ...] = CONV_OPS + ATTN_TYPES
KV_STRIDE = 2  # spatial reduction of keys/values in `ka` (PVTv2 / EdgeViT style)


def parse_op(op: str) -> tuple[str, int]:
    """Splits an op name into (block type, kernel size); attention ops report kernel 0."""
    if op in ATTN_TYPES:
        return op, 0
    if op in CONV_OPS:
        return op[:2], int(op[2:])
    raise EsnasInputError(f"unknown ESFormer op {op!r}; valid: {', '.join(ALL_OPS)}")


def se_channels(width: int) -> int:
    """SE bottleneck width: a quarter of the block input width (EfficientNet), multiple of 8."""
    return make_divisible(width * 0.25, 8)


def attn_heads(width: int, head_dim: int) -> int:
    """Number of heads; the attention inner width is ``heads * head_dim`` (may differ from C)."""
    return max(1, width // head_dim)


def conv_out(size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Output length of a convolution or pooling along one axis."""
    return (size + 2 * padding - kernel_size) // stride + 1


def mlp_cost(dim: int, hidden: int, tokens: int) -> tuple[int, int]:
    """(params, MACs) of timm's two-layer ``Mlp`` (with biases) over ``tokens`` positions."""
    return dim * hidden + hidden + hidden * dim + dim, 2 * tokens * dim * hidden


class InvertedResidual(nn.Module):
    """MBConv: 1x1 expand, kxk depthwise, optional squeeze-excite, 1x1 project, residual."""

    def __init__(
        self,
        dim: int,
        expansion: int,
        kernel_size: int,
        use_se: bool = False,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        hidden = dim * expansion
        self.conv_pw = ConvNormAct(dim, hidden, 1, act_layer=act_layer)
        self.conv_dw = ConvNormAct(hidden, hidden, kernel_size, groups=hidden, act_layer=act_layer)
        self.se = (
            SqueezeExcite(hidden, rd_channels=se_channels(dim), act_layer=nn.ReLU)
            if use_se
            else nn.Identity()
        )
        self.conv_pwl = ConvNormAct(hidden, dim, 1, apply_act=False)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_pwl(self.se(self.conv_dw(self.conv_pw(x))))
        return shortcut + self.drop_path(x)

    @staticmethod
    def cost(
        dim: int, expansion: int, kernel_size: int, h: int, w: int, use_se: bool = False
    ) -> tuple[int, int]:
        """(params, MACs) on an ``h``×``w`` map: three bias-free convs with BN, SE with biases."""
        hidden, n = dim * expansion, h * w
        params = dim * hidden + hidden * kernel_size**2 + hidden * dim + 2 * (2 * hidden + dim)
        macs = n * (dim * hidden + hidden * kernel_size**2 + hidden * dim)
        if use_se:
            rd = se_channels(dim)
            params += hidden * rd + rd + rd * hidden + hidden
            macs += 2 * hidden * rd
        return params, macs


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block: kxk depthwise conv, LayerNorm, 1x1-conv MLP, residual."""

    def __init__(
        self,
        dim: int,
        expansion: int,
        kernel_size: int,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.mlp = Mlp(dim, dim * expansion, act_layer=act_layer, use_conv=True)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.mlp(self.norm(self.conv_dw(x))))

    @staticmethod
    def cost(dim: int, expansion: int, kernel_size: int, h: int, w: int) -> tuple[int, int]:
        """(params, MACs) on an ``h``×``w`` map: depthwise conv with bias, LayerNorm, MLP."""
        mlp_params, mlp_macs = mlp_cost(dim, dim * expansion, h * w)
        return dim * kernel_size**2 + dim + 2 * dim + mlp_params, (
            h * w * dim * kernel_size**2 + mlp_macs
        )


class PoolMixerBlock(nn.Module):
    """MetaFormer block with a kxk average-pooling token mixer (PoolFormer) and a conv MLP."""

    def __init__(
        self,
        dim: int,
        expansion: int,
        kernel_size: int,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(dim)
        self.pool = nn.AvgPool2d(kernel_size, 1, kernel_size // 2, count_include_pad=False)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = Mlp(dim, dim * expansion, act_layer=act_layer, use_conv=True)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.drop_path(self.pool(y) - y)  # PoolFormer subtracts the input: mixer only
        return x + self.drop_path(self.mlp(self.norm2(x)))

    @staticmethod
    def cost(dim: int, expansion: int, kernel_size: int, h: int, w: int) -> tuple[int, int]:
        """(params, MACs) on an ``h``×``w`` map: two BNs and the MLP (pooling counts zero)."""
        mlp_params, mlp_macs = mlp_cost(dim, dim * expansion, h * w)
        return 4 * dim + mlp_params, mlp_macs


class Attention(nn.Module):
    """Multi-head self-attention on NCHW maps; ``kv_stride > 1`` downsamples keys/values.

    With ``kv_stride`` 2 the keys and values come from a stride-2 3x3 depthwise conv of the
    normalised map (local aggregation, then sparse global attention as in PVTv2 / EdgeViT),
    cutting the attention cost by ~4x. The inner width ``heads * head_dim`` is decoupled from
    the block width so any width/head-dim pair is valid.
    """

    def __init__(self, dim: int, head_dim: int, kv_stride: int = 1) -> None:
        super().__init__()
        self.num_heads = attn_heads(dim, head_dim)
        self.head_dim = head_dim
        self.scale = head_dim**-0.5
        self.fused_attn = use_fused_attn()
        inner = self.num_heads * head_dim
        self.kv_stride = kv_stride
        if kv_stride > 1:
            self.q = nn.Linear(dim, inner)
            self.sr = nn.Conv2d(dim, dim, 3, kv_stride, 1, groups=dim, bias=False)
            self.sr_norm = nn.LayerNorm(dim)
            self.kv = nn.Linear(dim, 2 * inner)
        else:
            self.qkv = nn.Linear(dim, 3 * inner)
        self.proj = nn.Linear(inner, dim)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.reshape(b, n, -1, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Attends over tokens ``x`` of shape (B, N, C) that came from an ``hw`` map."""
        if self.kv_stride > 1:
            q = self._heads(self.q(x))[0]
            b, _, c = x.shape
            m = self.sr(x.transpose(1, 2).reshape(b, c, *hw)).flatten(2).transpose(1, 2)
            k, v = self._heads(self.kv(self.sr_norm(m))).unbind(0)
        else:
            q, k, v = self._heads(self.qkv(x)).unbind(0)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v)
        else:  # explicit matmuls: also what FlopCounterMode can count on CPU
            attn = (q * self.scale) @ k.transpose(-2, -1)
            x = attn.softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).flatten(2))

    @staticmethod
    def cost(dim: int, head_dim: int, h: int, w: int, kv_stride: int = 1) -> tuple[int, int]:
        """(params, MACs) over the tokens of an ``h``×``w`` map: projections and the two
        attention matmuls (q·kᵀ, attn·v) against ``m`` keys."""
        inner, n = attn_heads(dim, head_dim) * head_dim, h * w
        params, macs = inner * dim + dim, n * inner * dim  # output projection
        if kv_stride > 1:  # q from every token; k, v from the strided depthwise conv + LN
            m = conv_out(h, 3, kv_stride, 1) * conv_out(w, 3, kv_stride, 1)
            params += dim * inner + inner + 9 * dim + 2 * dim + 2 * inner * dim + 2 * inner
            macs += n * dim * inner + m * 9 * dim + 2 * m * dim * inner
        else:
            m = n
            params += 3 * inner * dim + 3 * inner
            macs += 3 * n * dim * inner
        return params, macs + 2 * n * m * inner


class TransformerBlock(nn.Module):
    """Pre-norm transformer block (attention + MLP) that reads and writes NCHW maps."""

    def __init__(
        self,
        dim: int,
        expansion: int,
        head_dim: int,
        kv_stride: int = 1,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, head_dim, kv_stride)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * expansion, act_layer=act_layer)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        t = t + self.drop_path(self.attn(self.norm1(t), (h, w)))
        t = t + self.drop_path(self.mlp(self.norm2(t)))
        return t.transpose(1, 2).reshape(b, c, h, w)

    @staticmethod
    def cost(
        dim: int, expansion: int, head_dim: int, h: int, w: int, kv_stride: int = 1
    ) -> tuple[int, int]:
        """(params, MACs) on an ``h``×``w`` map: two LayerNorms, attention and the MLP."""
        attn_params, attn_macs = Attention.cost(dim, head_dim, h, w, kv_stride)
        mlp_params, mlp_macs = mlp_cost(dim, dim * expansion, h * w)
        return 4 * dim + attn_params + mlp_params, attn_macs + mlp_macs


@dataclass(frozen=True)
class BlockType:
    """How one block type is built and priced from an op's (width, expansion, kernel, head dim)."""

    build: Callable[..., nn.Module]
    cost: Callable[[int, int, int, int, int, int], tuple[int, int]]


BLOCK_TYPES: dict[str, BlockType] = {
    "ir": BlockType(
        lambda dim, e, k, hd, **kw: InvertedResidual(dim, e, k, use_se=False, **kw),
        lambda dim, e, k, hd, h, w: InvertedResidual.cost(dim, e, k, h, w, use_se=False),
    ),
    "se": BlockType(
        lambda dim, e, k, hd, **kw: InvertedResidual(dim, e, k, use_se=True, **kw),
        lambda dim, e, k, hd, h, w: InvertedResidual.cost(dim, e, k, h, w, use_se=True),
    ),
    "cx": BlockType(
        lambda dim, e, k, hd, **kw: ConvNeXtBlock(dim, e, k, **kw),
        lambda dim, e, k, hd, h, w: ConvNeXtBlock.cost(dim, e, k, h, w),
    ),
    "pl": BlockType(
        lambda dim, e, k, hd, **kw: PoolMixerBlock(dim, e, k, **kw),
        lambda dim, e, k, hd, h, w: PoolMixerBlock.cost(dim, e, k, h, w),
    ),
    "sa": BlockType(
        lambda dim, e, k, hd, **kw: TransformerBlock(dim, e, hd, 1, **kw),
        lambda dim, e, k, hd, h, w: TransformerBlock.cost(dim, e, hd, h, w, 1),
    ),
    "ka": BlockType(
        lambda dim, e, k, hd, **kw: TransformerBlock(dim, e, hd, KV_STRIDE, **kw),
        lambda dim, e, k, hd, h, w: TransformerBlock.cost(dim, e, hd, h, w, KV_STRIDE),
    ),
}


def create_block(
    op: str, dim: int, expansion: int, head_dim: int, drop_path: float = 0.0, **kwargs: Any
) -> nn.Module:
    """Builds the block for ``op`` at width ``dim`` (looked up by block type, no if-chains)."""
    kind, k = parse_op(op)
    return BLOCK_TYPES[kind].build(dim, expansion, k, head_dim, drop_path=drop_path, **kwargs)


def block_cost(op: str, dim: int, expansion: int, head_dim: int, h: int, w: int) -> tuple[int, int]:
    """(params, MACs) of the block ``create_block(op, dim, expansion, head_dim)`` on an h×w map."""
    kind, k = parse_op(op)
    return BLOCK_TYPES[kind].cost(dim, expansion, k, head_dim, h, w)
