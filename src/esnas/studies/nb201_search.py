"""NB201 search table: every strategy x seed x budget, picked cells looked up in the ground truth.

Runs in one process and shares one :class:`esnas.scoring.Scorer` (and the score cache of
``cache.path``) across runs, so a cell is scored once per probe; the probe seed is fixed
(``probe_seed``) so the search seeds only change the evolution, and an
``esnas-score space=nb201 sample.n=all`` run with the same probe fills the cache beforehand.
Reported search time counts every evaluated cell's un-cached scoring time (FreeREA's
convention). Each run lives in its own folder under ``runs_dir`` and resumes there, so an
interrupted table continues where it stopped. Writes ``<out>.{md,csv}``.

Run: ``make reproduce-nb201-search`` (``esnas-study study=nb201_search ...``).
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import DictConfig, OmegaConf, open_dict

from esnas.cli.configstore import register_configs
from esnas.components import build
from esnas.search.recipe import SearchRecipe, build_scorer
from esnas.spaces.nb201 import NB201GroundTruth
from esnas.studies.base import register_study
from esnas.studies.common import results_path, root_dir, study_command
from esnas.utils.atomic import atomic_open, write_text_atomic
from esnas.utils.config import config_dir
from esnas.utils.errors import EsnasInputError
from esnas.utils.loggers import RunLogger
from esnas.utils.seeding import seed_everything
from esnas.utils.task import RunContext, short_commit

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
STRATEGIES = ("cyclic", "combined", "freerea", "rea", "random")


def compose_search(overrides: list[str], out: Path, root: Path, cache: str | None) -> DictConfig:
    """The ``esnas-search`` config with ``overrides``, writing to ``out``, scoring through
    ``cache``. A study runs inside a Hydra app: its global Hydra is set aside while the search
    config is composed, then put back."""
    backup = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        register_configs()
        with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
            cfg = compose("search", overrides=overrides)
    except HydraException as err:  # a study row's or study.overrides' own typo
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise EsnasInputError(f"a study row's search config {overrides}: {first}") from err
    finally:
        restore_gh_from_backup(backup)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.paths.root_dir = str(root)
        cfg.paths.work_dir = str(root)
        cfg.cache.path = cache
    return cfg


@register_study("nb201_search")
def nb201_search(
    ctx: RunContext,
    strategies: Sequence[str] = STRATEGIES,
    seeds: int = 10,
    budgets: Sequence[int] = (300, 1000),
    probe: str = "fast",
    probe_seed: int = 0,
    overrides: Sequence[str] = (),
    runs_dir: str = "logs/nb201_search",
    out: str = "experiments/results/nb201_search",
) -> dict[str, float]:
    """Runs (or resumes) every search and writes ``<out>.{md,csv}``; returns the mean
    CIFAR-10 accuracy of each strategy's picks per budget.

    ``strategies``: strategy names, or ``LABEL:OVERRIDE,OVERRIDE`` rows (e.g.
    ``cyclic_maxnorm:strategy=cyclic,strategy.combine=max_norm``); ``probe``: a
    ``conf/probe`` option; ``overrides``: extra ``esnas-search`` overrides.
    """
    if seeds < 1 or not budgets or not strategies:
        raise EsnasInputError(
            f"study.seeds must be >= 1 and study.budgets, study.strategies non-empty; got "
            f"seeds={seeds}, budgets={list(budgets)}, strategies={list(strategies)}"
        )
    args = SimpleNamespace(
        strategies=list(strategies),
        seeds=seeds,
        budgets=list(budgets),
        probe=probe,
        probe_seed=probe_seed,
        overrides=list(overrides),
        out=results_path(ctx, out),
    )
    runs, root = results_path(ctx, runs_dir), root_dir(ctx)
    cache = ctx.cfg.get("cache", {}).get("path")
    truth = NB201GroundTruth.load()
    base = ["space=nb201", f"probe={probe}", f"probe.seed={probe_seed}", "logger=none"]
    base += args.overrides
    scorers: dict[str, Any] = {}  # one per (space, probe, metrics): rows may change them
    rows = []
    try:
        for spec in args.strategies:
            strategy, extra = parse_row(spec)
            for budget in args.budgets:
                for seed in range(seeds):
                    run = runs / f"{strategy}_b{budget}_s{seed}"
                    cfg = compose_search(
                        [*base, *extra, f"budget.evaluations={budget}", f"seed={seed}"],
                        run,
                        root,
                        cache,
                    )
                    seed_everything(seed)
                    key = scorer_key(cfg)
                    if key not in scorers:
                        scorers[key] = build_scorer(cfg, build("space", cfg.space))
                    scorer = scorers[key]
                    recipe = SearchRecipe(run, RunLogger(run), scorer)
                    try:
                        recipe.setup(cfg)
                        fig = recipe.run()
                    finally:
                        recipe.close()  # its own re-scorer only; the shared scorer stays open
                    acc = {d: truth.test_accuracy(fig["best_arch"], d) for d in DATASETS}
                    rows.append(
                        {
                            "strategy": strategy,
                            "budget": budget,
                            "seed": seed,
                            "arch": fig["best_arch"],
                            **acc,
                            "evaluations": fig["evaluations"],
                            "search_seconds": fig["search_seconds_uncached"],
                            "wall_seconds": fig["wall_time_s"],
                        }
                    )
                    print(
                        f"{strategy:8s} b={budget:5d} s={seed:2d} C10 {acc['cifar10']:.2f} "
                        f"C100 {acc['cifar100']:.2f} IN16 {acc['ImageNet16-120']:.2f}",
                        file=sys.stderr,
                    )
        # the first row's scorer: the one `study.overrides` (not a row) set up
        args.optimum = fitness_optimum(next(iter(scorers.values())), truth) if scorers else []
    finally:
        for scorer in scorers.values():
            scorer.close()
    write_results(rows, truth, args)
    return {
        f"cifar10/{strategy}/b{budget}": statistics.mean(
            r["cifar10"] for r in rows if r["strategy"] == strategy and r["budget"] == budget
        )
        for strategy in dict.fromkeys(r["strategy"] for r in rows)
        for budget in args.budgets
    }


def scorer_key(cfg: DictConfig) -> str:
    """What a run's scores depend on (space, probe, metrics, device): runs that agree on it
    share one scorer, a row that overrides any of it gets its own."""
    keys = ("space", "probe", "metrics", "metric_options", "device")
    node = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k])
            else cfg[k] for k in keys if k in cfg}  # fmt: skip
    return json.dumps(node, sort_keys=True, default=str)


def parse_row(spec: str) -> tuple[str, list[str]]:
    """``"cyclic"`` → (cyclic, [strategy=cyclic]); ``"label:a=1,b=2"`` → (label, [a=1, b=2])."""
    label, sep, rest = spec.partition(":")
    return (label, rest.split(",")) if sep else (label, [f"strategy={label}"])


FITNESSES = {
    "Entropic Score": (["entropic"], "max_norm"),
    "LogSynflow": (["logsynflow"], "max_norm"),
    "ES + LS (max_norm)": (["entropic", "logsynflow"], "max_norm"),
    "ES + LS (rank)": (["entropic", "logsynflow"], "rank"),
}


def fitness_optimum(scorer: Any, truth: NB201GroundTruth) -> list[dict]:
    """What a perfect optimiser of each fitness would pick: its argmax over every cell
    already in the score cache (all 15,625 after ``esnas-score sample.n=all``)."""
    from esnas.search.fitness import COMBINERS

    space = scorer.space
    cells = []
    for i in range(space.num_archs):
        hit = scorer.lookup(space.from_index(i))
        if {"entropic", "logsynflow"} <= set(hit):
            cells.append((i, hit))
    if not cells:  # the searches scored no cell with both (e.g. metrics without logsynflow)
        return []
    rows = []
    for name, (metrics, how) in FITNESSES.items():
        fit = COMBINERS.get(how)([[h[m] for _, h in cells] for m in metrics])
        order = sorted(range(len(cells)), key=lambda k: -fit[k])
        top = [cells[k][0] for k in order[:10]]
        rows.append(
            {
                "fitness": name,
                "cells": len(cells),
                **{d: truth.test_accuracy(top[0], d) for d in DATASETS},
                "top10_cifar10": statistics.mean(truth.test_accuracy(i, "cifar10") for i in top),
            }
        )
    return rows


def _ms(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def write_results(rows: list[dict], truth: NB201GroundTruth, args: SimpleNamespace) -> None:
    """``<out>.csv`` (one row per run) and ``<out>.md`` (mean ± std)."""
    with atomic_open(args.out.with_suffix(".csv"), newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    optimum = " | ".join(f"{truth.best_accuracy(d):.2f}" for d in DATASETS)
    lines = [
        "# NB201 search: test accuracy of the picked cell (mean ± std over seeds)",
        "",
        f"Command: `{study_command()}`. Probe seed "
        f"{args.probe_seed} for every run (search seeds vary the evolution only). Search time = "
        "sum of un-cached scoring seconds of every evaluated cell (FreeREA's convention), "
        "CPU, one torch thread, timed when each cell was first scored; wall s = the run's own "
        "wall time, including the scoring of cells not yet in the cache (rows run first paid "
        f"for most of it). `make reproduce-nb201-search`; commit {short_commit()}; the runs' "
        f"summed wall time {sum(r['wall_seconds'] for r in rows) / 60:.1f} min.",
        "",
        "Protocol: every search scores CIFAR-10-shaped cells (`space=nb201`, Entropic Score + "
        "LogSynflow, the probe of `study.probe`) and the picked cell's NATS 200-epoch test "
        "accuracy is looked up on all three datasets. `cyclic` on NB201 runs only topology "
        "phases (fitness: Entropic Score; NB201 has no size genes) and picks the best of its "
        "history under Entropic Score + LogSynflow; `combined` uses Entropic Score + "
        "LogSynflow in every phase; `rea` and `random` pick by the same fitness; `freerea` "
        "evolves and picks by FreeREA's max-normalised sum. Fitness combination: rank sum "
        "unless the row says max_norm.",
        "",
        "| strategy | budget | seeds | CIFAR-10 | CIFAR-100 | ImageNet16-120 | evaluations "
        "| search s | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for strategy in [parse_row(spec)[0] for spec in args.strategies]:
        for budget in args.budgets:
            sel = [r for r in rows if r["strategy"] == strategy and r["budget"] == budget]
            accs = " | ".join(_ms([r[d] for r in sel]) for d in DATASETS)
            lines.append(
                f"| {strategy} | {budget} | {len(sel)} | {accs} | "
                f"{statistics.mean(r['evaluations'] for r in sel):.0f} | "
                f"{statistics.mean(r['search_seconds'] for r in sel):.0f} | "
                f"{statistics.mean(r['wall_seconds'] for r in sel):.0f} |"
            )
    lines.append(f"| optimum | | | {optimum} | | | |")
    if args.optimum:
        lines += [
            "",
            "## What each fitness would pick with a perfect optimiser",
            "",
            f"The argmax of each fitness over the {args.optimum[0]['cells']} cells in the score "
            "cache (the same probe), its test accuracy, and the mean CIFAR-10 accuracy of its "
            "top 10: the ceiling a search driven by that fitness can reach.",
            "",
            "| fitness | CIFAR-10 | CIFAR-100 | ImageNet16-120 | CIFAR-10 top-10 mean |",
            "|---|---|---|---|---|",
        ]
        for r in args.optimum:
            accs = " | ".join(f"{r[d]:.2f}" for d in DATASETS)
            lines.append(f"| {r['fitness']} | {accs} | {r['top10_cifar10']:.2f} |")
    write_text_atomic(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
