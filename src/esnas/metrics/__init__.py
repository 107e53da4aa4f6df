"""Training-free metrics: importing this package registers every metric by name.

A metric takes a freshly initialised model and a :class:`Probe` and returns one float; it
never knows which space built the model (imports: torch only).
"""

from esnas.metrics import cost, entropic, gradient, naswot, synflow, zen, zico  # noqa: F401
from esnas.metrics.base import (
    FLOOR,
    METRICS,
    MetricContext,
    MetricInfo,
    Probe,
    is_floor,
    register_metric,
    reinit_,
    resolve_metrics,
    score_model,
)

__all__ = [
    "FLOOR",
    "METRICS",
    "MetricContext",
    "MetricInfo",
    "Probe",
    "is_floor",
    "register_metric",
    "reinit_",
    "resolve_metrics",
    "score_model",
]
