"""Tiny models shared by the metric tests (fast on 2 CPU cores)."""

from __future__ import annotations

import torch
from torch import nn

# Importing the families registers every metric (the package __init__ does this too).
import esnas.metrics  # noqa: F401
from esnas.metrics.base import Probe

FORWARD_ONLY = ("entropic", "naswot", "zen", "flops", "meco", "swap")  # params runs no forward
ALL = (
    "az_complexity",
    "az_expressivity",
    "az_progressivity",
    "az_trainability",
    "entropic",
    "flops",
    "grad_norm",
    "logsynflow",
    "meco",
    "naswot",
    "params",
    "snip",
    "swap",
    "synflow",
    "zen",
    "zico",
)
SHAPE = (3, 8, 8)


def conv_net(width: int = 8) -> nn.Module:
    """Conv-BN-ReLU stack with a reused in-place ReLU, global pool and a linear head."""
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.Conv2d(width, 2 * width, 3, padding=1, stride=2),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2 * width, 10),
    )


class TinyViT(nn.Module):
    """Patch embedding + one pre-norm transformer block on (N, L, D) tokens + mean-pool head."""

    def __init__(self, dim: int = 16, heads: int = 2, classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, dim, 4, stride=4)
        self.pos = nn.Parameter(torch.zeros(1, 4, dim))
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).flatten(2).transpose(1, 2) + self.pos
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x).mean(1))


class DeadNet(nn.Module):
    """Output disconnected from the input: every activation is 0 and the logits constant."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU()
        self.head = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.conv(x) * 0.0))
        return self.head(x.mean((2, 3)))


def probe(**kw) -> Probe:
    kw = {"input_shape": SHAPE, "batch_size": 16, "num_inits": 2, **kw}
    return Probe(**kw)
