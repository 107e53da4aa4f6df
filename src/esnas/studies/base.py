"""The study registry: result tables that are neither one search nor one scoring run.

A study is a function ``fn(ctx, *, option=default, ...)`` registered by name; its keyword
arguments are its config (``study/<name>``, a schema made from the signature and stored in
Hydra's ConfigStore), so ``esnas-study study=<name> study.<option>=...`` runs it like any other
entry point: seeded, logged, with ``summary.json``, and one-line errors for bad input.
Studies share the probe, the score cache and the report helpers in :mod:`esnas.studies.common`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from esnas.utils.registry import Registry
from esnas.utils.schema import signature_schema
from esnas.utils.task import RunContext

Study = Callable[..., Mapping[str, Any] | None]


@dataclass(frozen=True)
class StudyInfo:
    """A registered study: its function, which reads ``(ctx, **options)``."""

    name: str
    fn: Study

    def schema(self) -> type:
        """The study's config node: ``name`` plus its keyword arguments, typed."""
        title = "".join(part.title() for part in self.name.split("_"))
        return signature_schema(self.fn, 1, f"{title}Study", first=(("name", str, self.name),))

    def run(self, ctx: RunContext, options: Mapping[str, Any]) -> Mapping[str, Any]:
        return dict(self.fn(ctx, **options) or {})


STUDIES: Registry[StudyInfo] = Registry("study")


def register_study(name: str) -> Callable[[Study], Study]:
    """Decorator registering ``fn(ctx, **options)`` as the study ``name``."""

    def decorator(fn: Study) -> Study:
        STUDIES.register(name)(StudyInfo(name, fn))
        return fn

    return decorator
