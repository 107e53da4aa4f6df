"""ESFormer building blocks: one module per block op, keyed by a short op name.

Every block keeps the NCHW layout and its width, so a stage is a plain sequence of blocks
and any op may follow any other. Op names are ``<type><kernel>`` for the convolutional
types (``ir3``, ``se5``, ``cx7``, ``pl3``) and bare ``sa`` / ``ka`` for the attention types,
which have no kernel. The analytic cost model in ``esnas.spaces.esformer_cost`` mirrors these
modules layer by layer; change both together (the cost tests will tell you if you don't).
"""

from __future__ import annotations

from collections.abc import Callable
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
    raise ValueError(f"unknown ESFormer op {op!r}; valid: {', '.join(ALL_OPS)}")


def se_channels(width: int) -> int:
    """SE bottleneck width: a quarter of the block input width (EfficientNet), multiple of 8."""
    return make_divisible(width * 0.25, 8)


def attn_heads(width: int, head_dim: int) -> int:
    """Number of heads; the attention inner width is ``heads * head_dim`` (may differ from C)."""
    return max(1, width // head_dim)


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


_FACTORIES: dict[str, Callable[..., nn.Module]] = {
    "ir": lambda dim, e, k, hd, **kw: InvertedResidual(dim, e, k, use_se=False, **kw),
    "se": lambda dim, e, k, hd, **kw: InvertedResidual(dim, e, k, use_se=True, **kw),
    "cx": lambda dim, e, k, hd, **kw: ConvNeXtBlock(dim, e, k, **kw),
    "pl": lambda dim, e, k, hd, **kw: PoolMixerBlock(dim, e, k, **kw),
    "sa": lambda dim, e, k, hd, **kw: TransformerBlock(dim, e, hd, 1, **kw),
    "ka": lambda dim, e, k, hd, **kw: TransformerBlock(dim, e, hd, KV_STRIDE, **kw),
}


def create_block(
    op: str, dim: int, expansion: int, head_dim: int, drop_path: float = 0.0, **kwargs: Any
) -> nn.Module:
    """Builds the block for ``op`` at width ``dim`` (looked up by block type, no if-chains)."""
    kind, k = parse_op(op)
    return _FACTORIES[kind](dim, expansion, k, head_dim, drop_path=drop_path, **kwargs)
