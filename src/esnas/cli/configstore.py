"""Config nodes made from the code's registries instead of YAML files (Hydra's ConfigStore).

Why: a metric's options are its function's keyword arguments; a YAML file per metric restated
them and had to be kept equal by a test. Each registered metric's options schema (a dataclass
typed from its signature, :meth:`~esnas.metrics.base.MetricInfo.options_schema`) is stored as
the config-group option ``metric/<name>``, so ``metric@metric_options.<name>: <name>`` in a
primary config composes it, and a new metric needs no config file at all. Studies get the same:
``study/<name>`` is the schema of the study function's keyword arguments.
"""

from __future__ import annotations

from dataclasses import asdict

from hydra.core.config_store import ConfigStore

from esnas.metrics import METRICS
from esnas.search.strategy import STRATEGIES, EngineSettings, strategy_options
from esnas.spaces.base import SPACES
from esnas.utils.config import config_dir
from esnas.utils.loggers import LOGGERS
from esnas.utils.schema import signature_options


def _has_file(group: str, name: str) -> bool:
    """Whether ``conf/<group>/<name>.yaml`` exists (Hydra would merge a stored node into it)."""
    return (config_dir() / group / f"{name}.yaml").exists()


def register_configs(config_name: str = "") -> None:
    """Stores ``metric/<name>`` for every registered metric; ``space/<name>``,
    ``strategy/<name>`` and ``logger/<name>`` for every space, strategy and run logger that has
    no YAML file in ``conf/`` (a file keeps its comments and tuned defaults; a new part needs
    none); and, for
    ``esnas-study`` (whose studies import scipy and every table's code), ``study/<name>`` for
    every study. Calling it again stores them again."""
    store = ConfigStore.instance()
    for name in METRICS.names():
        store.store(group="metric", name=name, node=METRICS.get(name).options_schema())
    for name in SPACES.names():
        if not _has_file("space", name):
            cls = SPACES.get(name)
            node = {"_target_": f"{cls.__module__}.{cls.__qualname__}"}
            store.store(group="space", name=name, node=node | signature_options(cls.__init__, 1))
    for name in STRATEGIES.names():
        if not _has_file("strategy", name):
            options = asdict(EngineSettings()) | strategy_options(STRATEGIES.get(name))
            store.store(group="strategy", name=name, node={"name": name} | options)
    for name in LOGGERS.names():
        if not _has_file("logger", name):
            cls = LOGGERS.get(name)
            options = signature_options(cls.__init__, 1)
            for run_arg in ("output_dir", "job_type", "run_config"):  # given by the run
                options.pop(run_arg, None)
            store.store(group="logger", name=name, node={"name": name} | options)
    if config_name == "study":
        from esnas.studies import STUDIES

        for name in STUDIES.names():
            store.store(group="study", name=name, node=STUDIES.get(name).schema())
