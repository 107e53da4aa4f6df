"""One way to build a pluggable part from its config node: ``build(kind, node)``.

Every search-side kind is a registry of named parts whose config node comes from the part's
signature (``esnas.cli.configstore``): spaces, metrics, strategies, fitness aggregators,
studies and run loggers, plus timm's registry for model families. A node names its part with
``name:``, or, for spaces and loggers, with a ``_target_`` that Hydra instantiates, so YAML
written for ``hydra.utils.instantiate`` builds here too. Training's Lightning parts
(optimiser, scheduler, data, trainer, Lightning loggers) stay plain ``_target_`` nodes, as in
lightning-hydra-template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from omegaconf import DictConfig, OmegaConf

from esnas.utils.registry import Registry

Builder = Callable[..., Any]
BUILDERS: Registry[Builder] = Registry("component kind")


def build(kind: str, node: Mapping[str, Any] | DictConfig, **context: Any) -> Any:
    """Builds the part of ``kind`` (``space``, ``strategy``, ``metric``, ``fitness``,
    ``study``, ``model``, ``logger``) that ``node`` describes; ``context`` is what the kind
    needs besides its config (a strategy's ``engine``, a logger's run folder). An unknown kind
    or name is a one-line error."""
    builder = BUILDERS.get(kind)
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=True)
    return builder(dict(node), **context)


def _name(kind: str, node: dict[str, Any], target: bool = False) -> str:
    from esnas.utils.errors import EsnasInputError

    name = node.pop("name", None)
    if not name:
        needs = "a name (or a _target_)" if target else "a name"
        raise EsnasInputError(f"a {kind} node needs {needs}; got {node}")
    return str(name)


def _no_options(kind: str, name: str, node: dict[str, Any], valid: Any = ()) -> None:
    """A one-line error for options ``name`` does not take (``valid``: those it does)."""
    from esnas.utils.errors import EsnasInputError

    unknown = sorted(set(node) - set(valid))
    if unknown:
        takes = ", ".join(valid) if valid else "none"
        raise EsnasInputError(
            f"{kind} {name!r} has no option(s) {', '.join(unknown)}; valid: {takes}"
        )


@BUILDERS.register("space")
def _space(node: dict[str, Any]) -> Any:
    from hydra.utils import instantiate

    from esnas.spaces.base import SPACES

    if "_target_" in node:
        return instantiate(node)
    return SPACES.get(_name("space", node, target=True))(**node)


@BUILDERS.register("strategy")
def _strategy(node: dict[str, Any], engine: Any) -> Any:
    """The strategy without its engine settings (the recipe gives those to the engine)."""
    from esnas.search.strategy import STRATEGIES, EngineSettings, check_strategy_options

    name = _name("strategy", node)
    _, own = EngineSettings.split(node)
    check_strategy_options(name, own)
    return STRATEGIES.get(name)(engine, name=name, **own)


@BUILDERS.register("metric")
def _metric(node: dict[str, Any]) -> Any:
    """``fn(model, ctx) -> float`` with the node's options bound."""
    from esnas.metrics import METRICS

    return METRICS.get(_name("metric", node)).bind(node)


@BUILDERS.register("fitness")
def _fitness(node: dict[str, Any]) -> Any:
    """The aggregator: columns of scores → one fitness per individual."""
    from esnas.search.fitness import COMBINERS

    name = _name("fitness", node)
    combiner = COMBINERS.get(name)
    _no_options("fitness", name, node)
    return combiner


@BUILDERS.register("study")
def _study(node: dict[str, Any]) -> Any:
    """``run(ctx) -> figures`` with the node's options bound."""
    from esnas.studies import STUDIES
    from esnas.utils.schema import signature_options

    name = _name("study", node)
    info = STUDIES.get(name)
    _no_options("study", name, node, signature_options(info.fn, 1))
    return partial(info.run, options=node)


@BUILDERS.register("model")
def _model(node: dict[str, Any]) -> Any:
    """A timm model (``esformer_*`` included) with the node's keyword arguments."""
    import timm

    import esnas.models.esformer  # noqa: F401  # registers the esformer_* entry points
    from esnas.utils.registry import UnknownNameError

    name = _name("model", node)
    if not timm.is_model(name):
        raise UnknownNameError(
            f"unknown model {name!r}; valid: a timm model name, e.g. "
            f"{', '.join(timm.list_models('esformer*'))}"
        )
    return timm.create_model(name, **node)


@BUILDERS.register("logger")
def _logger(node: dict[str, Any], **run: Any) -> Any:
    """The run logger, given its run (``output_dir``, ``job_type``, ``run_config``)."""
    from hydra.utils import instantiate

    from esnas.utils.loggers import LOGGERS

    if "_target_" in node:  # partial: the run's config holds `_target_`s Hydra must not build
        return instantiate(node, _partial_=True)(**run)
    return LOGGERS.get(_name("logger", node, target=True))(**node, **run)
