"""Metrics on transformer layouts (issue 24): GELU MLPs, a cls token, ``blocks.N``, token
pooling between stages, (N, L, D) token tensors, and the warnings every unusual value gets.

Each test runs on the smallest model that showed the defect before its fix.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from esnas.metrics import Probe, score_model
from esnas.metrics import base as metrics_base
from esnas.metrics.az_nas import discover_blocks, eigen_entropy, jacobian_term
from esnas.metrics.base import MetricWarning, reinit_
from esnas.metrics.meco import channel_map, min_correlation_eigenvalue
from tests.metrics.metric_nets import DeadNet
from tests.metrics.test_assembled_peers import features_at_init


def gelu_mlp(width: int) -> nn.Module:
    return nn.Sequential(nn.Linear(8, width), nn.GELU(), nn.Linear(width, 4))


class Block(nn.Module):
    """A pre-norm transformer block on (N, L, D) tokens (output shape = input shape)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class ClsViT(nn.Module):
    """timm's ViT layout: ``patch_embed``, a cls token, ``blocks.N``, ``norm``, ``head``."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, 4, stride=4)  # 8x8 input: 4 patch tokens
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, dim))
        self.blocks = nn.Sequential(Block(dim), Block(dim))
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


class Stage(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(Block(dim), Block(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class TokenPool(nn.Module):
    """PiT's pooling between stages: half the tokens, twice the width."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(2 * dim, 2 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return self.fc(x.reshape(b, n // 2, 2 * d))


class TinyPiT(nn.Module):
    """PiT-like: ``stages.N.blocks.N`` (the default features match) with token pooling."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, 4, stride=4)
        self.stages = nn.ModuleList([Stage(dim), Stage(2 * dim)])
        self.pool, self.head = TokenPool(dim), nn.Linear(2 * dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = self.stages[1](self.pool(self.stages[0](x)))
        return self.head(x.mean(1))


class ClsHead(nn.Module):
    """The smallest cls-token net: a view of a parameter fed straight into a submodule."""

    def __init__(self) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 4))
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.cls_token.expand(x.shape[0], -1, -1))[:, 0] + x


def image_probe(**kw) -> Probe:
    return Probe(**{"input_shape": (3, 8, 8), "batch_size": 8, "num_inits": 1, **kw})


def vector_probe(**kw) -> Probe:
    return Probe(**{"input_shape": (8,), "batch_size": 8, "num_inits": 1, **kw})


@pytest.fixture
def no_metric_warnings():
    """Fails the test on any MetricWarning (a clean model must score silently)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetricWarning)
        yield


def test_naswot_codes_gelu_units_by_the_sign_of_their_pre_activation(no_metric_warnings):
    net, x = gelu_mlp(16), torch.randn(8, 8, generator=torch.Generator().manual_seed(0))
    reinit_(net, torch.Generator().manual_seed(0))  # the same weights on every run
    p = vector_probe(input="batch", batch=x, bn_mode="eval")
    got = score_model(net, ["naswot"], p, reinit=False)["naswot"]
    with torch.no_grad():
        c = (net[0](x) > 0).double()  # GELU(z) > 0 exactly where z > 0
    want = float(torch.linalg.slogdet(c @ c.T + (1 - c) @ (1 - c).T)[1])
    assert got == pytest.approx(want) and got > 0
    assert got == score_model(net, {"naswot": {"hook": ["act"]}}, p, reinit=False)["naswot"]


def test_naswot_tells_two_gelu_nets_apart(no_metric_warnings):
    small, wide = (score_model(gelu_mlp(w), ["naswot"], vector_probe())["naswot"] for w in (8, 32))
    assert 0 < small < wide


def test_naswot_that_hooks_nothing_warns_and_scores_the_floor():
    with pytest.warns(MetricWarning, match=r"naswot is nan on Sequential.*hooked no module"):
        out = score_model(gelu_mlp(16), {"naswot": {"hook": ["ReLU"]}}, vector_probe())
    assert out["naswot"] == 0.0


def test_az_features_of_a_vit_with_a_cls_token_are_its_blocks(no_metric_warnings):
    net = ClsViT()
    assert [n for n, _ in discover_blocks(net)] == ["blocks.0", "blocks.1"]
    names = ["az_expressivity", "az_progressivity", "az_trainability"]
    out = score_model(net, names, image_probe())
    assert all(math.isfinite(v) for v in out.values()), out
    assert -2.0 < out["az_trainability"] <= 0.0  # 2 - σ - 1/σ of one aligned pair


class ResBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x).relu()


class StemAndBody(nn.Module):
    """A ``stem`` and blocks under a name the default features do not know (``body.N``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.body = nn.Sequential(ResBlock(), ResBlock())
        self.head = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)).mean((2, 3)))


def test_az_features_of_an_unknown_layout_are_its_stem_and_blocks(no_metric_warnings):
    net, p = StemAndBody(), image_probe()
    assert [n for n, _ in discover_blocks(net)] == ["body.0", "body.1"]
    h = [eigen_entropy(f) for f in features_at_init(net, p, [net.stem, *net.body])]
    assert score_model(net, ["az_expressivity"], p)["az_expressivity"] == pytest.approx(sum(h))


def test_jacobian_term_skips_features_whose_positions_do_not_align():
    x = torch.randn(2, 4, 8, requires_grad=True)
    cls = torch.cat([torch.zeros(2, 1, 8), x], 1)  # a cls token added: 4 -> 5 tokens
    assert jacobian_term(x, cls, torch.Generator().manual_seed(0)) is None


def test_az_trainability_skips_the_pair_across_token_pooling_with_a_warning():
    net, pair = TinyPiT(), r"\(8, 4, 8\) -> \(8, 2, 16\)"  # across the pooling
    with pytest.warns(MetricWarning, match=rf"skips 1 of 3 feature pairs .*{pair}"):
        out = score_model(net, ["az_trainability", "az_expressivity"], image_probe())
    assert math.isfinite(out["az_trainability"]) and math.isfinite(out["az_expressivity"])


def test_flops_of_a_parameter_view_fed_into_a_submodule(no_metric_warnings):
    net = ClsHead()
    out = score_model(net, ["flops", "az_complexity"], vector_probe(input_shape=(4,)))
    assert out == {"flops": 2.0 * 4 * 4, "az_complexity": 2.0 * 4 * 4}
    assert all(p.requires_grad for p in net.parameters())  # restored after counting


def test_meco_correlates_the_features_of_token_tensors(no_metric_warnings):
    # first sample: 3 tokens x 2 features, columns (1, 2, 3) and (1, 3, 2): rho = 0.5
    x = torch.tensor([[[1.0, 1.0], [2.0, 3.0], [3.0, 2.0]]]).repeat(2, 1, 1)
    assert channel_map(x).tolist() == [[1.0, 2.0, 3.0], [1.0, 3.0, 2.0]]
    p = Probe(input="batch", batch=x, num_inits=1)
    # the Sequential and its Identity return one tensor: 2 terms of λ_min = 1 - 0.5
    got = score_model(nn.Sequential(nn.Identity()), ["meco"], p, reinit=False)["meco"]
    assert got == pytest.approx(2 * 0.5, abs=1e-12)


def test_meco_of_more_tokens_than_features_is_not_zero():
    tokens = torch.randn(1, 16, 4, generator=torch.Generator().manual_seed(0))
    assert min_correlation_eigenvalue(tokens[0]) == pytest.approx(0.0, abs=1e-9)  # the old axis
    assert min_correlation_eigenvalue(channel_map(tokens)) > 0.05


def test_swap_warns_when_its_count_hits_the_two_to_the_batch_cap():
    p = vector_probe(batch_size=3)
    with pytest.warns(MetricWarning, match=r"swap on Sequential: saturates.*2\^3 = 8"):
        assert score_model(gelu_mlp(256), ["swap"], p)["swap"] == 8.0


def test_unusual_values_are_logged_once_with_their_reason(caplog, monkeypatch):
    monkeypatch.setattr(metrics_base, "_LOGGED", set())
    with pytest.warns(MetricWarning), caplog.at_level("WARNING", logger="esnas.metrics.base"):
        for _ in range(2):
            score_model(DeadNet(), ["az_expressivity", "zen"], image_probe())
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # one per label, not one per model scored
    assert "az_expressivity is nan on DeadNet" in lines[0] and "constant" in lines[0]
    assert lines[1].startswith("zen is nan on DeadNet") and "floor -1e+30" in lines[1]
