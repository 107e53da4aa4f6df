"""Variation restricted to one gene group: mutation and crossover that leave the other
group untouched, which is what makes cyclic search's phases decoupled.

Spaces mutate one group natively (``space.mutate(genome, group, rng)``) and cross one group
with ``space.crossover_group`` where they can; a space that cannot is evolved by mutation
only in that phase.
"""

from __future__ import annotations

import random
from collections.abc import Hashable

from esnas.spaces.base import GeneGroup, SearchSpace


def can_cross(space: SearchSpace, group: GeneGroup | None) -> bool:
    """Whether :func:`crossover_in_group` can cross ``group`` alone in ``space``."""
    return (
        group is None
        or tuple(space.gene_groups) == (group,)
        or type(space).crossover_group is not SearchSpace.crossover_group
    )


def crossover_in_group(
    space: SearchSpace, a: Hashable, b: Hashable, group: GeneGroup | None, rng: random.Random
) -> Hashable | None:
    """Uniform crossover of the genes of ``group`` (all genes when ``None``), the rest from
    ``a``; ``None`` when the space cannot cross a single group."""
    if group is None:
        return space.crossover(a, b, rng)
    if not can_cross(space, group):
        return None
    return space.crossover_group(a, b, group, rng)
