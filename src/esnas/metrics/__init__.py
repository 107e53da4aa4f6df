"""Training-free metrics: importing this package registers every metric by name.

A metric takes a freshly initialised model and a :class:`Probe` and returns one float; it
never knows which space built the model (imports: torch only).
"""

from esnas.metrics import (  # noqa: F401
    az_nas,
    cost,
    entropic,
    gradient,
    meco,
    naswot,
    swap,
    synflow,
    zen,
    zico,
)
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
