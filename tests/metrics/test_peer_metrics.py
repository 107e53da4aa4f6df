"""Peer metrics (NASWOT, params, flops, Zen, grad_norm, SNIP, ZiCo) against references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from esnas.metrics.base import Probe, make_generator, score_model
from esnas.metrics.zen import pre_gap_features
from tests.metrics.metric_nets import ALL, DeadNet, TinyViT, conv_net, probe


def test_naswot_matches_the_kernel_of_captured_relu_codes() -> None:
    torch.manual_seed(0)
    x = torch.randn(12, 3, 8, 8)
    model = conv_net().eval()
    codes = []
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(lambda m, i, o: codes.append((o > 0).flatten(1).double()))
    with torch.no_grad():
        model(x)
    c = torch.cat(codes, 1)
    kernel = c @ c.T + (1 - c) @ (1 - c).T
    want = float(torch.linalg.slogdet(kernel)[1])
    p = Probe(input="batch", batch=x, num_inits=1, bn_mode="eval")
    assert score_model(model, ["naswot"], p, reinit=False)["naswot"] == pytest.approx(want)


def test_naswot_with_duplicate_samples_is_singular_and_scores_the_floor() -> None:
    x = torch.randn(1, 3, 8, 8).expand(4, 3, 8, 8).clone()
    p = Probe(input="batch", batch=x, num_inits=1, bn_mode="eval")
    assert score_model(conv_net(), ["naswot"], p)["naswot"] == 0.0


def test_params_and_flops_of_a_linear_layer() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    p = probe(input_shape=(3, 2, 2))
    out = score_model(model, {"params": {}, "flops": {}, "flops/macs": {"unit": "macs"}}, p)
    assert out == {"params": 65.0, "flops": 2.0 * 12 * 5, "flops/macs": 12.0 * 5}


def test_snip_and_grad_norm_use_ce_against_the_probes_random_labels() -> None:
    model = conv_net()
    p = probe(num_inits=1, bn_mode="eval", seed=3)
    got = score_model(model, ["snip", "grad_norm"], p, reinit=False)
    x = torch.randn((16, 3, 8, 8), generator=make_generator(3, 0, "inputs"))
    y = torch.randint(10, (16,), generator=make_generator(3, 0, "labels"))
    model.eval()
    F.cross_entropy(model(x), y).backward()
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    snip = sum(float((m.weight * m.weight.grad).detach().abs().sum()) for m in layers)
    norm = sum(float(m.weight.grad.norm()) for m in layers)
    assert got["snip"] == pytest.approx(snip, rel=1e-5)
    assert got["grad_norm"] == pytest.approx(norm, rel=1e-5)


def test_zico_follows_its_definition_over_two_splits() -> None:
    model = conv_net()
    p = probe(num_inits=1, bn_mode="eval")
    got = score_model(model, ["zico"], p, reinit=False)["zico"]
    x = torch.randn((16, 3, 8, 8), generator=make_generator(0, 0, "inputs"))
    y = torch.randint(10, (16,), generator=make_generator(0, 0, "labels"))
    model.eval()
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    grads = []
    for xc, yc in zip(x.chunk(2), y.chunk(2), strict=True):
        model.zero_grad()
        F.cross_entropy(model(xc), yc).backward()
        grads.append([m.weight.grad.flatten().double().clone() for m in layers])
    want = 0.0
    for g1, g2 in zip(*grads, strict=True):
        std, mean = (g1 - g2).abs() / 2, (g1.abs() + g2.abs()) / 2
        want += math.log(float((mean[std > 0] / std[std > 0]).sum()))
    assert got == pytest.approx(want, rel=1e-6)


def test_zen_finds_pre_gap_features_and_is_finite() -> None:
    x = torch.randn(4, 3, 8, 8)
    assert pre_gap_features(conv_net(), x).shape == (4, 16, 4, 4)  # input of AdaptiveAvgPool2d
    assert pre_gap_features(TinyViT(), x).shape == (4, 4, 16)  # forward_features
    no_pool = nn.Sequential(nn.Flatten(), nn.Linear(192, 7), nn.ReLU(), nn.Linear(7, 3))
    assert pre_gap_features(no_pool, x).shape == (4, 7)  # input of the last Linear
    assert math.isfinite(score_model(conv_net(), ["zen"], probe())["zen"])


def test_dead_network_gives_finite_bottom_values_for_every_metric() -> None:
    out = score_model(DeadNet(), list(ALL), probe())
    assert all(math.isfinite(v) for v in out.values()), out
    healthy = score_model(conv_net(), list(ALL), probe())
    for name in ("entropic", "naswot", "zen", "synflow", "logsynflow", "grad_norm", "snip", "zico"):
        assert out[name] < healthy[name], name
    assert out["entropic"] == out["zen"] == -1e30
    assert out["naswot"] == out["synflow"] == out["logsynflow"] == out["grad_norm"] == 0.0
