"""NAS-Bench-Macro space: exact costs against the benchmark's table, the built network, the
string and index, the gene groups and the ground truth.

Cost convention checked here: ``cost.params`` is the whole network's parameter count and
``cost.macs`` the multiply-accumulates of every conv and the linear layer (no BN, ReLU,
residual adds or pooling, no linear bias) at 3x32x32. That is exactly how the benchmark's
``count_FLOPs`` counts its ``flops`` column, so both columns must match for all 6,561 rows,
with no tolerance.
"""

from __future__ import annotations

import json
import random

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from esnas.spaces.base import SPACES
from esnas.spaces.nb_macro import (
    COLUMNS,
    NUM_ARCHS,
    NBMacroGenome,
    NBMacroGroundTruth,
    NBMacroSpace,
    convert,
    trained_as,
)
from esnas.utils.errors import EsnasInputError


@pytest.fixture(scope="module")
def space() -> NBMacroSpace:
    return NBMacroSpace()


@pytest.fixture(scope="module")
def truth() -> NBMacroGroundTruth:
    return NBMacroGroundTruth.load()


def test_registered_with_its_shape_and_size(space: NBMacroSpace) -> None:
    assert SPACES.get("nb_macro") is NBMacroSpace
    assert space.input_shape == (3, 32, 32) and space.num_classes == 10
    assert space.gene_groups == ("topology", "size") and space.num_archs == 6561
    assert space.describe()["size"] == 6561


def test_analytic_cost_equals_the_benchmark_for_every_network(
    space: NBMacroSpace, truth: NBMacroGroundTruth
) -> None:
    """Params and MACs equal the table's ``params`` and ``flops`` exactly, all 6,561 rows."""
    assert len(truth.rows) == NUM_ARCHS
    for arch, row in truth.rows.items():
        cost = space.cost(space.decode(arch))
        assert (cost.params, cost.macs) == (row["params"], row["flops"]), arch


@pytest.mark.parametrize("arch", ["00000000", "22222222", "11111111", "01202100", "20010201"])
def test_built_model_matches_the_analytic_cost(space: NBMacroSpace, arch: str) -> None:
    g = space.decode(arch)
    model = space.build(g).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, 10)
    cost = space.cost(g)
    assert cost.params == sum(p.numel() for p in model.parameters())
    assert cost.macs == counter.get_total_flops() // 2


def test_strings_and_indices_round_trip(space: NBMacroSpace) -> None:
    g = space.decode("01202100")
    assert g.ops == (0, 1, 2, 0, 2, 1, 0, 0) and str(g) == "01202100"
    assert space.encode(g) == "01202100" and hash(g) == hash(NBMacroGenome(g.ops))
    assert space.from_index(0).arch_str == "00000000"
    assert space.from_index(NUM_ARCHS - 1).arch_str == "22222222"
    assert space.index_of(g) == int("01202100", 3)
    for i in range(NUM_ARCHS):
        assert space.index_of(space.from_index(i)) == i
    assert len({space.from_index(i) for i in range(NUM_ARCHS)}) == NUM_ARCHS


@pytest.mark.parametrize("bad", ["0120210", "012021003", "01202130", "0120210a", " 1202100", 7])
def test_bad_strings_name_the_format(space: NBMacroSpace, bad: object) -> None:
    with pytest.raises(EsnasInputError, match="8 digits of 0/1/2") as err:
        space.decode(bad)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("bad", [-1, NUM_ARCHS, 1.0, True])
def test_bad_indices_are_input_errors(space: NBMacroSpace, bad: object) -> None:
    with pytest.raises(EsnasInputError, match=r"0\.\.6560"):
        space.from_index(bad)  # type: ignore[arg-type]


def test_ground_truth_reads_the_table(space: NBMacroSpace, truth: NBMacroGroundTruth) -> None:
    gt = space.ground_truth(space.decode("22212202"))  # the best mean accuracy
    assert gt["test_acc/cifar10"] == pytest.approx(93.12666320800781, abs=0)
    runs = [gt[f"test_acc/cifar10/run{k}"] for k in range(3)]
    assert sum(runs) / 3 == pytest.approx(gt["test_acc/cifar10"], abs=1e-9)
    assert max(r["mean_acc"] for r in truth.rows.values()) == gt["test_acc/cifar10"]
    assert space.ground_truth(space.cheapest())["test_acc/cifar10"] == pytest.approx(45.3633, 1e-5)


def test_strings_of_one_trained_network_share_its_row(truth: NBMacroGroundTruth) -> None:
    """The benchmark copied each trained network's row to strings differing only in where
    shape-keeping Identities sit; those strings build the same function."""
    assert trained_as("00001000") == "00010000" and trained_as("20201022") == "20210022"
    assert trained_as("01000000") == "01000000"  # the stage's first layer stays put
    assert len({trained_as(a) for a in truth.rows}) == 3969
    for arch, row in truth.rows.items():
        assert row == {**truth.rows[trained_as(arch)], "arch": arch}


def test_gene_groups_split_depth_from_block_type(space: NBMacroSpace) -> None:
    g = space.decode("01202100")
    assert space.genes(g, "size") == {f"block{i}": c != "0" for i, c in enumerate("01202100")}
    assert space.genes(g, "topology") == {
        "op1": "k3e3",
        "op2": "k5e6",
        "op4": "k5e6",
        "op5": "k3e3",
    }
    assert space.genome_dict(g) == {
        "stage0": ["id", "k3e3"], "stage1": ["k5e6", "id", "k5e6"], "stage2": ["k3e3", "id", "id"]
    }  # fmt: skip


def test_size_mutation_repeats_the_nearest_block_type(space: NBMacroSpace) -> None:
    rng = random.Random(0)
    children = {space.mutate(space.decode("00020000"), "size", rng).arch_str for _ in range(200)}
    assert children == {"00000000"} | {
        "00020000"[:i] + "2" + "00020000"[i + 1 :] for i in range(8) if i != 3
    }
    assert space.mutate(space.cheapest(), "size", rng).arch_str.count("1") == 1


def test_topology_mutation_swaps_a_block_type_or_declines(space: NBMacroSpace) -> None:
    rng = random.Random(0)
    assert space.mutate(space.decode("00200000"), "topology", rng).arch_str == "00100000"
    assert space.mutate(space.cheapest(), "topology", rng) is None  # no block to retype
    with pytest.raises(EsnasInputError, match="topology, size"):
        space.mutate(space.cheapest(), "depth", rng)  # type: ignore[arg-type]


def test_group_crossovers(space: NBMacroSpace) -> None:
    a, b = space.decode("10200100"), space.decode("22002211")
    for seed in range(20):
        rng = random.Random(seed)
        size = space.crossover_group(a, b, "size", rng).arch_str
        for c, x, y in zip(size, a.arch_str, b.arch_str, strict=True):
            # presence from a parent; a present layer keeps a's type, else brings b's
            assert c == "0" if "0" == x == y else c in ("0", x if x != "0" else y)
        topo = space.crossover_group(a, b, "topology", rng).arch_str
        assert [c == "0" for c in topo] == [c == "0" for c in a.arch_str]  # a's depth
        assert all(c in (x, y) for c, x, y in zip(topo, a.arch_str, b.arch_str, strict=True))


def test_budget_is_respected(space: NBMacroSpace) -> None:
    small = NBMacroSpace(max_params=5e5)
    rng = random.Random(0)
    assert all(small.cost(small.sample(rng)).params <= 5e5 for _ in range(5))
    with pytest.raises(EsnasInputError, match="cheapest in space"):
        NBMacroSpace(max_params=1e5, max_tries=10).sample(rng)


def test_convert_writes_a_table_that_reads_back_bit_for_bit(space: NBMacroSpace, tmp_path) -> None:
    rng = random.Random(0)
    data = {}
    for i in range(NUM_ARCHS):
        accs = [rng.uniform(40, 95) for _ in range(3)]
        data[space.from_index(i).arch_str] = {
            "test_acc": accs, "mean_acc": sum(accs) / 3, "std": rng.random(),
            "params": i, "flops": 2 * i,
        }  # fmt: skip
    (tmp_path / "in.json").write_text(json.dumps(data))
    assert convert(tmp_path / "in.json", tmp_path / "out.csv") == NUM_ARCHS
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    rows = NBMacroGroundTruth(tmp_path / "out.csv").rows
    row = rows["01202100"]
    src = data["01202100"]
    assert [row[f"test_acc_{k}"] for k in range(3)] == src["test_acc"]
    assert (row["mean_acc"], row["std"], row["params"]) == (
        src["mean_acc"],
        src["std"],
        space.index_of(space.decode("01202100")),
    )
    del data["01202100"]
    (tmp_path / "in.json").write_text(json.dumps(data))
    with pytest.raises(EsnasInputError, match="not NAS-Bench-Macro"):
        convert(tmp_path / "in.json", tmp_path / "out2.csv")
