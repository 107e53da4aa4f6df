"""``build(kind, node)``: every pluggable kind from its config node, by name or ``_target_``."""

from __future__ import annotations

import random
from typing import ClassVar

import pytest
import torch

from esnas.components import BUILDERS, build
from esnas.metrics import Probe, score_model
from esnas.search.baselines import RegularizedEvolution
from esnas.search.constraints import Constraints
from esnas.search.engine import Engine
from esnas.spaces.nb201 import NB201Space
from esnas.utils.errors import EsnasInputError
from esnas.utils.registry import UnknownNameError
from tests.search.fakes import FakeScorer


def test_a_space_builds_by_name_or_target_alike() -> None:
    by_name = build("space", {"name": "nb201", "dataset": "cifar100", "max_params": 1e6})
    by_target = build(
        "space",
        {"_target_": "esnas.spaces.nb201.NB201Space", "dataset": "cifar100", "max_params": 1e6},
    )
    assert type(by_name) is type(by_target) is NB201Space
    assert (by_name.num_classes, by_name.max_params) == (by_target.num_classes, 1e6) == (100, 1e6)


def test_a_strategy_builds_on_an_engine_without_its_engine_settings() -> None:
    space = NB201Space()
    engine = Engine(space, FakeScorer(space), Constraints(space), random.Random(0), 20)
    node = {"name": "rea", "combine": "rank", "tournament": 5, "population": 10}
    strategy = build("strategy", node, engine=engine)
    assert isinstance(strategy, RegularizedEvolution) and strategy.name == "rea"
    with pytest.raises(EsnasInputError, match="has no option"):
        build("strategy", {"name": "rea", "tournement": 5}, engine=engine)


def test_metric_fitness_study_and_model_build_by_name() -> None:
    entropic = build("metric", {"name": "entropic", "estimator": "gaussian"})
    assert callable(entropic)
    assert build("fitness", {"name": "rank"})([[1.0, 3.0, 2.0]]) == [0.0, 1.0, 0.5]
    assert callable(build("study", {"name": "bench_metrics", "models": 1}))
    model = build("model", {"name": "esformer_xxs", "num_classes": 3})
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 3)
    probe = Probe(input_shape=(3, 64, 64), batch_size=2, num_inits=1)
    assert score_model(model, ["params"], probe)["params"] > 0


def test_unknown_kinds_and_names_are_one_line_errors() -> None:
    assert {"space", "strategy", "metric", "fitness", "study", "model", "logger"} <= set(
        BUILDERS.names()
    )
    with pytest.raises(UnknownNameError, match="unknown component kind 'spce'; valid: "):
        build("spce", {"name": "nb201"})
    with pytest.raises(UnknownNameError, match="unknown space 'nb2001'"):
        build("space", {"name": "nb2001"})
    with pytest.raises(EsnasInputError, match="needs a name"):
        build("fitness", {})


def test_a_run_logger_builds_by_name_or_target_alike(tmp_path) -> None:
    from esnas.utils.loggers import LOGGERS, DiskRunLogger

    run = {"output_dir": str(tmp_path), "job_type": "search", "run_config": {"a": 1}}
    by_name = build("logger", {"name": "csv"}, **run)
    by_target = build("logger", {"_target_": "esnas.utils.loggers.DiskRunLogger"}, **run)
    assert type(by_name) is type(by_target) is DiskRunLogger
    assert by_name.output_dir == tmp_path and by_name.job_type == "search"
    assert {"none", "csv", "wandb"} <= set(LOGGERS.names())
    with pytest.raises(UnknownNameError, match="unknown run logger 'wandbb'; valid: csv, none"):
        build("logger", {"name": "wandbb"}, **run)


def test_a_registered_run_logger_is_a_config_choice_without_yaml(run_config, monkeypatch) -> None:
    from esnas.utils import loggers
    from esnas.utils.task import run_task

    class Remembering(loggers.RunLogger):
        seen: ClassVar[list] = []

        def __init__(self, output_dir, job_type: str = "run", prefix: str = "x", **_) -> None:
            super().__init__(output_dir, job_type)
            self.prefix = prefix
            Remembering.seen.append(self)

        def log_summary(self, figures) -> None:
            self.figures = {f"{self.prefix}/{k}": v for k, v in figures.items()}

    monkeypatch.setitem(loggers.LOGGERS._items, "remembering", Remembering)
    cfg = run_config("score", ["logger=remembering", "logger.prefix=p"])
    assert dict(cfg.logger) == {"name": "remembering", "prefix": "p"}
    assert run_task(cfg, "score", lambda ctx: {"a": 1}) == {"a": 1}
    assert [r.figures for r in Remembering.seen] == [{"p/a": 1}]
