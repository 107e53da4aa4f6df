"""Entropic Score estimators against hand-computed and full-activation references."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from esnas.metrics.base import Probe, score_model
from esnas.metrics.entropic import activation_entropies
from tests.metrics.metric_nets import ALL, DeadNet, TinyViT, conv_net, probe


def h2(p: float) -> float:
    return 0.0 if p in (0.0, 1.0) else -(p * math.log(p) + (1 - p) * math.log(1 - p))


def batch_probe(x: torch.Tensor) -> Probe:
    return Probe(input="batch", batch=x, num_inits=1, bn_mode="eval")


def test_binary_entropy_of_a_known_pattern() -> None:
    # 4 samples × 3 elements; positives per element: 2/4, 1/4, 0/4.
    x = torch.tensor([[1.0, 2.0, -1.0], [1.0, -2.0, -1.0], [-1.0, -2.0, 0.0], [-3.0, -1.0, -1.0]])
    model = nn.Sequential(nn.Flatten(), nn.ReLU())
    opts = {"estimator": "binary", "log": False}
    total = h2(0.5) + h2(0.25) + h2(0.0)
    assert score_model(model, {"entropic": opts}, batch_probe(x))["entropic"] == pytest.approx(
        total
    )
    mean = {"entropic": {**opts, "aggregate_elements": "mean"}}
    assert score_model(model, mean, batch_probe(x))["entropic"] == pytest.approx(total / 3)
    log = score_model(model, {"entropic": {"estimator": "binary"}}, batch_probe(x))["entropic"]
    assert log == pytest.approx(math.log(total))


def test_shannon_entropy_of_a_known_map_is_the_default() -> None:
    # Per sample, the map normalised to a distribution: [1, 1, 0, 0] -> H = log 2; [3, 0, 0, 0]
    # and an all-zero map -> 0. The layer's value is the batch mean, log 2 / 3.
    x = torch.tensor([[1.0, 1.0, 0.0, -1.0], [3.0, 0.0, -2.0, 0.0], [-1.0, -1.0, -1.0, -1.0]])
    model = nn.Sequential(nn.Flatten(), nn.ReLU())
    got = score_model(model, {"entropic": {"log": False}}, batch_probe(x))["entropic"]
    assert got == pytest.approx(math.log(2) / 3)
    assert score_model(model, ["entropic"], batch_probe(x))["entropic"] == pytest.approx(
        math.log(math.log(2) / 3)
    )


class Reuse(nn.Module):
    """One in-place ReLU module called twice, plus a functional relu that is not hooked."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.lin(self.act(self.lin(self.act(x)))))


def test_reused_module_counts_as_two_layers_and_functional_calls_are_not_hooked() -> None:
    layers = activation_entropies(Reuse(), torch.randn(8, 4))
    assert sorted(layers) == ["act#0", "act#1"]
    assert all(layer.elements == 4 and layer.channels == 4 for layer in layers.values())


def _captured(model: nn.Module, x: torch.Tensor, kind: type) -> list[torch.Tensor]:
    acts: list[torch.Tensor] = []
    for m in model.modules():
        if isinstance(m, kind):
            m.register_forward_hook(lambda m, i, o: acts.append(o.detach().clone()))
    with torch.no_grad():
        model(x)
    return acts


def _reference(acts: list[torch.Tensor], estimator: str, eps: float = 1e-6) -> float:
    total = 0.0
    for a in acts:
        a = a.reshape(a.shape[0], -1).double()
        if estimator == "binary":
            p = (a > 0).double().mean(0)
            total += float(-(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum())
        elif estimator == "gaussian":
            z = (a - a.mean()) / a.std(correction=0)
            var = z.var(0, correction=0)
            total += float((0.5 * torch.log(2 * math.pi * math.e * (var + eps))).sum())
        else:
            q = a.abs() / a.abs().sum(1, keepdim=True)
            total += float(-torch.xlogy(q, q).sum(1).mean())
    return total


@pytest.mark.parametrize("estimator", ["binary", "gaussian", "shannon"])
def test_estimators_match_full_activation_reference_on_conv_and_tokens(estimator: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 3, 8, 8)
    for model, kind in ((conv_net().eval(), nn.ReLU), (TinyViT().eval(), nn.GELU)):
        ref = _reference(_captured(model, x, kind), estimator)
        got = score_model(
            model,
            {"entropic": {"estimator": estimator, "log": False}},
            batch_probe(x),
            reinit=False,
        )["entropic"]
        assert got == pytest.approx(ref, rel=1e-6), type(model).__name__


def test_token_layers_have_feature_channels_and_norm_attention_hooks_work() -> None:
    layers = activation_entropies(TinyViT(), torch.randn(8, 3, 8, 8), hook=["act", "norm", "attn"])
    assert set(layers) == {"mlp.1#0", "norm1#0", "norm2#0", "attn#0"}
    assert layers["mlp.1#0"].channels == 32 and layers["mlp.1#0"].elements == 4 * 32
    assert all(0 < layer.value <= layer.elements * math.log(2) for layer in layers.values())


def test_width_normalise_divides_each_layer() -> None:
    x = torch.randn(16, 3, 8, 8)
    model = conv_net().eval()  # as the probe's bn_mode="eval" prepares it
    layers = activation_entropies(model, x)
    p = batch_probe(x)
    for mode, width in (
        ("log_channels", lambda L: math.log(L.channels)),
        ("log_elements", lambda L: math.log(L.elements)),
        ("channels", lambda L: L.channels),
    ):
        want = sum(L.value / width(L) for L in layers.values()) / len(layers)
        opts = {"log": False, "width_normalise": mode, "aggregate_layers": "mean"}
        got = score_model(model, {"entropic": opts}, p, reinit=False)["entropic"]
        assert got == pytest.approx(want, rel=1e-9), mode
    gap = {"log": False, "width_normalise": "kl_uniform", "estimator": "shannon"}
    layers = activation_entropies(model, x, estimator="shannon")
    got = score_model(model, {"entropic": gap}, p, reinit=False)["entropic"]
    assert got == pytest.approx(sum(L.value - math.log(L.elements) for L in layers.values()))
    assert got < 0  # no layer is more even than uniform


def test_constant_activations_and_no_hooked_layer_give_the_floor_without_nan() -> None:
    for est in ("binary", "gaussian", "shannon"):
        out = score_model(DeadNet(), {"entropic": {"estimator": est}}, probe())["entropic"]
        assert math.isfinite(out) and out == -1e30, est
    gauss = {"entropic": {"estimator": "gaussian", "log": False}}
    assert math.isfinite(score_model(DeadNet(), gauss, probe())["entropic"])
    no_act = nn.Sequential(nn.Flatten(), nn.Linear(192, 10))
    assert score_model(no_act, ["entropic"], probe())["entropic"] == -1e30


def test_every_metric_runs_on_a_transformer_block() -> None:
    p = probe(input_shape=(3, 8, 8), linear_init="trunc_normal")
    out = score_model(TinyViT(), list(ALL), p)
    assert all(math.isfinite(v) and v > -1e30 for v in out.values()), out
    assert out["entropic"] > 0


def test_block_hook_gives_one_term_per_residual_block_whatever_it_holds() -> None:
    from torch import nn

    from esnas.metrics.hooks import select_modules
    from esnas.models.esformer import ESFormer, parse_arch

    arch = "s16h32|32e4:ir3,pl3|64e3:se3,cx5|112e3:cx5,ka|192e3:cx7,sa"
    model = ESFormer(parse_arch(arch), num_classes=10)
    blocks = select_modules(model, ["block"])
    kinds = [type(m).__name__ for _, m in blocks]
    ir, cx, tr = "InvertedResidual", "ConvNeXtBlock", "TransformerBlock"
    assert kinds == [ir, "PoolMixerBlock", ir, cx, cx, tr, cx, tr]
    acts = select_modules(model, ["act"])
    assert len(acts) > len(blocks)  # MBConv/SE hold 2-3 activations each, attention one

    class Outer(nn.Module):  # a block nested in a block is not a term of its own
        def __init__(self) -> None:
            super().__init__()
            self.inner = model.stages[0]

    class WrapBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = Outer()

    inner = ["body.inner.blocks.0", "body.inner.blocks.1"]  # the model itself is never a term
    assert [n for n, _ in select_modules(WrapBlock(), ["block"])] == inner
    nest = nn.Sequential(WrapBlock())
    assert [n for n, _ in select_modules(nest, ["block"])] == ["0"]


class TwoEdges(nn.Module):
    """Two ReLUs on one tensor (NB201's edges out of a node), then an in-place change."""

    def __init__(self, change: bool) -> None:
        super().__init__()
        self.conv, self.change = nn.Conv2d(3, 4, 3, padding=1), change
        self.a, self.b, self.c = nn.ReLU(), nn.ReLU(), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        y = self.a(x) + self.b(x)
        if self.change:
            x.mul_(-1)  # the third ReLU sees another tensor under the same name
        return (y + self.c(x)).mean((2, 3))


def test_an_activation_of_an_already_seen_tensor_is_reduced_once_with_the_same_value() -> None:
    from esnas.metrics.entropic import activation_entropies
    from esnas.metrics.hooks import select_modules, tap

    x = torch.randn(4, 3, 8, 8)
    for change in (False, True):
        net = TwoEdges(change)
        with torch.no_grad():
            layers = activation_entropies(net, x, "shannon")
        reduced: list[str] = []
        with torch.no_grad(), tap(select_modules(net, ["act"]),
                                  lambda k, a, seen=reduced: seen.append(k),
                                  lambda k, e: None) as new_pass:  # fmt: skip
            new_pass()
            net(x)
        assert reduced == (["a#0", "c#0"] if change else ["a#0"])  # b (and c) alias a
        assert layers["a#0"].value == layers["b#0"].value
        # the in-place change is seen: c is reduced on its own input, not aliased to a
        assert (layers["c#0"].value == layers["a#0"].value) is (not change)


def test_aliasing_never_reuses_a_freed_tensors_entropy_on_nb201() -> None:
    """A freed tensor's id and memory go to new tensors; an alias must name the same live
    input. On this NB201 cell the old (id, address)-keyed alias gave 5.11-5.20 from run to
    run instead of 5.0708, the score of reducing every activation."""
    from esnas.metrics.base import MetricContext, make_generator
    from esnas.metrics.entropic import _Accumulator
    from esnas.metrics.hooks import select_modules, tap
    from esnas.metrics.prepare import prepared, reinit_
    from esnas.spaces.nb201 import NB201Space

    space = NB201Space("cifar10")
    probe = Probe(input_shape=(3, 32, 32), batch_size=64, num_inits=1)
    arch = "|none~0|+|none~0|nor_conv_3x3~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    # In a fresh process, where the allocator hands freed memory on as it did when found.
    code = (
        "import torch; from esnas.metrics import Probe, score_model;"
        "from esnas.spaces.nb201 import NB201Space; torch.set_num_threads(1);"
        "s = NB201Space('cifar10'); p = Probe(input_shape=(3, 32, 32), batch_size=64, num_inits=1);"
        f"m = s.build(s.decode('{arch}'));"
        "[print(repr(score_model(m, ['entropic'], p)['entropic'])) for _ in range(3)]"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    scores = {float(line) for line in out.stdout.split()}
    model = space.build(space.decode(arch))
    reinit_(model, make_generator(0, 0, "weights"), "kaiming")
    acc: dict[str, _Accumulator] = {}
    with prepared(model, torch.float32, "train"), torch.inference_mode():
        ctx = MetricContext(probe, 0, torch.float32, torch.device("cpu"), probe.input_shape)
        reduce = lambda k, a: acc.setdefault(k, _Accumulator("shannon")).update(a)  # noqa: E731
        with tap(select_modules(model, ["act"]), reduce) as new_pass:  # no alias at all
            new_pass()
            model(ctx.inputs)
    reference = math.log(math.fsum(a.entropy("sum", 1e-6) for a in acc.values()))
    assert scores == {reference}
