"""NATS-SSS space: genome operators, NATS indices, exact NATS costs and the DynamicShapeTinyNet."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from esnas.models.nb201 import (
    SSS_CELL,
    FactorizedReduce,
    InferCell,
    NATSSizeNetwork,
    ResNetBasicblock,
)
from esnas.spaces.base import SPACES, Cost, create_space
from esnas.spaces.nats_sss import (
    CHANNEL_CHOICES,
    NUM_ARCHS,
    NATSSizeGenome,
    NATSSizeSpace,
    count_cost,
    enumerate_genomes,
)

CONF = Path(__file__).resolve().parents[2] / "conf" / "space" / "nats_sss.yaml"
# NATS-SSS CIFAR-10 params (0.011714 M, 0.107826 M, 0.713674 M as the benchmark stores them),
# cross-checked with a public DynamicShapeTinyNet replica; 8:8:16:40:40 has a FactorizedReduce.
KNOWN_C10_PARAMS = [("8:8:8:8:8", 11_714), ("8:8:16:40:40", 107_826), ("64:64:64:64:64", 713_674)]
FORMAT_RE = r"C0:C1:C2:C3:C4.*8, 16, 24, 32, 40, 48, 56, 64"


@pytest.fixture(scope="module")
def space() -> NATSSizeSpace:
    return NATSSizeSpace("cifar10")


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registered_and_shapes() -> None:
    assert SPACES.get("nats_sss") is NATSSizeSpace
    assert isinstance(create_space("nats_sss", dataset="cifar100"), NATSSizeSpace)
    assert NATSSizeSpace().input_shape == (3, 32, 32)
    assert NATSSizeSpace("cifar100").num_classes == 100
    s = NATSSizeSpace("ImageNet16-120")
    assert (s.input_shape, s.num_classes) == ((3, 16, 16), 120)
    assert s.gene_groups == ("size",) and not s.has_group("topology")
    d = s.describe()
    assert d["size"] == NUM_ARCHS == 32_768 and d["cell"] == SSS_CELL
    assert s.num_archs == NUM_ARCHS


def test_conf_yaml_instantiates() -> None:
    from hydra.utils import instantiate

    s = instantiate(OmegaConf.load(CONF))
    assert isinstance(s, NATSSizeSpace) and s.dataset == "cifar10"


def test_bad_dataset_names_valid_choices() -> None:
    with pytest.raises(ValueError, match="cifar10, cifar100, ImageNet16-120") as err:
        NATSSizeSpace("imagenet")
    assert "\n" not in str(err.value)


def test_encode_decode_round_trip(space: NATSSizeSpace) -> None:
    g = space.decode("8:16:32:48:64")
    assert g.channels == (8, 16, 32, 48, 64)
    assert space.encode(g) == "8:16:32:48:64" == str(g)
    assert hash(g) == hash(NATSSizeGenome([8, 16, 32, 48, 64]))  # lists are frozen into tuples
    rng = random.Random(0)
    for _ in range(200):
        g = space.sample(rng)
        assert space.decode(space.encode(g)) == g


@pytest.mark.parametrize(
    "bad",
    ["", "8:16:32:48", "8:16:32:48:64:64", "8:16:32:48:72", "8:16:32:48:12", "08:16:32:48:64",
     "8,16,32,48,64", " 8:16:32:48:64", "8:16:32:48:64.0", "|nor_conv_3x3~0|"],
)  # fmt: skip
def test_decode_rejects_bad_strings(space: NATSSizeSpace, bad: str) -> None:
    with pytest.raises(ValueError, match=FORMAT_RE) as err:
        space.decode(bad)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("bad", [(8, 16, 32, 48), (8, 16, 32, 48, 7), (8.0, 16, 32, 48, 64)])
def test_genome_rejects_bad_channels(bad: tuple) -> None:
    with pytest.raises(ValueError, match=FORMAT_RE):
        NATSSizeGenome(bad)


def _traverse_net(candidates: list[int], n: int) -> list[str]:
    """NATS' own enumeration (``traverse_net`` in NATS-Bench's main-sss.py), re-typed."""
    nets = [""]
    for _ in range(n):
        nets = [f"{net}:{c}" if net else str(c) for net in nets for c in candidates]
    return nets


def test_index_is_nats_order(space: NATSSizeSpace) -> None:
    nats = _traverse_net(list(CHANNEL_CHOICES), 5)
    assert len(nats) == NUM_ARCHS
    genomes = enumerate_genomes()
    assert [g.arch_str for g in genomes] == nats
    for i in (0, 1, 8, 751, 4095, 12_345, NUM_ARCHS - 1):
        assert space.from_index(i) == genomes[i] and space.index_of(genomes[i]) == i
    assert str(space.from_index(0)) == "8:8:8:8:8"
    assert str(space.from_index(1)) == "8:8:8:8:16"
    assert space.index_of(space.decode("64:64:64:64:64")) == 32_767
    assert all(space.index_of(space.from_index(i)) == i for i in range(0, NUM_ARCHS, 97))
    for bad in (-1, NUM_ARCHS):
        with pytest.raises(ValueError, match=r"0\.\.32767"):
            space.from_index(bad)


def test_sample_is_deterministic_and_uniform(space: NATSSizeSpace) -> None:
    a = [space.sample(random.Random(7)) for _ in range(3)]
    b = [space.sample(random.Random(7)) for _ in range(3)]
    assert a == b
    rng = random.Random(1)
    samples = [space.sample(rng) for _ in range(4000)]
    for layer in range(5):
        counts = Counter(g.channels[layer] for g in samples)
        assert set(counts) == set(CHANNEL_CHOICES)
        assert all(400 < n < 600 for n in counts.values())  # 500 expected, sd ~21


def test_mutate_changes_exactly_one_layer(space: NATSSizeSpace) -> None:
    rng = random.Random(0)
    layers = set()
    for _ in range(300):
        g = space.sample(rng)
        m = space.mutate(g, "size", rng)
        diff = [i for i, (x, y) in enumerate(zip(g.channels, m.channels, strict=True)) if x != y]
        assert len(diff) == 1 and m.channels[diff[0]] in CHANNEL_CHOICES
        layers.add(diff[0])
    assert layers == set(range(5))
    with pytest.raises(ValueError, match="no 'topology' genes") as err:
        space.mutate(g, "topology", rng)
    assert "\n" not in str(err.value)
    with pytest.raises(TypeError, match="NATSSizeGenome"):
        space.mutate((8, 8, 8, 8, 8), "size", rng)


def test_crossover_takes_genes_from_parents(space: NATSSizeSpace) -> None:
    rng = random.Random(0)
    a, b = space.decode("8:8:8:8:8"), space.decode("64:64:64:64:64")
    children = [space.crossover(a, b, rng) for _ in range(200)]
    assert all(set(c.channels) <= {8, 64} for c in children)
    for layer in range(5):
        assert {c.channels[layer] for c in children} == {8, 64}
    assert space.crossover(a, a, rng) == a


@pytest.mark.parametrize(("arch", "params"), KNOWN_C10_PARAMS)
def test_params_match_nats(space: NATSSizeSpace, arch: str, params: int) -> None:
    g = space.decode(arch)
    assert space.cost(g).params == params
    assert n_params(space.build(g)) == params
    assert n_params(NATSSizeNetwork(arch)) == params  # the string form builds the same net


def test_cost_matches_built_model_and_is_cached() -> None:
    rng = random.Random(3)
    for dataset in ("cifar10", "ImageNet16-120"):
        space = NATSSizeSpace(dataset)
        for g in (space.decode("8:64:8:64:8"), space.sample(rng)):
            model = space.build(g)
            with FlopCounterMode(display=False) as fc:
                model(torch.zeros(1, *space.input_shape))
            cost = space.cost(g)
            assert isinstance(cost, Cost)
            assert cost.params == n_params(model)
            assert cost.macs == fc.get_total_flops() // 2
            assert space.cost(g) is cost
    assert count_cost((64,) * 5, 10, (32, 32)).params == 713_674


def test_structure_follows_dynamic_shape_tiny_net() -> None:
    model = NATSSizeNetwork((8, 16, 32, 64, 64), num_classes=100)
    kinds = [type(c) for c in model.cells]
    assert kinds == [InferCell, ResNetBasicblock, InferCell, ResNetBasicblock, InferCell]
    assert model.genotype == SSS_CELL and model.arch_str == "8:16:32:64:64"
    skip = 3  # edge 0->3 is the cell's skip_connect
    assert isinstance(model.cells[0].layers[skip], nn.Identity)  # stem width == layer 0
    assert isinstance(model.cells[2].layers[skip], FactorizedReduce)  # 16 -> 32
    assert isinstance(model.cells[4].layers[skip], nn.Identity)  # 64 -> 64 (after reduce)
    names = dict(model.named_parameters())
    assert names["stem.0.weight"].shape == (8, 3, 3, 3)
    assert names["cells.2.layers.0.op.1.weight"].shape == (32, 16, 3, 3)  # from node 0
    assert names["cells.2.layers.2.op.1.weight"].shape == (32, 32, 3, 3)  # 1 -> 2
    assert names["cells.2.layers.3.conv.weight"].shape == (32, 16, 1, 1)
    assert "cells.2.layers.3.bn.weight" in names
    assert names["cells.3.downsample.1.weight"].shape == (64, 32, 1, 1)
    assert names["classifier.weight"].shape == (100, 64)
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 100)
    assert model.forward_features(x).shape == (2, 64, 8, 8)


def test_factorized_reduce_has_no_relu() -> None:
    fr = FactorizedReduce(4, 8).eval()
    x = -torch.rand(1, 4, 3, 3)  # a ReLU first would zero this input
    assert fr(x).abs().sum() > 0


def test_network_rejects_bad_channels() -> None:
    with pytest.raises(ValueError, match="3N \\+ 2"):
        NATSSizeNetwork((8, 8, 8, 8))
    with pytest.raises(ValueError, match="positive"):
        NATSSizeNetwork((8, 8, 0, 8, 8))
