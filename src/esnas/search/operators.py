"""Variation restricted to one gene group: mutation and crossover that leave the other
group untouched, which is what makes cyclic search's phases decoupled.

Spaces mutate one group natively (``space.mutate(genome, group, rng)``). Crossover in the
protocol crosses every gene, so a group-restricted crossover uses ``space.crossover_group``
when the space has one, ``space.crossover`` when the group is the space's only group, and
otherwise an adapter registered here per space (ESFormer's below).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable

from esnas.spaces.base import GeneGroup, SearchSpace
from esnas.utils.registry import Registry

GroupCrossover = Callable[[Hashable, Hashable, GeneGroup, random.Random], Hashable]
GROUP_CROSSOVERS: Registry[GroupCrossover] = Registry("group crossover")


def can_cross(space: SearchSpace, group: GeneGroup | None) -> bool:
    """Whether :func:`crossover_in_group` can cross ``group`` alone in ``space``."""
    return (
        group is None
        or tuple(space.gene_groups) == (group,)
        or hasattr(space, "crossover_group")
        or space.name in GROUP_CROSSOVERS
    )


def crossover_in_group(
    space: SearchSpace, a: Hashable, b: Hashable, group: GeneGroup | None, rng: random.Random
) -> Hashable | None:
    """Uniform crossover of the genes of ``group`` (all genes when ``None``), the rest from
    ``a``; ``None`` when the space cannot cross a single group."""
    if group is None or tuple(space.gene_groups) == (group,):
        return space.crossover(a, b, rng)
    native = getattr(space, "crossover_group", None)
    if native is not None:
        return native(a, b, group, rng)
    if space.name in GROUP_CROSSOVERS:
        return GROUP_CROSSOVERS.get(space.name)(a, b, group, rng)
    return None


@GROUP_CROSSOVERS.register("esformer")
def esformer_crossover_group(a: Hashable, b: Hashable, group: GeneGroup, rng: random.Random):
    """ESFormer: ``topology`` crosses block ops position-wise on ``a``'s depths; ``size``
    crosses stem width, head dim, widths, expansions and depths, keeping ``a``'s ops (a deeper
    stage repeats ``a``'s last op, as ``ESFormerSpace.mutate`` does)."""
    from esnas.spaces.esformer import ESFormerGenome  # why here: only ESFormer runs need it

    def pick(x, y):
        return x if rng.random() < 0.5 else y

    if group == "topology":
        blocks = tuple(
            tuple(pick(op, ob[j]) if j < len(ob) else op for j, op in enumerate(oa))
            for oa, ob in zip(a.blocks, b.blocks, strict=True)
        )
        return ESFormerGenome(a.stem_width, a.head_dim, a.widths, a.expansions, blocks)
    if group != "size":
        raise ValueError(f"unknown gene group {group!r}; valid: topology, size")
    blocks = []
    for oa, ob in zip(a.blocks, b.blocks, strict=True):
        d = pick(len(oa), len(ob))
        blocks.append(oa[:d] + (oa[-1],) * max(0, d - len(oa)))
    return ESFormerGenome(
        stem_width=pick(a.stem_width, b.stem_width),
        head_dim=pick(a.head_dim, b.head_dim),
        widths=tuple(pick(x, y) for x, y in zip(a.widths, b.widths, strict=True)),
        expansions=tuple(pick(x, y) for x, y in zip(a.expansions, b.expansions, strict=True)),
        blocks=tuple(blocks),
    )
