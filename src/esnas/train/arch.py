"""Model specs: what to train, as a plain dict, so checkpoints load with ``weights_only=True``.

A spec is either a named timm model (``{"name": "mobilevit_xxs"}``, ``{"name": "esformer_xxs"}``)
or an ESFormer genome read from a search's ``best_arch.yaml`` (``{"genome": {...}, "arch":
"s16h32|...", "space": "esformer"}``). Training only needs the spec; it never imports the
search code (DESIGN.md: ``train → models``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import timm
import yaml
from torch import nn

import esnas.models.esformer  # noqa: F401  (registers the esformer_* timm entry points)
from esnas.models.esformer import create_esformer, genome_dict, parse_arch
from esnas.utils.errors import EsnasInputError

__all__ = ["arch_spec", "build_model", "load_arch_file", "model_spec", "spec_label"]

SUPPORTED_SPACES = ("esformer",)
# Keys of the model config that are build options, not architecture.
BUILD_KEYS = ("drop_rate", "drop_path_rate")


WANDB_PREFIX = "wandb:"


def fetch_arch_artifact(ref: str) -> Path:
    """Downloads a search's ``best-arch-<space>`` W&B artifact (type ``genome``) → its YAML file.

    ``ref`` is ``wandb:<entity>/<project>/best-arch-esformer:<version or alias>``; it needs
    network access and a W&B login (offline runs must be synced first).
    """
    name = ref.removeprefix(WANDB_PREFIX)
    try:
        import wandb

        folder = Path(wandb.Api().artifact(name, type="genome").download())
    except Exception as err:  # no network, no login, no such artifact: all one line
        raise EsnasInputError(
            f"W&B artifact {name!r} cannot be fetched ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); download it and pass "
            "model.arch_file=<folder>/best_arch.yaml"
        ) from None
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise EsnasInputError(f"W&B artifact {name!r} holds no YAML arch file")
    return files[0]


def load_arch_file(path: str | Path) -> dict[str, Any]:
    """Reads a search's ``best_arch.yaml`` (or ``wandb:<artifact>``) into a spec.

    Raises:
        ValueError: The file is missing, is not YAML, names an unsupported space, or its
            genome is malformed (each as one line).
    """
    if str(path).startswith(WANDB_PREFIX):
        path = fetch_arch_artifact(str(path))
    p = Path(path)
    if not p.is_file():
        raise EsnasInputError(
            f"arch file {str(p)!r} does not exist (expected a search's best_arch.yaml)"
        )
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise EsnasInputError(f"arch file {str(p)!r} is not valid YAML: {first}") from None
    if not isinstance(data, Mapping) or "genome" not in data:
        raise EsnasInputError(
            f"arch file {str(p)!r} has no 'genome' mapping; expected keys space, arch, genome "
            "(as written by esnas-search)"
        )
    space = data.get("space", "esformer")
    if space not in SUPPORTED_SPACES:
        raise EsnasInputError(
            f"arch file {str(p)!r}: space {space!r} cannot be trained; valid: "
            + ", ".join(SUPPORTED_SPACES)
        )
    try:
        genome = genome_dict(data["genome"])
        # Building once (~0.1 s) checks every op name and width before any training starts.
        create_esformer(genome, num_classes=10)
    except (ValueError, KeyError, TypeError) as err:
        raise EsnasInputError(f"arch file {str(p)!r} has an invalid genome: {err}") from None
    return {
        "name": None,
        "space": str(space),
        "arch": str(data.get("arch", "")),
        "genome": copy.deepcopy(_plain(genome)),
    }


def _plain(obj: Any) -> Any:
    """Tuples → lists and mappings → dicts, so the spec is a torch-safe plain container."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def model_spec(model_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Turns the ``model`` config node into a spec: a timm name, a genome from ``arch_file``,
    or a canonical ESFormer string in ``arch`` (what a ground-truth sweep trains).

    Raises:
        ValueError: Not exactly one of ``name``, ``arch_file`` and ``arch`` is set, the timm
            name is unknown, or the arch string is malformed.
    """
    name, arch_file, arch = (model_cfg.get(k) for k in ("name", "arch_file", "arch"))
    if sum(map(bool, (name, arch_file, arch))) != 1:
        raise EsnasInputError(
            "set exactly one of model.name (a timm model, e.g. esformer_xxs), "
            "model.arch_file (a search's best_arch.yaml) and model.arch (an ESFormer arch "
            "string, with model=genome)"
        )
    if arch_file:
        spec = load_arch_file(arch_file)
    elif arch:
        spec = arch_spec(str(arch))
    else:
        if not timm.is_model(name):
            close = timm.list_models(f"*{str(name).split('_')[0]}*")[:8]
            raise EsnasInputError(
                f"unknown timm model {name!r}; e.g. esformer_xxs, mobilevit_xxs"
                + (f" (similar: {', '.join(close)})" if close else "")
            )
        spec = {"name": str(name), "space": None, "arch": None, "genome": None}
    spec["build"] = {k: model_cfg[k] for k in BUILD_KEYS if model_cfg.get(k) is not None}
    return spec


def arch_spec(arch: str) -> dict[str, Any]:
    """The spec of a canonical ESFormer arch string (checked by building it once)."""
    genome = parse_arch(arch)
    try:
        create_esformer(genome, num_classes=10)
    except (ValueError, KeyError, TypeError) as err:
        raise EsnasInputError(
            f"model.arch {arch!r} is not a valid ESFormer genome: {err}"
        ) from None
    return {"name": None, "space": "esformer", "arch": arch.strip(), "genome": genome}


def spec_label(spec: Mapping[str, Any]) -> str:
    """A short human name for errors and logs: the timm name or the genome's arch string."""
    return spec.get("name") or f"{spec.get('space')}:{spec.get('arch') or '<genome>'}"


def build_model(
    spec: Mapping[str, Any], num_classes: int, in_chans: int = 3, **kwargs: Any
) -> nn.Module:
    """Builds the (randomly initialised) ``nn.Module`` a spec describes, via timm."""
    kw = {**dict(spec.get("build") or {}), **kwargs}
    if spec.get("genome") is not None:
        return create_esformer(spec["genome"], num_classes=num_classes, in_chans=in_chans, **kw)
    return timm.create_model(spec["name"], num_classes=num_classes, in_chans=in_chans, **kw)
