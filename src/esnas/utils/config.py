"""Where the configs live, early one-line errors for bad group choices, and config hashing."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from esnas.utils.errors import EsnasInputError

# Groups whose options come from Hydra or its plugins, not from files in conf/.
_EXTERNAL_GROUPS = ("hydra",)
# Keys that differ between runs of the same experiment and so stay out of its hash.
_UNHASHED_KEYS = ("paths", "logger", "hydra", "tags")


class ConfigChoiceError(EsnasInputError):
    """An override picks a config-group option that does not exist."""


def config_dir() -> Path:
    """The project's ``conf/`` folder (``ESNAS_CONFIG_DIR`` overrides it)."""
    env = os.environ.get("ESNAS_CONFIG_DIR")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[3] / "conf"


def group_options(group: str, root: Path | None = None) -> list[str]:
    """The option names of a config group: YAML stems in ``conf/<group>/`` and the nodes the
    code stored in Hydra's ConfigStore (e.g. ``metric/<name>``, from the metric registry)."""
    from hydra.core.config_store import ConfigStore

    folder = (root or config_dir()) / group
    names = {p.stem for p in folder.glob("*.yaml")}
    store = ConfigStore.instance()
    if store.get_type(group).name == "GROUP":
        names |= {n.removesuffix(".yaml") for n in store.list(group)}
    return sorted(names)


def _choices(override: Any) -> Iterable[str]:
    """Every option an override names: one value, a multi-select list, or a sweep."""
    if override.is_sweep_override():
        return [str(v) for v in override.sweep_iterator()]
    value = override.value()
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def check_group_choices(overrides: Sequence[str], root: Path | None = None) -> None:
    """Raises :class:`ConfigChoiceError` (one line, listing the valid options) when an
    override such as ``space=foo`` or ``-m metric=a,b`` names a missing group option.

    Hydra reports the same mistake as a multi-line trace; checking first gives users the
    short answer. Overrides that are not group choices are left for Hydra to judge.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    root = root or config_dir()
    args = [o for o in overrides if not o.startswith("-") and "=" in o]
    for override in OverridesParser.create().parse_overrides(args):
        group = override.key_or_group
        if override.is_delete() or group.split("/")[0] in _EXTERNAL_GROUPS:
            continue
        valid = group_options(group, root)
        if not valid:
            continue  # not a config group: a value override, Hydra judges it
        for choice in _choices(override):
            if choice not in valid and choice != "null":
                raise ConfigChoiceError(
                    f"unknown {group} {choice!r}; valid {group} options: {', '.join(valid)}"
                )


def config_hash(cfg: DictConfig) -> str:
    """A short stable hash of the experiment's resolved config, without run-specific keys
    (output paths, logger, tags), so two runs of the same experiment share it."""
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
    except (InterpolationResolutionError, ValueError):
        # Outside a Hydra run `${hydra:...}` cannot resolve: hash the raw text instead.
        container = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(container, dict)
    kept = {k: v for k, v in container.items() if k not in _UNHASHED_KEYS}
    blob = json.dumps(kept, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def search_group(arch_file: str | None, default: str) -> str:
    """The W&B group recorded in a search's ``best_arch.yaml`` (``search.group``), so the
    training of a searched architecture lands in its search's group; ``default`` otherwise
    (no file, a ``wandb:`` artifact reference, or a file without one)."""
    import yaml

    if not arch_file or str(arch_file).startswith("wandb:") or not Path(arch_file).is_file():
        return default
    try:
        doc = yaml.safe_load(Path(arch_file).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return default  # esnas-train reports the unreadable file itself, in one line
    group = (doc.get("search") or {}).get("group") if isinstance(doc, dict) else None
    return str(group) if group else default


def archs_of(csv_file: str, count: int | None = None, column: str = "arch") -> list[str]:
    """The ``arch`` column of a CSV such as ``esnas-score``'s output (or ``column``, e.g. the
    ``best_arch`` of a search sweep's rows), its first ``count`` rows when given."""
    import csv

    try:
        with open(csv_file, newline="") as f:
            archs = [row[column] for row in csv.DictReader(f)]
    except (OSError, KeyError) as err:
        raise EsnasInputError(
            f"{csv_file!r} is not a CSV with a {column!r} column ({err})"
        ) from None
    return archs if count is None else archs[: int(count)]


def arch_at(csv_file: str, index: int, column: str = "arch") -> str:
    """The ``arch`` (or ``column``) of row ``index`` (0-based) of a CSV such as ``esnas-score``'s
    output, so a multirun over ``index`` trains a fixed, committed list of genomes."""
    archs = archs_of(csv_file, None, column)
    if not isinstance(index, int) or not 0 <= index < len(archs):
        raise EsnasInputError(
            f"index {index!r} is invalid for {csv_file}; valid: 0..{len(archs) - 1}"
        )
    return archs[index]


def arch_where(csv_file: str, column: str, *conditions: str) -> str:
    """``column`` of the one row of a CSV whose ``key=value`` ``conditions`` all hold, e.g. the
    ``best_arch`` of strategy ``cyclic``, seed 0 in a search sweep's rows (a row's position
    shifts as the sweep grows; its keys do not)."""
    import csv

    wanted = dict(str(c).partition("=")[::2] for c in conditions)
    try:
        with open(csv_file, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise EsnasInputError(f"{csv_file!r} is not readable ({err})") from None
    hits = [r for r in rows if all(r.get(k) == v for k, v in wanted.items())]
    if len(hits) != 1 or column not in hits[0]:
        where = ", ".join(f"{k}={v}" for k, v in wanted.items())
        raise EsnasInputError(f"{csv_file} has {len(hits)} rows with {where} (valid: exactly one)")
    return hits[0][column]


def best_where(csv_file: str, column: str, by: str, *conditions: str) -> float:
    """``column`` (a number) of the row with the highest ``by`` among the rows of a CSV whose
    ``key=value`` ``conditions`` all hold, e.g. the LR that reached the best validation
    accuracy in a model's seed-0 sweep, so later seeds train at the LR chosen on validation.
    Ties go to the smallest ``column`` value (of two LRs equally good on validation, the lower)."""
    import csv

    wanted = dict(str(c).partition("=")[::2] for c in conditions)
    try:
        with open(csv_file, newline="") as f:
            rows = [r for r in csv.DictReader(f) if all(r.get(k) == v for k, v in wanted.items())]
    except OSError as err:
        raise EsnasInputError(f"{csv_file!r} is not readable ({err})") from None
    rows = [r for r in rows if r.get(by) not in (None, "") and r.get(column) not in (None, "")]
    if not rows:
        where = ", ".join(f"{k}={v}" for k, v in wanted.items())
        raise EsnasInputError(
            f"{csv_file} has no row with {where} and both {column!r} and {by!r} "
            "(valid: run the sweep that makes those rows, then esnas-report --rows, first)"
        )
    return float(max(rows, key=lambda r: (float(r[by]), -float(r[column])))[column])


def value_or_best(value: Any, csv_file: str, column: str, by: str, *conditions: str) -> float:
    """``value`` as a number, or ``best_where(csv_file, column, by, *conditions)`` when it is
    ``best``: a sweep's LR is a plain override, a later seed's ``...=best`` says it takes the
    LR its sweep chose, and the config composes before any sweep has run."""
    if str(value) == "best":
        return best_where(csv_file, column, by, *conditions)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise EsnasInputError(f"{value!r} is invalid; valid: a number, or best") from None


if not OmegaConf.has_resolver("esnas.search_group"):
    OmegaConf.register_new_resolver("esnas.search_group", search_group)
if not OmegaConf.has_resolver("esnas.project_root"):  # committed inputs, wherever you launch
    OmegaConf.register_new_resolver("esnas.project_root", lambda: str(config_dir().parent))
if not OmegaConf.has_resolver("esnas.arch_at"):
    # cached: every access to model.arch re-resolves, and the answer never changes in a run
    OmegaConf.register_new_resolver("esnas.arch_at", arch_at, use_cache=True)
if not OmegaConf.has_resolver("esnas.arch_where"):
    OmegaConf.register_new_resolver("esnas.arch_where", arch_where, use_cache=True)
if not OmegaConf.has_resolver("esnas.best_where"):
    OmegaConf.register_new_resolver("esnas.best_where", best_where, use_cache=True)
if not OmegaConf.has_resolver("esnas.value_or_best"):
    OmegaConf.register_new_resolver("esnas.value_or_best", value_or_best, use_cache=True)
if not OmegaConf.has_resolver("esnas.archs_of"):
    OmegaConf.register_new_resolver("esnas.archs_of", archs_of, use_cache=True)
