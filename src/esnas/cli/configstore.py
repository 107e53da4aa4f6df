"""Config nodes made from the code's registries instead of YAML files (Hydra's ConfigStore).

Why: a metric's options are its function's keyword arguments; a YAML file per metric restated
them and had to be kept equal by a test. Each registered metric's options schema (a dataclass
typed from its signature, :meth:`~esnas.metrics.base.MetricInfo.options_schema`) is stored as
the config-group option ``metric/<name>``, so ``metric@metric_options.<name>: <name>`` in a
primary config composes it, and a new metric needs no config file at all. Studies get the same:
``study/<name>`` is the schema of the study function's keyword arguments.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from esnas.metrics import METRICS


def register_configs(config_name: str = "") -> None:
    """Stores ``metric/<name>`` for every registered metric and, for ``esnas-study`` (whose
    studies import scipy and every table's code), ``study/<name>`` for every study. Calling it
    again stores the same nodes again."""
    store = ConfigStore.instance()
    for name in METRICS.names():
        store.store(group="metric", name=name, node=METRICS.get(name).options_schema())
    if config_name == "study":
        from esnas.studies import STUDIES

        for name in STUDIES.names():
            store.store(group="study", name=name, node=STUDIES.get(name).schema())
