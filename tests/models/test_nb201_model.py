"""NB201 cell network: structure, exact NATS params, forward shapes and the ``none`` op."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from esnas.models.nb201 import (
    EDGES,
    NB201Network,
    ResNetBasicblock,
    count_params,
    parse_arch_str,
    to_arch_str,
)

BEST_C10 = (  # the CIFAR-10 optimum, official index 6111
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)
# (arch_str, params in CIFAR-10 / ImageNet16-120 from NATS, via the packaged CSV)
KNOWN = [
    (BEST_C10, 1_073_466, 1_080_616),
    (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        129_306,
        136_456,
    ),
    (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        802_426,
        809_576,
    ),
]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("arch", "p10", "p120"), KNOWN)
def test_params_match_nats(arch: str, p10: int, p120: int | None) -> None:
    assert n_params(NB201Network(arch, num_classes=10)) == p10
    assert count_params(parse_arch_str(arch), 10) == p10
    if p120 is not None:
        assert n_params(NB201Network(arch, num_classes=120)) == p120


def test_structure_follows_nats() -> None:
    model = NB201Network(BEST_C10, num_classes=100)
    assert len(model.cells) == 17
    assert [isinstance(c, ResNetBasicblock) for c in model.cells].count(True) == 2
    assert isinstance(model.cells[5], ResNetBasicblock)
    assert isinstance(model.cells[11], ResNetBasicblock)
    names = dict(model.named_parameters())
    # NATS TinyNetwork names, so its state dicts map by name.
    for key in (
        "stem.0.weight",
        "cells.0.layers.0.op.1.weight",
        "cells.5.downsample.1.weight",
        "cells.5.conv_a.op.1.weight",
        "lastact.0.weight",
        "classifier.weight",
    ):
        assert key in names
    assert names["cells.16.layers.5.op.1.weight"].shape == (64, 64, 1, 1)
    bn = model.cells[0].layers[0].op[2]
    assert bn.affine and bn.track_running_stats
    assert model.cells[0].layers[0].op[1].bias is None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.cells[5].downsample)


@pytest.mark.parametrize(("shape", "classes"), [((3, 32, 32), 10), ((3, 16, 16), 120)])
def test_forward_shape(shape: tuple[int, int, int], classes: int) -> None:
    model = NB201Network(BEST_C10, num_classes=classes)
    x = torch.randn(2, *shape)
    assert model(x).shape == (2, classes)
    assert model.forward_features(x).shape == (2, 64, shape[1] // 4, shape[2] // 4)


def test_ops_sequence_and_string_build_same_net() -> None:
    ops = parse_arch_str(BEST_C10)
    assert to_arch_str(ops) == BEST_C10
    torch.manual_seed(0)
    a = NB201Network(BEST_C10)
    torch.manual_seed(0)
    b = NB201Network(list(ops))
    x = torch.randn(1, 3, 32, 32)
    a.eval(), b.eval()
    assert torch.equal(a(x), b(x))


def test_none_cell_keeps_gradients_defined() -> None:
    model = NB201Network(("none",) * len(EDGES))
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    stem_grad = model.stem[0].weight.grad
    assert stem_grad is not None and torch.count_nonzero(stem_grad) == 0  # cut off by none
    assert model.classifier.weight.grad is not None


def test_cell_sums_inputs() -> None:
    # skip everywhere: node1 = x, node2 = 2x, node3 = x + x + 2x = 4x.
    model = NB201Network(("skip_connect",) * 6, N=1)
    x = torch.randn(1, 16, 8, 8)
    assert torch.allclose(model.cells[0](x), 4 * x)


def test_bad_genome_errors() -> None:
    with pytest.raises(ValueError, match="op~0"):
        NB201Network("|conv~0|")
    with pytest.raises(ValueError, match="6 ops"):
        NB201Network(("none",) * 5)
