"""ViT-Bench-101 spaces: params against the benchmark's own model code, the built networks, the
strings, the operators' edge cases, the ground truth and the converter.

Params reference: the benchmark's ``AutoFormerSub`` and ``PiT`` classes (its
``pycls/models/auto``, CIFAR-100 config: 224 px, 100 classes, LN eps 1e-6) were built once for
all 300 networks (``PROVENANCE.md``); their counts, in CSV order, are pinned here by a checksum
and a few readable values, since the ``.pth`` files hold no params. The analytic
:meth:`cost` must reproduce every one of them; the built models are checked against the analytic
cost on a sample (building all 300 takes ~25 s on this CPU).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import random
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from esnas.spaces.base import SPACES
from esnas.spaces.vitbench import (
    ACCURACIES,
    PIT_DEPTH_TRIPLES,
    PIT_HEAD_TRIPLES,
    PIT_HEADS,
    PIT_STAGE_DEPTHS,
    AutoFormerGenome,
    PiTGenome,
    ViTBenchAutoFormerSpace,
    ViTBenchGroundTruth,
    ViTBenchPiTSpace,
    columns,
)
from esnas.spaces.vitbench_convert import convert
from esnas.utils.errors import EsnasInputError

# The benchmark's own models' param counts, in CSV order: (n, sum, sha256 of "p0,p1,...").
REFERENCE = {
    "autoformer": (
        200, 1_473_628_304, "73efd6532e608d2289250967ca3abd4c12e4664cbff612225be5ed2913f41515"
    ),
    "pit": (100, 501_129_984, "b4ce9dc3cae901bab0e83e966e82324c5476870281972ecc9b300e15e89946f4"),
}  # fmt: skip
AF_FIRST = (
    "e192|h4m3.5|h4m4.0|h3m3.5|h4m4.0|h3m3.5|h3m3.5|h4m4.0|h4m3.5|h3m4.0|h3m4.0|h3m4.0|h4m3.5"
)
AF_MIN = "e192|h4m3.5|h4m3.5|h3m3.5|h4m3.5|h4m3.5|h3m3.5|h4m3.5|h4m3.5|h3m3.5|h4m3.5|h3m3.5|h4m3.5"
AF_MAX = (
    "e240|h4m3.5|h4m4.0|h4m4.0|h3m4.0|h4m3.5|h4m4.0|h3m4.0|h3m4.0|h4m4.0|h4m4.0|h3m4.0|h3m3.5"
    "|h3m4.0|h4m3.5"
)
REFERENCE_ROWS = {  # readable spot checks of the same reference
    AF_FIRST: 5_321_956,
    AF_MIN: 5_100_196,
    AF_MAX: 9_746_260,
    "b16|m6|d2-8-4|h2-4-4": 893_828,
    "b16|m2|d2-8-2|h2-2-2": 156_612,
    "b40|m8|d2-8-4|h8-8-8": 29_472_420,
}
SPACE_OF = {"autoformer": ViTBenchAutoFormerSpace, "pit": ViTBenchPiTSpace}


@pytest.fixture(scope="module")
def af() -> ViTBenchAutoFormerSpace:
    return ViTBenchAutoFormerSpace()


@pytest.fixture(scope="module")
def pit() -> ViTBenchPiTSpace:
    return ViTBenchPiTSpace()


def test_registered_with_the_c100_input_and_groups(af, pit) -> None:
    assert SPACES.get("vitbench_autoformer") is ViTBenchAutoFormerSpace
    assert SPACES.get("vitbench_pit") is ViTBenchPiTSpace
    for space in (af, pit):
        assert space.input_shape == (3, 224, 224) and space.num_classes == 100
        assert space.num_archs is None and space.describe()["benchmark"] == "ViT-Bench-101"
    assert af.gene_groups == ("topology", "size") and pit.gene_groups == ("size",)


def test_pit_triples_are_the_stage_sets_under_the_sampler_rules() -> None:
    """The sampler's 10 depth triples are the per-stage depths with 12-14 blocks; its 10 head
    triples are the non-decreasing ones (the pooling conv's groups need it)."""
    depths = [t for t in itertools.product(*PIT_STAGE_DEPTHS) if 12 <= sum(t) <= 14]
    heads = [t for t in itertools.product(PIT_HEADS, repeat=3) if list(t) == sorted(t)]
    assert sorted(depths) == sorted(PIT_DEPTH_TRIPLES) and len(depths) == 10
    assert sorted(heads) == sorted(PIT_HEAD_TRIPLES) and len(heads) == 10


@pytest.mark.parametrize("kind", ["autoformer", "pit"])
def test_analytic_params_equal_the_benchmarks_model_for_every_network(kind: str) -> None:
    space = SPACE_OF[kind]()
    params = [space.cost(g).params for g in space.benchmark_genomes()]
    n, total, digest = REFERENCE[kind]
    assert len(params) == n and sum(params) == total
    assert hashlib.sha256(",".join(map(str, params)).encode()).hexdigest() == digest
    for arch, expected in REFERENCE_ROWS.items():
        if arch in ViTBenchGroundTruth.load(kind).rows:
            assert space.cost(space.decode(arch)).params == expected, arch


@pytest.mark.parametrize("kind", ["autoformer", "pit"])
def test_built_models_have_the_analytic_params(kind: str) -> None:
    """On the meta device (no memory, no init cost): the extremes and a spread of rows."""
    space = SPACE_OF[kind]()
    rows = ViTBenchGroundTruth.load(kind).rows
    extremes = [space.decode(a) for a in REFERENCE_ROWS if a in rows]
    for g in [*space.benchmark_genomes()[::25], *extremes]:
        with torch.device("meta"):
            model = space.build(g)
        assert sum(p.numel() for p in model.parameters()) == space.cost(g).params, str(g)


@pytest.mark.parametrize(
    ("name", "arch"), [("vitbench_autoformer", AF_MIN), ("vitbench_pit", "b16|m2|d2-8-2|h2-2-2")]
)
def test_built_model_runs_with_the_analytic_macs(name: str, arch: str) -> None:
    space = SPACES.get(name)(num_classes=4)  # Chaoyang's head
    g = space.decode(arch)
    model = space.build(g).eval()
    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = False
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 4) and torch.isfinite(out).all()
    assert space.cost(g).macs == counter.get_total_flops() // 4  # flops / 2 per image, 2 images
    assert space.cost(g).params == sum(p.numel() for p in model.parameters())


def test_models_expose_a_timm_layout(af, pit) -> None:
    """Metrics find their parts by name and class: GELUs, blocks, patch embedding, class token."""
    for space, block in ((af, "blocks.11"), (pit, "transformers.2.blocks.1")):
        with torch.device("meta"):
            model = space.build(space.cheapest())
        names = dict(model.named_modules())
        assert {"patch_embed", block, "head"} <= names.keys()
        assert hasattr(model, "cls_token") and hasattr(model, "pos_embed")
        assert type(names[block]).__name__ == "Block"
        assert any(type(m).__name__ == "GELU" for m in model.modules())


def test_strings_round_trip_and_are_canonical(af, pit) -> None:
    for space in (af, pit):
        for g in space.benchmark_genomes():
            assert space.decode(space.encode(g)) == g and str(g) == space.encode(g)
    g = af.decode(AF_FIRST)
    assert g.embed_dim == 192 and g.depth == 12 and g.heads[:3] == (4, 4, 3)
    assert g == AutoFormerGenome(
        192, list(g.heads), [int(r) if r == 4 else r for r in g.mlp_ratios]
    )
    p = pit.decode("b32|m4|d1-6-6|h2-8-8")
    assert (p.base_dim, p.mlp_ratio, p.depths, p.heads) == (32, 4, (1, 6, 6), (2, 8, 8))
    assert p.widths == (64, 256, 256)


@pytest.mark.parametrize(
    "bad",
    [
        "e200|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5",
        "e192|h3m3.5",  # depth 1
        "e192|h5m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5",
        "e192|h3m4|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5|h3m3.5",
        "b32|m4|d1-4-2|h2-4-8",  # 7 blocks
        "b32|m4|d2-6-4|h4-2-8",  # decreasing heads
        "b032|m4|d2-6-4|h2-4-8",
        "b32|m5|d2-6-4|h2-4-8",
        "b32|m4|d2-6-4",
        "b32|m4|d2-6-x|h2-4-8",
    ],
)
def test_malformed_or_out_of_space_strings_are_input_errors(af, pit, bad: str) -> None:
    for space in (af, pit):
        with pytest.raises(EsnasInputError, match="expected"):
            space.decode(bad)


def test_ground_truth_of_benchmark_networks_and_none_elsewhere(af, pit) -> None:
    first = af.ground_truth(af.decode(AF_FIRST))
    assert first["test_acc/c100_base"] == 68.66 and first["test_acc/c100_kd"] == 76.06
    assert first["test_acc/imagenet_supernet"] == 74.64400003
    assert set(first) == {f"test_acc/{k}" for k in (*ACCURACIES, "imagenet_supernet")}
    second_file = af.ground_truth(af.benchmark_genomes()[100])  # gt_autoformer_2: KD only
    assert set(second_file) == {
        "test_acc/c100_kd", "test_acc/flowers_kd", "test_acc/chaoyang_kd",
        "test_acc/imagenet_supernet",
    }  # fmt: skip
    p = pit.ground_truth(pit.decode("b16|m6|d2-8-4|h2-4-4"))
    assert p["test_acc/c100_base"] == 68.33 and p["test_acc/chaoyang_kd"] == 83.1697
    assert set(p) == {f"test_acc/{k}" for k in ACCURACIES}
    rng = random.Random(0)
    for space in (af, pit):  # networks the benchmark did not train have no ground truth
        rows = ViTBenchGroundTruth.load(space.kind).rows
        outside = [g for g in (space.sample(rng) for _ in range(20)) if str(g) not in rows]
        assert outside and all(space.ground_truth(g) == {} for g in outside)


def test_sampling_stays_in_the_space_and_covers_it(af, pit) -> None:
    rng = random.Random(0)
    af_samples = [af.sample(rng) for _ in range(300)]
    assert {g.depth for g in af_samples} == {12, 13, 14}
    assert {g.embed_dim for g in af_samples} == {192, 216, 240}
    pit_samples = {pit.sample(rng) for _ in range(2000)}
    assert len(pit_samples) > 1000  # of 1,600
    assert all(isinstance(g, PiTGenome) for g in pit_samples)


def test_every_pit_network_can_mutate_and_crossover_stays_valid(pit) -> None:
    rng = random.Random(0)
    every = [
        PiTGenome(b, m, d, h)
        for b, m, d, h in itertools.product(
            (16, 24, 32, 40), (2, 4, 6, 8), PIT_DEPTH_TRIPLES, PIT_HEAD_TRIPLES
        )
    ]
    assert len(every) == 1600
    for g in every:
        child = pit.mutate(g, "size", rng)
        before, after = pit.genes(g, "size"), pit.genes(child, "size")
        assert sum(before[k] != after[k] for k in before) == 1
    for a, b in zip(every[::7], every[::-7], strict=False):
        pit.crossover(a, b, rng)  # validated by the genome itself
    with pytest.raises(EsnasInputError, match="valid groups: size"):
        pit.mutate(every[0], "topology", rng)


def test_autoformer_depth_steps_copy_the_last_layer(af) -> None:
    g = af.decode(AF_FIRST)
    rng = random.Random(0)
    deeper = next(c for c in (af.mutate(g, "size", rng) for _ in range(50)) if c.depth == 14)
    assert deeper.heads == (*g.heads, g.heads[-1], g.heads[-1]) and deeper.embed_dim == 192
    assert af.cost(af.cheapest()).macs <= min(af.cost(x).macs for x in af.benchmark_genomes())


def test_converter_writes_the_packaged_columns(tmp_path: Path) -> None:
    af_rows = [
        {"arch": {"hidden_dim": 216, "depth": 12, "num_heads": [3] * 12, "mlp_ratio": [4.0] * 12},
         "c100_base_acc": 70.5, "c100_kd_acc": 77.0, "flower_base_acc": None,
         "flower_kd_acc": 66.25, "chaoyang_base_acc": 80.0, "chaoyang_kd_acc": 84.0,
         "imagenet_super_acc": 71.25},
    ]  # fmt: skip
    pit_rows = [
        {"arch": {"base_dim": 24, "mlp_ratio": 2, "depth": [2, 8, 4], "num_heads": [2, 2, 2]},
         **{k: 60.0 for k in ("c100_base_acc", "c100_kd_acc", "flower_base_acc",
                              "flower_kd_acc", "chaoyang_base_acc", "chaoyang_kd_acc")}},
    ]  # fmt: skip
    torch.save(af_rows, tmp_path / "gt_autoformer.pth")
    torch.save(pit_rows, tmp_path / "gt_pit.pth")
    paths = [tmp_path / "gt_autoformer.pth", tmp_path / "gt_pit.pth"]
    assert convert(paths, tmp_path) == {"autoformer": 1, "pit": 1}
    for kind in ("autoformer", "pit"):
        with (tmp_path / f"{kind}.csv").open(newline="") as f:
            assert tuple(next(csv.reader(f))) == columns(kind)
    truth = ViTBenchGroundTruth("autoformer", tmp_path / "autoformer.csv")
    (row,) = truth.rows.values()
    assert row["arch"] == "e216|" + "|".join(["h3m4.0"] * 12)
    assert row["flowers_base"] is None and row["imagenet_supernet"] == 71.25
    assert ViTBenchGroundTruth("pit", tmp_path / "pit.csv").rows["b24|m2|d2-8-4|h2-2-2"]
    torch.save([{"arch": {"base_dim": 24}}], tmp_path / "bad.pth")
    with pytest.raises(EsnasInputError, match="not a ViT-Bench-101"):
        convert([tmp_path / "bad.pth"], tmp_path)
