"""Shared test set-up: no network, no W&B account, configs composed like the entry points."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports wandb or timm (DESIGN.md: tests never touch the network).
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ["WANDB_SILENT"] = "true"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HYDRA_FULL_ERROR"] = "1"
os.environ.pop("WANDB_API_KEY", None)

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from esnas.cli.configstore import register_configs
from esnas.utils.config import config_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = config_dir()
PRIMARY_CONFIGS = ("score", "search", "train", "eval")


@pytest.fixture(autouse=True)
def _wandb_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """W&B never writes into the checkout or the home folder."""
    wandb_dir = tmp_path_factory.mktemp("wandb")
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(wandb_dir / "cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(wandb_dir / "config"))


@pytest.fixture(autouse=True)
def _esnas_root(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs (and the subprocesses tests start) write their logs and score cache under a fresh
    folder, never into the checkout: ``paths.root_dir`` is ``$ESNAS_ROOT``, else the cwd."""
    monkeypatch.setenv("ESNAS_ROOT", str(tmp_path_factory.mktemp("esnas_root")))


def compose_run_config(
    config_name: str, overrides: list[str], output_dir: Path | None = None
) -> DictConfig:
    """Composes ``conf/<config_name>.yaml`` as a Hydra run would, with ``${hydra:...}`` set."""
    GlobalHydra.instance().clear()
    register_configs(config_name)  # as the entry points do before composing
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(output_dir)
            cfg.hydra.runtime.cwd = str(output_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.fixture
def run_config(tmp_path: Path) -> Iterator:
    """``run_config(name, overrides)`` → a composed run config whose output_dir is tmp_path."""

    def make(config_name: str, overrides: list[str] | None = None) -> DictConfig:
        cfg = compose_run_config(config_name, overrides or [], output_dir=tmp_path / "run")
        with open_dict(cfg):
            del cfg["hydra"]  # a task never sees this node in a real run
        return cfg

    yield make
    GlobalHydra.instance().clear()


def resolve_job(cfg: DictConfig) -> dict:
    """The job's config with every interpolation resolved (the ``hydra`` node left out: its
    run-vs-sweep fields are only filled in by a real launch)."""
    return {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
        for k, v in cfg.items()
        if k != "hydra"
    }


def run_cli(*args: str) -> list[str]:
    """argv that runs python with ``args`` in the project's interpreter."""
    return [sys.executable, *args]
