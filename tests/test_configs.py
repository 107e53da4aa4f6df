"""Every YAML under conf/ composes and resolves with the entry point it belongs to.

Parametrised from the tree, so a new config file is tested the moment it is added.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from tests.conftest import CONF_DIR, PRIMARY_CONFIGS, compose_run_config, resolve_job


def _defaults_entries(primary: str) -> dict[str, str | None]:
    """``{group: package}`` of a primary config's defaults list (``None``: the group's own)."""
    defaults = yaml.safe_load((CONF_DIR / f"{primary}.yaml").read_text()).get("defaults", [])
    entries: dict[str, str | None] = {}
    for item in defaults:
        for key in item if isinstance(item, dict) else []:
            group, _, package = key.removeprefix("override ").partition("@")
            entries.setdefault(group, package or None)
    return entries


def _defaults_groups(primary: str) -> set[str]:
    return set(_defaults_entries(primary))


def _group_files() -> list[Path]:
    return sorted(p for p in CONF_DIR.rglob("*.yaml") if p.parent != CONF_DIR)


def _primaries_for(path: Path) -> list[str]:
    """The entry points a group file is meant for; experiments name theirs in a header
    comment (``esnas-search experiment=...``), as DESIGN.md asks."""
    group = path.parent.relative_to(CONF_DIR).as_posix()
    if group == "experiment":
        match = re.search(r"esnas-(score|search|train|eval)\b", path.read_text())
        assert match, f"{path.name}: header comment must give the command that runs it"
        return [match.group(1)]
    users = [p for p in PRIMARY_CONFIGS if group in _defaults_groups(p)]
    if not users:  # a group no primary lists (e.g. esformer_strategy) names its command
        match = re.search(r"esnas-(score|search|train|eval)\b", path.read_text())
        return [match.group(1)] if match else list(PRIMARY_CONFIGS)
    return users


@pytest.mark.parametrize("primary", PRIMARY_CONFIGS)
def test_primary_config_composes_and_resolves(primary: str, tmp_path: Path) -> None:
    cfg = compose_run_config(primary, [], output_dir=tmp_path)
    container = resolve_job(cfg)
    assert container["task_name"] == primary
    assert isinstance(container["seed"], int)
    assert container["paths"]["output_dir"] == str(tmp_path)


@pytest.mark.parametrize(
    "path", _group_files(), ids=lambda p: p.relative_to(CONF_DIR).with_suffix("").as_posix()
)
def test_group_option_composes(path: Path, tmp_path: Path) -> None:
    group = path.parent.relative_to(CONF_DIR).as_posix()
    option = path.stem
    for primary in _primaries_for(path):
        entries = _defaults_entries(primary)
        if group not in entries:
            override = f"+{group}={option}"
        elif entries[group] is not None:  # e.g. metric@metric_options.entropic
            override = f"{group}@{entries[group]}={option}"
        else:
            override = f"{group}={option}"
        cfg = compose_run_config(primary, [override], output_dir=tmp_path)
        resolve_job(cfg)  # every interpolation resolves
        OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
        choice = group if entries.get(group) is None else f"{group}@{entries[group]}"
        if group != "hydra" and group in entries:
            assert cfg.hydra.runtime.choices.get(choice) == option


def test_launchers_select_their_plugins(tmp_path: Path) -> None:
    expected = {
        "basic": "BasicLauncher",
        "joblib": "JoblibLauncher",
        "submitit_slurm": "SlurmLauncher",
    }
    for option, launcher_class in expected.items():
        cfg = compose_run_config("search", [f"launcher={option}"], output_dir=tmp_path)
        assert cfg.hydra.launcher._target_.endswith(launcher_class)
        OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
        # many nodes: one cache shard per job; one host: the shared WAL file
        assert cfg.cache.shard == ("auto" if option == "submitit_slurm" else None)


def test_debug_config_turns_off_wandb(tmp_path: Path) -> None:
    cfg = compose_run_config("search", ["debug=default"], output_dir=tmp_path)
    assert cfg.logger._target_.endswith("NullRunLogger")
    assert cfg.hydra.verbose is True


def test_wandb_logger_is_offline_by_default(tmp_path: Path) -> None:
    for primary in PRIMARY_CONFIGS:
        cfg = compose_run_config(primary, [], output_dir=tmp_path)
        assert cfg.logger._target_.endswith("WandbRunLogger")
        assert cfg.logger.offline is True
        assert cfg.logger.group == primary


def _experiments() -> list[Path]:
    return sorted((CONF_DIR / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("path", _experiments(), ids=lambda p: p.stem)
def test_every_experiment_logs_to_a_wandb_group_of_its_own(path: Path, tmp_path: Path) -> None:
    """One W&B group per experiment, not the task name every run shares by default."""
    (primary,) = _primaries_for(path)
    cfg = compose_run_config(primary, [f"experiment={path.stem}", "logger=wandb"], tmp_path)
    group = resolve_job(cfg)["logger"]["group"]
    assert group and group != primary


SWEEPS = {  # experiment -> (swept keys that must be there, fewest jobs)
    "nb201_phase_grid": ({"strategy.init.starts", "strategy.init.steps", "seed"}, 45),
    "nb201_phase_grid_small": ({"strategy.init.starts", "strategy.init.steps", "seed"}, 45),
    "esformer_phase_grid": ({"strategy.topology.steps", "strategy.size.steps", "seed"}, 45),
    "esformer_decoupled": ({"strategy", "seed"}, 10),
}


@pytest.mark.parametrize("experiment", sorted(SWEEPS))
def test_sweeps_expand_and_run_under_the_slurm_launcher(experiment: str, tmp_path: Path) -> None:
    """The committed sweeps expand to their grid (>= 3 x 3 x 5 seeds for the phase grids), and
    the same sweep composes with the submitit SLURM launcher, as the README documents."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [f"experiment={experiment}", "launcher=submitit_slurm"]
    cfg = compose_run_config("search", overrides, output_dir=tmp_path)
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    params = {str(k): str(v) for k, v in cfg.hydra.sweeper.params.items()}
    keys, fewest = SWEEPS[experiment]
    assert keys <= set(params)
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    assert len(jobs) >= fewest and len(set(map(tuple, jobs))) == len(jobs)
    for job in jobs[:: max(1, len(jobs) // 4)]:  # a few points compose as jobs
        resolve_job(compose_run_config("search", [*overrides, *job], output_dir=tmp_path))


ES_LS = {"combine": "rank", "topology": ["entropic"], "size": ["logsynflow", "entropic"]}


@pytest.mark.parametrize(
    "overrides",
    [
        ["experiment=esformer_xs_search"],
        ["experiment=esformer_xxs_search"],
        ["experiment=esformer_s_search"],
        ["experiment=esformer_phase_grid"],
        ["experiment=nb201_phase_grid"],
        ["experiment=esformer_search_validation", "+esformer_strategy=cyclic"],
    ],
)
def test_tables_made_with_the_es_ls_fitness_pin_it(overrides: list[str], tmp_path: Path) -> None:
    """The default fitness changed; the configs behind committed tables (and the ESFormer
    family) keep the one they were made with, and score only what it reads."""
    cfg = resolve_job(compose_run_config("search", overrides, output_dir=tmp_path))
    strategy = cfg["strategy"]
    got = {
        "combine": strategy["combine"],
        "topology": strategy["topology"]["metrics"],
        "size": strategy["size"]["metrics"],
    }
    assert got == ES_LS
    assert sorted(cfg["metrics"]) == ["entropic", "logsynflow"]
    assert strategy["rescore"]["top"] == 0  # they picked without re-scoring the finalists


@pytest.mark.parametrize("strategy", ["rea_es_ls", "random_es_ls", "combined_es_ls"])
def test_the_es_ls_baselines_pick_without_rescoring(strategy: str, tmp_path: Path) -> None:
    cfg = resolve_job(compose_run_config("search", [f"strategy={strategy}"], output_dir=tmp_path))
    assert cfg["strategy"]["rescore"]["top"] == 0


@pytest.mark.parametrize("strategy", ["cyclic", "combined", "rea", "random"])
def test_the_default_fitness_strategies_rescore_their_finalists(
    strategy: str, tmp_path: Path
) -> None:
    cfg = resolve_job(compose_run_config("search", [f"strategy={strategy}"], output_dir=tmp_path))
    assert cfg["strategy"]["rescore"] == {"top": 10, "probe": {"num_inits": 3}}


def test_default_fitness_and_combined_share_the_size_phase_fitness(tmp_path: Path) -> None:
    cyclic = resolve_job(compose_run_config("search", [], output_dir=tmp_path))
    combined = resolve_job(compose_run_config("search", ["strategy=combined"], output_dir=tmp_path))
    fitness = ["entropic", "logsynflow", "az_progressivity", "meco"]
    assert cyclic["strategy"]["size"]["metrics"] == fitness and cyclic["metrics"] == fitness
    assert cyclic["strategy"]["topology"]["metrics"] == ["entropic", "az_progressivity", "meco"]
    assert combined["strategy"]["topology"]["metrics"] == fitness
    assert combined["strategy"]["init"]["metrics"] == fitness
