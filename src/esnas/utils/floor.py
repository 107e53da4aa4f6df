"""The score of a failed metric, in one home: the metrics return it (a finite value, so
sorting and averaging never meet a NaN), the fitness and the reports rank it below every real
value. Importable without torch, for the search's fitness and the report CLI."""

from __future__ import annotations

FLOOR = -1e30


def is_floor(value: float) -> bool:
    """True for the bottom value a failed (non-finite) metric returns, :data:`FLOOR`."""
    return value <= FLOOR
