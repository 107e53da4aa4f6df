"""The search as one readable recipe: ``setup(cfg)``, ``run()``, ``state_dict()`` /
``load_state_dict()`` for resume, ``close()``.

A plain PyTorch loop (no Lightning): the scorer builds and scores models on ``device``; the
strategy only sees genomes and scores. After every generation the state is checkpointed
atomically, so rerunning the same command on the same output dir continues where it stopped.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from esnas.components import build
from esnas.search import baselines as _baselines  # noqa: F401  (registers strategies)
from esnas.search import cyclic as _cyclic  # noqa: F401
from esnas.search.checkpoint import (
    CHECKPOINT_FILE,
    CorruptCheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from esnas.search.constraints import Constraints
from esnas.search.engine import Engine, ScorerLike
from esnas.search.fitness import fitness
from esnas.search.outputs import plot_pareto, plot_trajectory, write_best, write_history
from esnas.search.records import PHASES, history_columns, history_rows
from esnas.search.strategy import (
    EngineSettings,
    Strategy,
    check_strategy_options,
)
from esnas.utils.console import get_logger, progress_bar
from esnas.utils.errors import EsnasInputError
from esnas.utils.loggers import RunLogger

log = get_logger(__name__)
PHASE_CODES = {"init": 0, "topology": 1, "size": 2, "search": 3}


def build_scorer(
    cfg: DictConfig, space: Any, probe_overrides: Mapping[str, Any] | None = None
) -> ScorerLike:
    """The cached :class:`esnas.scoring.Scorer` for ``cfg.metrics`` / ``cfg.probe`` (with
    ``probe_overrides`` on top) on ``cfg.device`` (``auto`` = CUDA when present)."""
    from esnas.scoring import Scorer, make_probe
    from esnas.scoring.cache import open_cache
    from esnas.scoring.run import metric_spec

    probe_cfg = OmegaConf.merge(cfg.probe, dict(probe_overrides or {}))
    probe = make_probe(probe_cfg, space, device=cfg.get("device", "auto"))
    return Scorer(space, metric_spec(cfg), probe, open_cache(cfg.get("cache")))


# Settings that may change between a run and its resume: the budget (extend a search), where
# outputs, logs and the cache go, how fast it runs, and how the answer is re-scored at the end
# (it changes the pick, never the search's path, so a finished search can be re-picked).
RESUMABLE_KEYS = (
    "budget", "paths", "hydra", "logger", "tags", "resume", "resume_from", "cache", "device",
    "torch_threads", "task_name", "strategy.rescore",
)  # fmt: skip


def run_identity(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config a checkpoint belongs to, flattened to ``{"a.b": value}``, without
    :data:`RESUMABLE_KEYS`."""
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk({k: v for k, v in container.items() if k not in RESUMABLE_KEYS}, "")
    nested = tuple(f"{k}." for k in RESUMABLE_KEYS if "." in k)
    return {k: v for k, v in flat.items() if not k.startswith(nested)}


def identity_diff(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``key (stored → current)`` for each setting that differs; empty when they match."""
    old, new = stored.get("config"), current.get("config")
    if old is None or new is None:  # a checkpoint from before config identities
        keys = ("space", "strategy", "seed")
        return [
            f"{k} ({stored.get(k)!r} → {current.get(k)!r})"
            for k in keys
            if stored.get(k) != current.get(k)
        ]
    # A key set to null and a key that is not there mean the same (a new optional key, such
    # as space.max_macs, or one that moved, such as constraints.max_macs, changes nothing).
    return [
        f"{key} ({old.get(key)!r} → {new.get(key)!r})"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


class SearchRecipe:
    """One search run in one output folder.

    Args:
        output_dir: where the checkpoint and result files go.
        logger: the run logger (W&B, CSV or none).
        scorer: an already built scorer (tests, or a script sharing one cache across
            runs); ``None`` builds one from the config in :meth:`setup`.
        rescorer: the scorer of the final re-scoring (``strategy.rescore``); ``None`` builds
            one from the config (the probe with ``strategy.rescore.probe`` on top) when needed.
    """

    def __init__(
        self,
        output_dir: str | Path,
        logger: RunLogger | None = None,
        scorer: ScorerLike | None = None,
        rescorer: ScorerLike | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.logger = logger or RunLogger(output_dir)
        self.scorer, self.rescorer = scorer, rescorer
        self._owns_scorer, self._owns_rescorer = scorer is None, rescorer is None
        self.checkpoint_path = self.output_dir / CHECKPOINT_FILE
        self.resumed = False

    # ---- setup ----------------------------------------------------------------------------
    def setup(self, cfg: DictConfig) -> None:
        """Builds space, constraints, scorer, engine and strategy; resumes if a checkpoint
        exists and ``cfg.resume`` is true."""
        self.cfg = cfg
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.space = build("space", cfg.space)
        self.constraints = Constraints(self.space)
        strategy_cfg = OmegaConf.to_container(cfg.strategy, resolve=True)
        assert isinstance(strategy_cfg, dict)
        name = strategy_cfg["name"] = strategy_cfg.get("name") or "cyclic"
        budget = cfg.budget
        # Checked before the scorer is built: an unknown name or option fails at once.
        settings, own = EngineSettings.split({k: v for k, v in strategy_cfg.items() if k != "name"})
        check_strategy_options(name, own)
        combine, unique = settings.combine, settings.unique
        self.checkpoint_every = int(settings.checkpoint_every)
        self.rescore_top = int(settings.rescore.get("top") or 0)
        self.rescore_probe = dict(settings.rescore.get("probe") or {})
        if self.scorer is None:
            self.scorer = build_scorer(cfg, self.space)
        self.engine = Engine(
            self.space,
            self.scorer,
            self.constraints,
            random.Random(int(cfg.seed)),
            max_evaluations=int(budget.evaluations),
            max_seconds=budget.get("seconds"),
            combine=combine,
            unique=unique,
        )
        self.strategy: Strategy = build("strategy", strategy_cfg, engine=self.engine)
        labels = self.scorer.labels
        missing = sorted(self.strategy.needed_metrics() - set(labels))
        if missing:
            raise EsnasInputError(
                f"strategy {name} needs metric(s) {', '.join(missing)} but metrics gives "
                f"{', '.join(labels)}; add them: metrics=[{','.join([*labels, *missing])}]"
            )
        self.identity = {
            "space": self.space.describe(),
            "strategy": name,
            "seed": int(cfg.seed),
            "config": run_identity(cfg),
        }
        source = self.checkpoint_path if cfg.get("resume", True) else None
        if source is not None and not source.exists() and cfg.get("resume_from"):
            source = Path(cfg.resume_from)  # continue (or re-pick) another run's search here
            if not source.is_file():
                raise EsnasInputError(
                    f"resume_from={str(source)!r} is not a file (a search_state.json)"
                )
        if source is not None and source.exists():
            self.load_state_dict(load_checkpoint(source), source)
            self.resumed = True
            log.info("resuming %s from %s at %d evaluations", name, source, self.engine.evaluations)
        for line in self.strategy.describe():
            log.info(line)

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "engine": self.engine.state_dict(),
            "strategy": self.strategy.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any], source: Path | None = None) -> None:
        source = source or self.checkpoint_path
        differing = identity_diff(state["identity"], self.identity)
        if differing:
            raise CorruptCheckpointError(
                f"search checkpoint {source} belongs to another search "
                f"(differs in {'; '.join(differing)}); use another output dir "
                "(hydra.run.dir=...) or resume=false to overwrite it"
            )
        try:
            self._check_history(state["engine"]["history"])
            self.engine.load_state_dict(state["engine"])
            self.strategy.load_state_dict(state["strategy"])
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            raise CorruptCheckpointError(
                f"search checkpoint {source} is inconsistent: {err}; delete it "
                "to start over or pass resume=false to overwrite it"
            ) from None

    def _check_history(self, history: Any) -> None:
        """A hand-edited or damaged history fails here (ValueError), not mid-search."""
        if not isinstance(history, list):
            raise EsnasInputError("engine.history is not a list")
        for i, record in enumerate(history):
            where = f"history[{i}]"
            if record.get("index") != i:
                raise EsnasInputError(f"{where} has index {record.get('index')!r}, expected {i}")
            if record.get("phase") not in PHASES:
                raise EsnasInputError(
                    f"{where} has unknown phase {record.get('phase')!r}; valid: {', '.join(PHASES)}"
                )
            scores = record.get("scores")
            if not isinstance(scores, dict) or not all(
                isinstance(v, int | float) and math.isfinite(v) for v in scores.values()
            ):
                raise EsnasInputError(f"{where} has non-finite or missing scores {scores!r}")
            try:
                self.space.decode(record["arch"])
            except (ValueError, KeyError, TypeError) as err:
                arch = record.get("arch")
                raise EsnasInputError(f"{where} arch {arch!r} does not decode: {err}") from None

    def checkpoint(self) -> None:
        save_checkpoint(self.checkpoint_path, self.state_dict())

    # ---- run ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Runs until the budget is spent, then writes the outputs; returns the figures."""
        eng, strat = self.engine, self.strategy
        generation, phase = 0, None
        with progress_bar() as bar:
            task = bar.add_task(strat.name, total=eng.max_evaluations, completed=eng.evaluations)
            while not eng.done():
                if strat.phase != phase:
                    phase = strat.phase
                    self._phase_marker(phase)
                before = eng.evaluations
                strat.step()
                generation += 1
                if eng.evaluations == before:
                    raise RuntimeError(f"strategy {strat.name} made no progress in a step")
                stats = strat.generation_stats()
                self.logger.log({**stats, "evaluations": eng.evaluations}, step=eng.evaluations)
                if generation % self.checkpoint_every == 0 or eng.done():
                    self.checkpoint()
                best = max(stats.values(), default=float("nan"))
                bar.update(
                    task,
                    completed=eng.evaluations,
                    description=f"{strat.name} [{strat.phase}] best {best:.4g}",
                )
        self.checkpoint()
        return self.finish()

    def _rescored_pick(self, finalists: list[int]) -> int:
        """``finalists`` (the final fitness's top ``rescore.top``, best first) scored again
        with the re-scoring probe (more initialisations: less of one draw's noise); the same
        final fitness over the same pool, with those scores in place of theirs, picks among
        them.

        Why: on NB201 every search's history holds the optimum, and which of the near-equal
        finalists wins is decided by the probe's draw (nb201_rescore.md). Ranked among the
        finalists alone instead, a few of them would decide each other's ranks."""
        eng, strat = self.engine, self.strategy
        pool = strat.final_pool()
        if self.rescorer is None:
            self.rescorer = build_scorer(self.cfg, self.space, self.rescore_probe)
        log.info(
            "re-scoring the %d finalists with probe %s", len(finalists), self.rescore_probe or "{}"
        )
        rescored, self.rescore_seconds = {}, 0.0
        for i in finalists:
            rescored[i] = dict(self.rescorer.score(eng.genome(i)))
            self.rescore_seconds += float(self.rescorer.last_seconds)
        members = [
            replace(eng.history[i], scores=rescored[i]) if i in rescored else eng.history[i]
            for i in pool
        ]
        fits = dict(zip(pool, fitness(members, strat.final_metrics, eng.combine), strict=True))
        best = max(range(len(finalists)), key=lambda p: (fits[finalists[p]], -p))
        return finalists[best]

    def _phase_marker(self, phase: str) -> None:
        cycle = self.strategy.cycle
        log.info(
            "phase %s (cycle %d) starts at %d evaluations", phase, cycle, self.engine.evaluations
        )
        self.logger.log(
            {"phase/code": PHASE_CODES.get(phase, -1), "phase/cycle": cycle},
            step=self.engine.evaluations,
        )

    def finish(self) -> dict[str, Any]:
        """Picks the answer and writes best.json, best_arch.yaml, history.csv and plots."""
        eng, strat, out = self.engine, self.strategy, self.output_dir
        if not eng.history:
            raise RuntimeError("the search evaluated nothing (budget.seconds too small?)")
        # finalists(k)[0] is pick(): one ranking of the pool serves both
        finalists = strat.finalists(self.rescore_top) if self.rescore_top else [strat.pick()]
        first_i = finalists[0]
        best_i = self._rescored_pick(finalists) if self.rescore_top else first_i
        best = eng.history[best_i]
        final_fits = fitness(eng.history, strat.final_metrics, eng.combine)
        labels = list(best.scores)
        uncached = sum(r.seconds for r in eng.history)
        figures: dict[str, Any] = {
            "best_arch": best.arch,
            "best_fitness": final_fits[best_i],
            "best_params": best.params,
            "best_macs": best.macs,
            **{f"best_{k}": v for k, v in best.scores.items()},
            "best_index": best_i,
            "evaluations": eng.evaluations,
            "budget_evaluations": eng.max_evaluations,
            "stopped_by": eng.stopped_by(),
            "wall_time_s": round(eng.wall_seconds(), 3),
            "search_seconds_uncached": round(uncached, 3),
            "strategy": strat.name,
            "space": self.space.name,
            "resumed": self.resumed,  # this process continued a checkpoint
            **{f"best_{k}": v for k, v in self.space.ground_truth(eng.genome(best_i)).items()},
            **{f"best_{k}": v for k, v in self.space.traits(eng.genome(best_i)).items()},
        }
        if self.rescore_top:  # what the pick was before the finalists were re-scored
            figures["rescore_top"] = self.rescore_top
            figures["rescore_seconds_uncached"] = round(self.rescore_seconds, 3)
            figures["first_pick_arch"] = eng.history[first_i].arch
            truth = self.space.ground_truth(eng.genome(first_i))
            figures.update({f"first_pick_{k}": v for k, v in truth.items()})
        best_json, best_yaml = write_best(
            out,
            best,
            self.space.genome_dict(eng.genome(best_i)),
            self.space.describe(),
            {
                "fitness_metrics": strat.final_metrics,
                "fitness_final": final_fits[best_i],
                "strategy": strat.name,
                "seed": int(self.cfg.seed),
                "evaluations": eng.evaluations,
                "budget_evaluations": eng.max_evaluations,
                "stopped_by": figures["stopped_by"],
                "wall_time_s": figures["wall_time_s"],
                "search_seconds_uncached": figures["search_seconds_uncached"],
                "constraints": self.constraints.describe(),
            },
            search={
                "group": OmegaConf.select(self.cfg, "logger.group", default=None),
                "run_dir": str(out),
                "seed": int(self.cfg.seed),
            },
        )
        history_csv = write_history(out / "history.csv", eng.history, labels)
        phase_metrics = {
            p: strat.metrics_for(p) for p in dict.fromkeys(r.phase for r in eng.history)
        }
        phase_metrics["final pick"] = strat.final_metrics
        pareto = plot_pareto(
            out / "pareto.png", eng.history, strat.final_metrics, eng.combine, best_i
        )
        trajectory = plot_trajectory(
            out / "trajectory.png", eng.history, phase_metrics, eng.combine
        )
        self.logger.log_table("history", history_columns(labels), history_rows(eng.history, labels))
        self.logger.log_image("pareto", pareto)
        self.logger.log_image("trajectory", trajectory)
        self.logger.log_artifact(best_yaml, name=f"best-arch-{self.space.name}", type="genome")
        log.info("best %s genome: %s", self.space.name, best.arch)
        log.info(
            "params %.4fM, MACs %.2fM, scores %s",
            best.params / 1e6,
            best.macs / 1e6,
            {k: round(v, 4) for k, v in best.scores.items()},
        )
        log.info(
            "%d evaluations in %.1f s (%.1f s scoring without cache); outputs in %s "
            "(best.json, best_arch.yaml, %s, pareto.png, trajectory.png)",
            eng.evaluations,
            eng.wall_seconds(),
            uncached,
            out,
            history_csv.name,
        )
        if figures["stopped_by"] == "seconds":
            warn_time_limit(eng.evaluations, eng.max_evaluations, eng.max_seconds)
        _ = best_json
        return figures

    def close(self) -> None:
        """Releases the scorers' cache connections where this recipe built them (a setup that
        failed early may have built neither)."""
        owned = [self.scorer] if self._owns_scorer else []
        owned += [self.rescorer] if self._owns_rescorer else []
        for scorer in owned:
            if scorer is not None:
                scorer.close()


def warn_time_limit(evaluations: int, budget: int, seconds: float | None) -> None:
    """Says loudly, in the log and on the console, that the answer is not a full search's."""
    message = (
        f"the search stopped at its time limit (budget.seconds={seconds:g}) after {evaluations} "
        f"of {budget} evaluations: the best genome is not a full search's answer; rerun the "
        "same command with a larger budget.seconds (or budget.seconds=null) to continue it"
    )
    log.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=2)


def run_search(
    ctx: Any, scorer: ScorerLike | None = None, rescorer: ScorerLike | None = None
) -> dict[str, Any]:
    """The ``esnas-search`` task: setup, run, close; returns the figures. A search stopped
    by ``budget.seconds`` before its evaluations ends with status ``time_limit``."""
    recipe = SearchRecipe(ctx.output_dir, ctx.logger, scorer, rescorer)
    try:
        recipe.setup(ctx.cfg)
        figures = recipe.run()
    finally:
        recipe.close()
    if figures["stopped_by"] == "seconds":
        ctx.status = "time_limit"
    return figures
