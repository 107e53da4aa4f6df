"""``sample.n=benchmark``: every network a benchmark space's ground truth holds."""

from __future__ import annotations

import pytest

from esnas.scoring.run import select_archs
from esnas.spaces import create_space
from esnas.utils.errors import EsnasInputError


def test_benchmark_selects_the_trained_networks_of_an_open_benchmark_space() -> None:
    space = create_space("vitbench_pit")
    genomes = select_archs(space, {"n": "benchmark"})
    assert len(genomes) == 100
    assert all(space.ground_truth(g) for g in genomes)


def test_benchmark_is_every_genome_of_an_enumerable_space() -> None:
    space = create_space("nb_macro")
    assert len(select_archs(space, {"n": "benchmark", "shard": "0/100"})) == 66


def test_benchmark_on_a_space_without_one_is_one_line() -> None:
    message = r"sample\.n=benchmark is invalid for space 'esformer'"
    with pytest.raises(EsnasInputError, match=message):
        select_archs(create_space("esformer"), {"n": "benchmark"})
