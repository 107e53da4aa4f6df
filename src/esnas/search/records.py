"""Population and history records: plain data, so a search checkpoints as JSON and resumes.

Why a small dataclass and never an ``nn.Module``: a search keeps thousands of individuals;
only their genome string, costs and scores matter once the scorer is done with the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

PHASES = ("init", "topology", "size", "search")
"""Phase names: multi-start ``init``, cyclic ``topology`` / ``size``, and ``search`` for
strategies without phases (random, REA, FreeREA)."""


@dataclass
class Individual:
    """One evaluated architecture.

    Attributes:
        index: evaluation index (0-based); also its birth time, so age = now - index.
        arch: canonical genome string (``space.encode``).
        params: parameter count at the space's resolution.
        macs: multiply-accumulates at the space's resolution.
        scores: metric label → score.
        fitness: fitness within the population it joined, under its phase's fitness.
        phase: phase it was evaluated in (see :data:`PHASES`).
        cycle: cyclic-search cycle (or multi-start run) number; 0 otherwise.
        op: how it was made: ``random``, ``mutation``, ``crossover`` (``+random`` when a
            bounded re-draw fell back to a random sample).
        parents: evaluation indices of its parents.
        seconds: un-cached scoring time (as if nothing had been cached).
    """

    index: int
    arch: str
    params: int
    macs: int
    scores: dict[str, float]
    fitness: float = float("nan")
    phase: str = "search"
    cycle: int = 0
    op: str = "random"
    parents: tuple[int, ...] = ()
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (parents as a list)."""
        d = asdict(self)
        d["parents"] = list(self.parents)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Individual:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["parents"] = tuple(d.get("parents", ()))
        d["scores"] = {k: float(v) for k, v in d["scores"].items()}
        return cls(**d)


def history_columns(labels: Sequence[str]) -> list[str]:
    """CSV / table columns of a history with metric ``labels``."""
    return [
        "index",
        "phase",
        "cycle",
        "op",
        "parents",
        "arch",
        "params",
        "macs",
        "fitness",
        *(f"score_{label}" for label in labels),
        "seconds",
    ]


def history_rows(history: Sequence[Individual], labels: Sequence[str]) -> list[list[Any]]:
    """Rows matching :func:`history_columns` (parents joined by ``;``)."""
    return [
        [
            r.index,
            r.phase,
            r.cycle,
            r.op,
            ";".join(map(str, r.parents)),
            r.arch,
            r.params,
            r.macs,
            r.fitness,
            *(r.scores.get(label, float("nan")) for label in labels),
            round(r.seconds, 6),
        ]
        for r in history
    ]
