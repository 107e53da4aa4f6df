"""NB201 space: genome operators, official indices, exact NATS costs and the ground truth."""

from __future__ import annotations

import random

import pytest

from esnas.models.nb201 import EDGES, OP_NAMES
from esnas.spaces.base import SPACES, Cost
from esnas.spaces.nb201 import (
    DATASETS,
    NUM_ARCHS,
    NB201Genome,
    NB201GroundTruth,
    NB201Space,
    all_genomes,
    enumerate_genomes,
    is_connected,
    live_edges,
)

BEST_C10 = (  # the CIFAR-10 optimum, official index 6111
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)
# The CSV stores params in millions with 6 decimals: half a unit in the last place.
PARAMS_TOL_M = 5e-7 + 1e-12


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space("cifar10")


@pytest.fixture(scope="module")
def truth() -> NB201GroundTruth:
    return NB201GroundTruth.load()


def test_registered_and_shapes() -> None:
    assert SPACES.get("nb201") is NB201Space
    assert NB201Space().input_shape == (3, 32, 32)
    assert NB201Space("cifar100").num_classes == 100
    s = NB201Space("ImageNet16-120")
    assert (s.input_shape, s.num_classes) == ((3, 16, 16), 120)
    assert s.gene_groups == ("topology",) and not s.has_group("size")
    assert s.describe()["size"] == 15625


def test_bad_dataset_names_valid_choices() -> None:
    with pytest.raises(ValueError, match="cifar10, cifar100, ImageNet16-120") as err:
        NB201Space("imagenet")
    assert "\n" not in str(err.value)


def test_encode_decode_round_trip(space: NB201Space) -> None:
    g = space.decode(BEST_C10)
    assert g.ops == ("nor_conv_3x3",) * 3 + ("skip_connect", "nor_conv_3x3", "nor_conv_1x1")
    assert space.encode(g) == BEST_C10 and str(g) == BEST_C10
    assert hash(g) == hash(NB201Genome(list(g.ops)))  # lists are frozen into tuples
    rng = random.Random(0)
    for _ in range(200):
        g = space.sample(rng)
        assert space.decode(space.encode(g)) == g


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "nor_conv_3x3~0",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|",  # missing node 3
        BEST_C10.replace("nor_conv_1x1~2", "conv_5x5~2"),  # unknown op
        BEST_C10.replace("skip_connect~0", "skip_connect~1"),  # wrong input node
        BEST_C10.replace("|+|", "|"),
    ],
)
def test_decode_rejects_bad_strings(space: NB201Space, bad: str) -> None:
    with pytest.raises(ValueError, match=r"\|op~0\|\+\|op~0\|op~1\|.*avg_pool_3x3"):
        space.decode(bad)


def test_genome_rejects_bad_ops() -> None:
    with pytest.raises(ValueError):
        NB201Genome(("none",) * 5)
    with pytest.raises(ValueError):
        NB201Genome(("none",) * 5 + ("conv",))


def test_index_matches_csv_and_enumeration(space: NB201Space) -> None:
    genomes = all_genomes()
    assert len(genomes) == NUM_ARCHS
    # The CSV's index order is a permutation of the full product enumeration.
    assert set(genomes) == set(enumerate_genomes())
    assert space.from_index(0).arch_str.startswith("|avg_pool_3x3~0|+|nor_conv_1x1~0|")
    assert space.index_of(space.decode(BEST_C10)) == 6111
    for i, g in enumerate(genomes):
        assert space.index_of(g) == i
        assert space.from_index(i) == g
    for bad in (-1, NUM_ARCHS):
        with pytest.raises(ValueError, match=r"0\.\.15624"):
            space.from_index(bad)


def test_sample_is_deterministic_and_covers_ops(space: NB201Space) -> None:
    a = [space.sample(random.Random(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = random.Random(1)
    samples = [space.sample(rng) for _ in range(2000)]
    for e in range(len(EDGES)):
        counts = {op: sum(g.ops[e] == op for g in samples) for op in OP_NAMES}
        assert all(300 < c < 500 for c in counts.values()), counts  # ~400 each


def test_mutate_changes_exactly_one_edge(space: NB201Space) -> None:
    rng = random.Random(3)
    edges_hit = set()
    for _ in range(300):
        g = space.sample(rng)
        m = space.mutate(g, "topology", rng)
        diff = [e for e in range(len(EDGES)) if g.ops[e] != m.ops[e]]
        assert len(diff) == 1
        edges_hit.add(diff[0])
    assert edges_hit == set(range(len(EDGES)))
    g = space.sample(random.Random(5))
    assert space.mutate(g, "topology", random.Random(9)) == space.mutate(
        g, "topology", random.Random(9)
    )
    with pytest.raises(ValueError, match="size"):
        space.mutate(g, "size", rng)


def test_crossover_takes_genes_from_parents(space: NB201Space) -> None:
    rng = random.Random(11)
    from_a = from_b = 0
    for _ in range(200):
        a, b = space.sample(rng), space.sample(rng)
        c = space.crossover(a, b, rng)
        for e in range(len(EDGES)):
            assert c.ops[e] in (a.ops[e], b.ops[e])
            from_a += c.ops[e] == a.ops[e] != b.ops[e]
            from_b += c.ops[e] == b.ops[e] != a.ops[e]
    assert 0.4 < from_a / (from_a + from_b) < 0.6
    a, b = space.sample(random.Random(1)), space.sample(random.Random(2))
    assert space.crossover(a, b, random.Random(4)) == space.crossover(a, b, random.Random(4))


def test_connectivity() -> None:
    g = NB201Genome.from_arch_str
    assert is_connected(g(BEST_C10))
    assert not is_connected(NB201Genome(("none",) * 6))
    # Node 3 fed only by node 2, which is fed only by a dead node 1.
    dead = g("|none~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_3x3~2|")
    assert not is_connected(dead) and live_edges(dead) == (False,) * 6
    # Conv on node 1 that only feeds a none edge is not live; the direct path is.
    mixed = g("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert live_edges(mixed) == (False, False, False, True, False, False)
    n_connected = sum(is_connected(x) for x in enumerate_genomes())
    assert 0 < n_connected < NUM_ARCHS


def test_cost_params_exact_on_sample(truth: NB201GroundTruth) -> None:
    rng = random.Random(0)
    indices = rng.sample(range(NUM_ARCHS), 200)
    for dataset in DATASETS:
        space = NB201Space(dataset)
        for i in indices:
            params = space.cost(space.from_index(i)).params
            assert abs(params / 1e6 - truth.params(i, dataset)) < PARAMS_TOL_M, (i, dataset)


def test_cost_matches_built_model_and_is_cached() -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    for dataset in ("cifar10", "ImageNet16-120"):
        space = NB201Space(dataset)
        for g in (space.decode(BEST_C10), space.from_index(0), NB201Genome(("none",) * 6)):
            model = space.build(g)
            with FlopCounterMode(display=False) as fc:
                model(torch.zeros(1, *space.input_shape))
            cost = space.cost(g)
            assert isinstance(cost, Cost)
            assert cost.params == sum(p.numel() for p in model.parameters())
            assert cost.macs == fc.get_total_flops() // 2
            assert space.cost(g) is cost


@pytest.mark.slow
def test_cost_params_exact_on_all_cells(truth: NB201GroundTruth) -> None:
    for dataset in DATASETS:
        space = NB201Space(dataset)
        for i, g in enumerate(all_genomes()):
            assert abs(space.cost(g).params / 1e6 - truth.params(i, dataset)) < PARAMS_TOL_M


def test_ground_truth_lookups(truth: NB201GroundTruth) -> None:
    assert NB201GroundTruth.load() is truth
    assert truth.best("cifar10") == (6111, pytest.approx(94.373333, abs=1e-6))
    assert truth.best_accuracy("cifar100") == pytest.approx(73.513, abs=1e-3)
    assert truth.best_accuracy("ImageNet16-120") == pytest.approx(47.311, abs=1e-3)
    g = NB201Genome.from_arch_str(BEST_C10)
    assert truth.test_accuracy(g) == truth.test_accuracy(BEST_C10) == truth.test_accuracy(6111)
    assert truth.proxy(0, "logsynflow") == pytest.approx(644744.147)
    assert truth.proxy(1, "synflow", "ImageNet16-120") == pytest.approx(8.132589697e46)
    assert truth.proxy(1, "naswot", "cifar10") == pytest.approx(781.9198812)
    assert len(truth.proxy_values("naswot", "cifar100")) == NUM_ARCHS
    assert len(truth.test_accuracies("cifar10")) == NUM_ARCHS
    with pytest.raises(ValueError, match="logsynflow"):
        truth.proxy(0, "snip")
    with pytest.raises(ValueError, match="valid: cifar10"):
        truth.test_accuracy(0, "c10")
    with pytest.raises(ValueError, match="op~0"):
        truth.test_accuracy("|bad|")
