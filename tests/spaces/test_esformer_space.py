"""ESFormer space: genome codec and validity, budgeted sampling, gene-group operators, and the
analytic cost model against the built model and ``FlopCounterMode``."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

from esnas.models import esformer_blocks
from esnas.models.esformer import GENOMES
from esnas.spaces.base import SPACES, Cost
from esnas.spaces.esformer import STAGE_OPS, ESFormerGenome, ESFormerSpace

CONF = Path(__file__).resolve().parents[2] / "conf" / "space" / "esformer.yaml"
BUDGETS = {  # name → (max GMACs, max M params) at 224, 1000 classes: the searches' budgets
    "esformer_xxs": (0.26, 1.3),
    "esformer_xs": (0.6, 2.6),
    "esformer_s": (1.3, 5.6),
}
BUDGETS |= {f"{name}_hand": budget for name, budget in BUDGETS.items()}
seeds = st.integers(0, 2**32 - 1)
fast = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def space() -> ESFormerSpace:
    return ESFormerSpace()


def measured(space: ESFormerSpace, g: ESFormerGenome) -> Cost:
    """Params of the built model and FlopCounterMode MACs of one forward at the space's input."""
    model = space.build(g, fused_attn=False).eval()  # fused SDPA is not counted on CPU
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *space.input_shape))
    return Cost(params=params, macs=counter.get_total_flops() // 2)


def test_registered_and_describe(space: ESFormerSpace) -> None:
    assert SPACES.get("esformer") is ESFormerSpace
    assert space.input_shape == (3, 224, 224)
    assert space.gene_groups == ("topology", "size")
    d = space.describe()
    assert d["size"] == space.size() > 4e29 and space.size(distinct_models=True) < space.size()
    with pytest.raises(ValueError, match=">= 32"):
        ESFormerSpace(resolution=16)


def test_conf_yaml_instantiates() -> None:
    from hydra.utils import instantiate

    s = instantiate(OmegaConf.load(CONF))
    assert isinstance(s, ESFormerSpace) and s.max_macs and s.max_params
    g = s.sample(random.Random(0))
    assert s.feasible(g)


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_named_models_are_genomes_within_budget(space: ESFormerSpace, name: str) -> None:
    g = ESFormerGenome.from_dict(GENOMES[name])
    c = space.cost(g)
    gmacs, mparams = BUDGETS[name]
    assert c.macs <= gmacs * 1e9 and c.params <= mparams * 1e6, (name, c)
    assert sum(p.numel() for p in space.build(g).parameters()) == c.params


@given(seed=seeds)
@fast
def test_codec_round_trips(space: ESFormerSpace, seed: int) -> None:
    g = space.sample(random.Random(seed))
    s = space.encode(g)
    assert space.decode(s) == g and str(g) == s and " " not in s
    assert ESFormerGenome.from_dict(g.to_dict()) == g
    assert ESFormerGenome.from_dict(yaml.safe_load(yaml.safe_dump(g.to_dict()))) == g
    assert ESFormerGenome.from_dict(OmegaConf.create(g.to_dict())) == g
    assert hash(g) == hash(space.decode(s))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stem_width": 20}, "stem_width 20 invalid; valid: 16, 24, 32"),
        ({"head_dim": 8}, "head_dim 8 invalid; valid: 16, 32, 64"),
        ({"widths": (24, 48, 100, 160)}, "stage 3 width 100 invalid; valid: 64, 80"),
        ({"expansions": (4, 4, 5, 4)}, "stage 3 expansion 5 invalid; valid: 2, 3, 4, 6"),
        ({"blocks": (("sa",), ("ir3",), ("ir3", "ir3"), ("ir3",))}, "stage 1 op 'sa' invalid"),
        ({"blocks": (("ir3",),) * 4}, "stage 3 depth 1 invalid; valid: 2, 3"),
        ({"widths": (24, 48, 96)}, "widths needs 4 stages"),
    ],
)
def test_invalid_genome_one_line_error(change: dict, message: str) -> None:
    d = dict(ESFormerGenome.from_dict(GENOMES["esformer_xxs"]).__dict__, **change)
    with pytest.raises(ValueError, match=message) as err:
        ESFormerGenome(**d)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "arch", ["", "s16h16|24e4:ir3", "s16h16|24e4:ir3|48e4:|96e3:cx5,cx5|160e3:sa", "x|y|z|w|v"]
)
def test_bad_string_names_format(space: ESFormerSpace, arch: str) -> None:
    with pytest.raises(ValueError, match="format: s<stem>h<head_dim>"):
        space.decode(arch)
    with pytest.raises(ValueError, match="stages"):
        ESFormerGenome.from_dict({"stem_width": 16})


def test_budgeted_sampling() -> None:
    s = ESFormerSpace(max_macs=0.26e9, max_params=1.3e6)
    rng = random.Random(1)
    for _ in range(30):
        c = s.cost(s.sample(rng))
        assert c.macs <= 0.26e9 and c.params <= 1.3e6
    impossible = ESFormerSpace(max_macs=1e7, max_tries=300)
    with pytest.raises(ValueError, match=r"closest found .*cheapest in space: 0\.03"):
        impossible.sample(rng)


def test_sampling_reproducible(space: ESFormerSpace) -> None:
    a = [space.sample(random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]


@given(seed=seeds)
@fast
def test_topology_mutation_changes_exactly_one_op(space: ESFormerSpace, seed: int) -> None:
    rng = random.Random(seed)
    g = space.sample(rng)
    m = space.mutate(g, "topology", rng)
    assert (m.stem_width, m.head_dim, m.widths, m.expansions, m.depths) == (
        g.stem_width, g.head_dim, g.widths, g.expansions, g.depths
    )  # fmt: skip
    diff = [
        (i, j) for i in range(4) for j in range(g.depths[i]) if m.blocks[i][j] != g.blocks[i][j]
    ]
    assert len(diff) == 1 and m.blocks[diff[0][0]][diff[0][1]] in STAGE_OPS[diff[0][0]]


@given(seed=seeds)
@fast
def test_size_mutation_changes_one_size_gene_and_no_op(space: ESFormerSpace, seed: int) -> None:
    rng = random.Random(seed)
    g = space.sample(rng)
    m = space.mutate(g, "size", rng)
    genes = lambda x: (x.stem_width, x.head_dim, *x.widths, *x.expansions, *x.depths)  # noqa: E731
    assert sum(a != b for a, b in zip(genes(g), genes(m), strict=True)) == 1
    for i in range(4):  # ops are kept, truncated, or extended by repeating the last op
        k = min(g.depths[i], m.depths[i])
        assert m.blocks[i][:k] == g.blocks[i][:k]
        assert set(m.blocks[i][k:]) <= {g.blocks[i][-1]}
    with pytest.raises(ValueError, match="unknown gene group"):
        space.mutate(g, "cell", rng)  # type: ignore[arg-type]


@given(seed=seeds)
@fast
def test_crossover_takes_every_gene_from_a_parent(space: ESFormerSpace, seed: int) -> None:
    rng = random.Random(seed)
    a, b = space.sample(rng), space.sample(rng)
    c = space.crossover(a, b, rng)
    assert c.stem_width in (a.stem_width, b.stem_width)
    for i in range(4):
        assert c.widths[i] in (a.widths[i], b.widths[i])
        assert c.depths[i] in (a.depths[i], b.depths[i])
        for j, op in enumerate(c.blocks[i]):
            assert op in {p.blocks[i][j] for p in (a, b) if p.depths[i] > j}
    assert space.crossover(a, a, rng) == a


@given(seed=seeds)
@settings(max_examples=6, deadline=None)
def test_offspring_always_build_and_run(seed: int) -> None:
    s = ESFormerSpace(resolution=32, num_classes=3)
    rng = random.Random(seed)
    a, b = s.sample(rng), s.sample(rng)
    children = [s.mutate(a, "topology", rng), s.mutate(a, "size", rng), s.crossover(a, b, rng)]
    for g in children:
        model = s.build(g).eval()
        with torch.no_grad():
            assert model(torch.randn(1, *s.input_shape)).shape == (1, 3)


@pytest.mark.parametrize("op", esformer_blocks.ALL_OPS)
@pytest.mark.parametrize(("dim", "h", "w"), [(32, 8, 8), (40, 7, 5)])
def test_each_block_declares_its_own_cost(op: str, dim: int, h: int, w: int) -> None:
    """The cost beside each block's constructor equals the built block (odd, non-square maps)."""
    block = esformer_blocks.create_block(op, dim, 3, 16).eval()
    for m in block.modules():
        if isinstance(m, esformer_blocks.Attention):
            m.fused_attn = False  # fused SDPA is not counted on CPU
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        block(torch.zeros(1, dim, h, w))
    params = sum(p.numel() for p in block.parameters())
    assert esformer_blocks.block_cost(op, dim, 3, 16, h, w) == (
        params,
        counter.get_total_flops() // 2,
    )


def _check_costs(space: ESFormerSpace, genomes: list[ESFormerGenome]) -> float:
    worst = 0.0
    for g in genomes:
        want, got = space.cost(g), measured(space, g)
        err = max(abs(want.params - got.params) / got.params, abs(want.macs - got.macs) / got.macs)
        assert err <= 0.01, (str(g), want, got)
        worst = max(worst, err)
    return worst


def test_cost_model_matches_flop_counter_fast() -> None:
    space = ESFormerSpace(max_macs=0.3e9)  # small models keep the 224 forwards quick
    rng = random.Random(3)
    gs = [space.sample(rng) for _ in range(4)]
    gs.append(ESFormerGenome.parse("s16h64|16e2:pl3|32e2:ka|64e2:sa,ka|96e2:sa"))
    assert _check_costs(space, gs) == 0.0  # the formulas are exact, not just within 1 %
    odd = ESFormerSpace(resolution=72, num_classes=10)  # odd maps at stages 3-4, tiny KV maps
    assert _check_costs(odd, [odd.sample(rng) for _ in range(2)]) == 0.0


@pytest.mark.slow
def test_cost_model_matches_flop_counter_many() -> None:
    rng = random.Random(2024)
    space = ESFormerSpace()
    assert _check_costs(space, [space.sample(rng) for _ in range(50)]) == 0.0
    small = ESFormerSpace(resolution=96, num_classes=100)
    assert _check_costs(small, [small.sample(rng) for _ in range(20)]) == 0.0


@pytest.mark.parametrize("seed", range(8))
def test_crossover_group_crosses_only_its_group(seed: int) -> None:
    space = ESFormerSpace()
    rng = random.Random(seed)
    a, b = space.sample(rng), space.sample(rng)
    topo = space.crossover_group(a, b, "topology", rng)
    assert (topo.stem_width, topo.head_dim, topo.widths, topo.expansions, topo.depths) == (
        a.stem_width, a.head_dim, a.widths, a.expansions, a.depths
    )  # fmt: skip
    for i, ops in enumerate(topo.blocks):
        for j, op in enumerate(ops):
            assert op in {a.blocks[i][j], *(b.blocks[i][j : j + 1])}
    size = space.crossover_group(a, b, "size", rng)
    for i, ops in enumerate(size.blocks):
        assert set(ops) <= set(a.blocks[i])  # no block type a does not have at that stage
        assert size.depths[i] in (a.depths[i], b.depths[i])
        assert size.widths[i] in (a.widths[i], b.widths[i])
    space.build(size), space.build(topo)  # both always build
    with pytest.raises(ValueError, match="valid: topology, size"):
        space.crossover_group(a, b, "shape", rng)  # type: ignore[arg-type]


def test_traits_count_attention_and_depth(space: ESFormerSpace) -> None:
    genome = ESFormerGenome.parse(
        "s32h32|16e4:se5,se7,pl7|128e3:se7,ka,se7,se7|112e2:sa,se3|256e3:ir5,sa"
    )
    assert space.traits(genome) == {"attention_blocks": 3, "blocks": 11}
    convs = ESFormerGenome.parse("s32h32|16e4:se5|128e3:se7|112e2:ir3,se3|256e3:ir5")
    assert space.traits(convs)["attention_blocks"] == 0
