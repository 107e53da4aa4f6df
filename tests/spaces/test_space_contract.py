"""The space protocol's contract, checked on every registered space (a new one gets it free).

Each space is instantiated with its defaults (``SPACES.get(name)()``); its genes are read
through :meth:`SearchSpace.genes`, so the operator checks need no knowledge of the genome.
"""

from __future__ import annotations

import random

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import esnas.spaces  # noqa: F401  # registers every space
from esnas.spaces.base import GENE_GROUPS, SPACES, SearchSpace
from esnas.utils.errors import EsnasInputError

NAMES = sorted(SPACES)
SEEDS = range(6)


@pytest.fixture(scope="module", params=NAMES)
def space(request: pytest.FixtureRequest) -> SearchSpace:
    return SPACES.get(request.param)()


def _pairs(space: SearchSpace, n: int = len(SEEDS)):
    for seed in range(n):
        rng = random.Random(seed)
        yield rng, space.sample(rng), space.sample(rng)


def test_registry_knows_every_space_by_its_name() -> None:
    assert {"nb201", "nats_sss", "esformer"} <= set(NAMES)
    for name in NAMES:
        assert SPACES.get(name).name == name


def test_genomes_round_trip_through_their_string(space: SearchSpace) -> None:
    for _, a, _ in _pairs(space):
        arch = space.encode(a)
        assert space.decode(arch) == a and space.encode(space.decode(arch)) == arch
        assert hash(space.decode(arch)) == hash(a)  # genomes are values, usable as keys


@pytest.mark.parametrize("bad", ["", "garbage", "|nor_conv_3x3~0|", "s16h32|32e4:ir3"])
def test_bad_strings_are_rejected_as_input_errors(space: SearchSpace, bad: str) -> None:
    with pytest.raises(EsnasInputError):
        space.decode(bad)


def test_other_spaces_strings_are_rejected(space: SearchSpace) -> None:
    for other in NAMES:
        if other != space.name:
            foreign = SPACES.get(other)()
            with pytest.raises(EsnasInputError):
                space.decode(foreign.encode(foreign.sample(random.Random(0))))


def test_gene_groups_are_known_and_describe_them(space: SearchSpace) -> None:
    assert space.gene_groups and set(space.gene_groups) <= set(GENE_GROUPS)
    g = space.sample(random.Random(0))
    for group in GENE_GROUPS:
        assert bool(space.genes(g, group)) == space.has_group(group), group


@pytest.mark.parametrize("group", GENE_GROUPS)
def test_mutation_changes_exactly_one_gene_of_its_group(space: SearchSpace, group: str) -> None:
    if not space.has_group(group):
        with pytest.raises(EsnasInputError):
            space.mutate(space.sample(random.Random(0)), group, random.Random(0))
        return
    for rng, g, _ in _pairs(space):
        child = space.mutate(g, group, rng)
        before, after = space.genes(g, group), space.genes(child, group)
        assert before.keys() == after.keys()
        assert sum(before[k] != after[k] for k in before) == 1, (before, after)
        for other in set(space.gene_groups) - {group}:  # untouched where both have the gene
            mine, theirs = space.genes(g, other), space.genes(child, other)
            assert all(mine[k] == theirs[k] for k in mine.keys() & theirs.keys())


@pytest.mark.parametrize("group", GENE_GROUPS)
def test_group_crossover_is_pure(space: SearchSpace, group: str) -> None:
    """Each gene of ``group`` comes from a parent; every other group's gene from ``a``."""
    if not space.has_group(group):
        return
    for rng, a, b in _pairs(space):
        child = space.crossover_group(a, b, group, rng)
        ga, gb = space.genes(a, group), space.genes(b, group)
        for k, v in space.genes(child, group).items():
            assert v in (ga.get(k), gb.get(k)), (k, v)
        for other in set(space.gene_groups) - {group}:
            mine, theirs = space.genes(a, other), space.genes(child, other)
            assert all(mine[k] == theirs[k] for k in mine.keys() & theirs.keys())
        assert space.crossover_group(a, a, group, rng) == a


def test_crossover_takes_every_gene_from_a_parent(space: SearchSpace) -> None:
    for rng, a, b in _pairs(space):
        child = space.crossover(a, b, rng)
        for group in space.gene_groups:
            ga, gb = space.genes(a, group), space.genes(b, group)
            for k, v in space.genes(child, group).items():
                assert v in (ga.get(k), gb.get(k)), (group, k, v)


def test_sampling_is_reproducible_and_feasible(space: SearchSpace) -> None:
    first = [space.sample(random.Random(7)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    assert all(space.feasible(g) for _, g, _ in _pairs(space))


def test_cost_equals_the_built_model(space: SearchSpace) -> None:
    """Params are the built model's ``numel`` and MACs ``FlopCounterMode`` flops / 2."""
    rng = random.Random(0)
    for _ in range(2):
        g = space.sample(rng)
        model = space.build(g).eval()
        for m in model.modules():
            if hasattr(m, "fused_attn"):
                m.fused_attn = False  # fused SDPA is not counted on CPU
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, *space.input_shape))
        cost = space.cost(g)
        assert cost.params == sum(p.numel() for p in model.parameters()), space.encode(g)
        assert cost.macs == counter.get_total_flops() // 2, space.encode(g)
