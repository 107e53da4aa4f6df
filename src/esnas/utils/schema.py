"""Config schemas made from signatures: a component's keyword arguments *are* its config.

Why: a YAML file that restates a function's options has to be kept equal to it. A dataclass
made from the signature is stored in Hydra's ConfigStore instead (``esnas.cli.configstore``),
so composing checks option names, and values where the annotation is one OmegaConf can hold.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from typing import Any

_PRIMITIVES = (int, float, bool, str)


def config_type(annotation: Any) -> Any:
    """``annotation`` where OmegaConf can check it (a primitive, optionally ``None``), else
    ``Any`` (tuples, unions of several types, containers)."""
    if annotation in _PRIMITIVES:
        return annotation
    args = typing.get_args(annotation)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and rest[0] in _PRIMITIVES:
            return annotation
    return Any


def signature_options(fn: Callable[..., Any], skip: int) -> dict[str, Any]:
    """The options of ``fn`` and their defaults: parameters after the first ``skip``
    positional ones that have a default or are keyword-only."""
    params = list(inspect.signature(fn).parameters.values())[skip:]
    return {
        p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY or p.default is not p.empty
    }


def signature_schema(
    fn: Callable[..., Any],
    skip: int,
    class_name: str,
    first: tuple[tuple[str, Any, Any], ...] = (),
) -> type:
    """A dataclass of ``fn``'s options (see :func:`signature_options`), typed from its
    annotations; ``first`` fields ``(name, type, default)`` come before them (e.g. a ``name``
    tag). Tuples become lists, mutable defaults default factories."""
    hints = typing.get_type_hints(fn)
    fields: list[tuple[str, Any, Any]] = [
        (name, typ, dataclasses.field(default=default)) for name, typ, default in first
    ]
    for name, default in signature_options(fn, skip).items():
        value = list(default) if isinstance(default, tuple) else default
        if isinstance(value, list | dict):
            spec = dataclasses.field(default_factory=lambda v=value: type(v)(v))
        else:
            spec = dataclasses.field(default=value)
        fields.append((name, config_type(hints.get(name, Any)), spec))
    return dataclasses.make_dataclass(class_name, fields)
