"""SynFlow and LogSynflow against the closed form of a two-layer linear net."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from esnas.metrics.base import Probe, make_generator, reinit_, score_model
from tests.metrics.metric_nets import DeadNet, conv_net, probe


def closed_form(w1: torch.Tensor, w2: torch.Tensor) -> tuple[float, float]:
    """R = 1ᵀ|W2||W1|1 on a ones input: ∂R/∂W1[j,i] = Σ_k |W2[k,j]|, ∂R/∂W2[k,j] = Σ_i |W1[j,i]|."""
    a1, a2 = w1.detach().double().abs(), w2.detach().double().abs()
    g1 = a2.sum(0)[:, None].expand_as(a1)
    g2 = a1.sum(1)[None, :].expand_as(a2)
    syn = (a1 * g1).sum() + (a2 * g2).sum()
    log = (a1 * torch.log1p(g1)).sum() + (a2 * torch.log1p(g2)).sum()
    return float(syn), float(log)


def two_layer(d: int = 5, h: int = 4, k: int = 3, bn: bool = False) -> nn.Sequential:
    layers = [nn.Linear(d, h, bias=False)]
    layers += [nn.BatchNorm1d(h)] if bn else []
    return nn.Sequential(*layers, nn.Linear(h, k, bias=False))


@pytest.mark.parametrize("bn", [False, True])
def test_closed_form_on_current_weights(bn: bool) -> None:
    torch.manual_seed(0)
    model = two_layer(bn=bn)
    w1, w2 = model[0].weight.detach().clone(), model[-1].weight.detach().clone()
    assert (w1 < 0).any() and (w2 < 0).any()  # signs matter: abs is part of the metric
    got = score_model(model, ["synflow", "logsynflow"], probe(input_shape=(5,)), reinit=False)
    syn, log = closed_form(w1, w2)
    assert got["synflow"] == pytest.approx(syn, rel=1e-12)
    assert got["logsynflow"] == pytest.approx(log, rel=1e-12)
    assert torch.equal(model[0].weight, w1) and torch.equal(model[-1].weight, w2)
    assert model[0].weight.dtype == torch.float32


def test_mean_over_inits_of_in_place_reinits() -> None:
    model = two_layer()
    got = score_model(model, ["logsynflow"], probe(input_shape=(5,), num_inits=3, seed=4))
    ref = []
    for init in range(3):
        reinit_(model, make_generator(4, init, "weights"))
        ref.append(closed_form(model[0].weight, model[1].weight)[1])
    assert got["logsynflow"] == pytest.approx(sum(ref) / 3, rel=1e-12)


def test_params_buffers_and_dtype_restored_on_a_conv_net() -> None:
    model = conv_net()
    model[1].running_var.uniform_(0.5, 2.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = score_model(model, ["logsynflow", "synflow"], probe(num_inits=1), reinit=False)
    assert out["synflow"] > out["logsynflow"] > 0
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
        assert v.dtype == before[k].dtype
    assert all(p.grad is None for p in model.parameters())


def test_zero_gradient_weights_add_nothing() -> None:
    # log(1 + 0) = 0: a disconnected net scores 0 (FreeREA's stored values differ here).
    assert score_model(DeadNet(), ["synflow", "logsynflow"], probe()) == {
        "synflow": 0.0,
        "logsynflow": 0.0,
    }


def test_float64_is_used() -> None:
    model = two_layer()
    seen = []
    model[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    score_model(model, ["logsynflow"], probe(input_shape=(5,), num_inits=1))
    assert seen == [torch.float64] and model[0].weight.dtype == torch.float32
    assert math.isfinite(score_model(model, ["synflow"], probe(input_shape=(5,)))["synflow"])


def test_logsynflow_is_finite_when_gradients_are_negative() -> None:
    # LayerNorm centres its input, so some weights before it get gradients below -1:
    # log(1 + g) would be NaN there; log(1 + |g|) keeps the score finite and positive.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 3))
    probe = Probe(input_shape=(4,), num_inits=1)
    scores = score_model(model, ["logsynflow", "synflow"], probe)
    assert scores["logsynflow"] > 0 and math.isfinite(scores["logsynflow"])

    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    model.double()
    model(torch.ones(1, 4, dtype=torch.float64)).sum().backward()
    grads = torch.cat([m.weight.grad.flatten() for m in (model[0], model[2])])
    assert (grads < -1).any()  # the case this guards against really occurs here
