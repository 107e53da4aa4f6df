"""AZ-NAS, MeCo and SWAP against values computed by hand on tiny inputs and nets."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from esnas.metrics import Probe, score_model
from esnas.metrics.az_nas import eigen_entropy, jacobian_term
from esnas.metrics.base import MetricContext, make_generator, reinit_
from esnas.metrics.meco import min_correlation_eigenvalue
from esnas.metrics.swap import pattern_keys
from tests.metrics.metric_nets import probe


class Scale(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.k


class CellNet(nn.Module):
    """NB201-shaped module paths: a ``stem`` and ``cells.*`` (what AZ-NAS reads features of)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.cells = nn.ModuleList(
            [nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1)), Scale(2.0)]
        )
        self.head = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.head(x.mean((2, 3)))


def features_at_init(net: nn.Module, p: Probe, modules: list[nn.Module]) -> list[torch.Tensor]:
    """The outputs of ``modules`` for the weights and inputs ``score_model`` uses at init 0."""
    reinit_(net, make_generator(p.seed, 0, "weights"))
    feats: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: feats.append(o.detach().clone())) for m in modules
    ]
    net.train()  # BN in train mode, as the probe's bn_mode
    with torch.no_grad():
        net(MetricContext(p, 0, torch.float32, torch.device("cpu"), p.input_shape).inputs)
    for h in hooks:
        h.remove()
    return feats


def test_eigen_entropy_of_a_diagonal_covariance() -> None:
    # channel variances 1 and 4, uncorrelated: eigenvalue shares 0.2 / 0.8
    f = torch.tensor([[1.0, -1.0, 1.0, -1.0], [2.0, 2.0, -2.0, -2.0]]).reshape(1, 2, 1, 4)
    assert eigen_entropy(f) == pytest.approx(-(0.2 * math.log(0.2) + 0.8 * math.log(0.8)), 1e-6)
    assert eigen_entropy(f[:, :1]) == pytest.approx(0.0, abs=1e-6)  # one channel: no spread


def test_jacobian_term_of_a_scaling_block_and_of_an_identity() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(8, 1, 3, 3, requires_grad=True)
    # one channel: g_in = 2 g_out, so the sampled Jacobian is exactly 2 = sigma
    assert jacobian_term(x, x * 2, gen) == pytest.approx(2 - 2 - 1 / 2, abs=1e-5)
    y = x.clone()
    assert jacobian_term(y, y.view_as(y), gen) == -math.inf  # g_in == g_out


def test_az_components_read_the_stem_and_cell_features() -> None:
    net, p = CellNet(), probe(num_inits=1)
    out = score_model(net, ["az_expressivity", "az_progressivity", "az_trainability"], p)
    h = [eigen_entropy(f) for f in features_at_init(net, p, [net.stem, *net.cells])]
    assert len(h) == 3
    assert out["az_expressivity"] == pytest.approx(sum(h), rel=1e-5)
    assert out["az_progressivity"] == pytest.approx(min(h[1] - h[0], h[2] - h[1]), abs=1e-5)
    # the Scale(2) cell adds 2 - 2 - 1/2 (exact: sigma of 2·I is 2 whatever the draw)
    assert out["az_trainability"] < -0.25


def test_min_correlation_eigenvalue_of_two_channels() -> None:
    a = torch.tensor([1.0, 2.0, 3.0, 4.0])
    b = torch.tensor([1.0, 2.0, 3.0, 5.0])
    rho = 6.5 / math.sqrt(5.0 * 8.75)  # centred cross products over the two sums of squares
    sample = torch.stack([a, b]).reshape(2, 2, 2)
    assert min_correlation_eigenvalue(sample) == pytest.approx(1 - rho, abs=1e-9)
    const = torch.stack([a, torch.ones(4)]).reshape(2, 2, 2)  # NaN row zeroed: eigenvalues 0, 1
    assert min_correlation_eigenvalue(const) == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(min_correlation_eigenvalue(a.reshape(1, 4)))  # one channel: left out


def test_meco_sums_the_hooked_layers_of_the_first_sample() -> None:
    net = CellNet()
    out = score_model(net, {"meco": {"hook": ["Conv2d"]}}, probe(num_inits=1))["meco"]
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    seen = [min_correlation_eigenvalue(f[0]) for f in features_at_init(net, probe(), convs)]
    assert len(seen) == 2 and out == pytest.approx(sum(seen), rel=1e-6)


def test_swap_counts_distinct_neuron_patterns() -> None:
    # 3 samples x 4 neurons; neuron patterns 101, 101, 000, 010 -> 3 distinct
    a = torch.tensor([[1.0, 2.0, 0.0, 0.0], [0.0, -1.0, 0.0, 3.0], [5.0, 1.0, -2.0, 0.0]])
    assert torch.unique(pattern_keys(a), dim=0).shape[0] == 3
    big = torch.randn(70, 500) * (torch.rand(1, 500) > 0.5)  # 70 samples: two words per key
    expect = torch.unique((big > 0).T, dim=0).shape[0]
    assert torch.unique(pattern_keys(big), dim=0).shape[0] == expect


def test_reg_swap_is_swap_times_the_size_factor() -> None:
    net, p = CellNet(), probe(num_inits=1)
    plain = score_model(net, {"swap": {"hook": ["ReLU"]}}, p)["swap"]
    k = sum(q.numel() for q in net.parameters()) / 1e3
    reg = score_model(net, {"swap": {"hook": ["ReLU"], "mu": 0.1, "sigma": 2.0}}, p)["swap"]
    assert 1 <= plain <= 4 * 8 * 8  # distinct patterns of the 256 post-ReLU neurons
    assert reg == pytest.approx(plain * math.exp(-((k - 0.1) ** 2) / 2.0), rel=1e-9)
    with pytest.raises(ValueError, match="sigma"):
        score_model(net, {"swap": {"mu": 1.0}}, p)


class InPlaceCellNet(CellNet):
    """CellNet whose features are changed in place after their module returned them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).relu_()
        for cell in self.cells:
            x = cell(x).sub_(0.5)
        return self.head(x.mean((2, 3)))


def test_az_features_are_read_before_a_later_in_place_op_with_or_without_backward() -> None:
    net, p = InPlaceCellNet(), probe(num_inits=1)
    feats = features_at_init(net, p, [net.stem, *net.cells])  # hooks see the outputs as made
    want = sum(eigen_entropy(f) for f in feats)
    alone = score_model(net, ["az_expressivity"], p)["az_expressivity"]  # no backward
    with_backward = score_model(net, ["az_expressivity", "az_trainability"], p)
    assert alone == pytest.approx(want, rel=1e-6)
    assert with_backward["az_expressivity"] == alone


class SharedOutputNet(nn.Module):
    """A container returning its last child's tensor, an in-place ReLU on a conv's output and
    two equal ReLUs on one tensor: outputs MeCo must reuse, and one it must not."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True))
        self.a, self.b = nn.ReLU(), nn.ReLU()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x - 0.5)
        return self.conv(self.a(y) + self.b(y))


def test_meco_reuses_a_shared_output_but_not_one_changed_in_place() -> None:
    net, p = SharedOutputNet(), probe(num_inits=1)
    modules = [net.block[0], net.block[1], net.block, net.a, net.b, net.conv, net]
    seen: list[float] = []

    def hook(m: nn.Module, i: object, o: torch.Tensor) -> None:
        seen.append(min_correlation_eigenvalue(o[0]))  # at the call, before any later change

    handles = [m.register_forward_hook(hook) for m in modules]
    features_at_init(net, p, [])
    for h in handles:
        h.remove()
    assert len(seen) == 7 and seen[0] != seen[1]  # the in-place ReLU changed the conv's output
    assert score_model(net, ["meco"], p)["meco"] == pytest.approx(math.fsum(seen), rel=1e-12)
