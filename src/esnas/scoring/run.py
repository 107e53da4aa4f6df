"""``esnas-score``: score architectures of a space and write one CSV row per architecture.

Contract other tools rely on: columns ``arch`` (the space's canonical string), ``index``
(enumerable spaces), ``cost_params`` and ``cost_macs`` (from the space), ``trait/<name>`` for the
space's structural traits (ESFormer: attention blocks, blocks), one column per metric label and
``<label>_seconds``. Rows come from the score cache when present, so an
interrupted run rerun with the same settings only scores what is missing.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from esnas.components import build
from esnas.metrics.base import METRICS, metric_items, metric_name
from esnas.scoring.cache import open_cache
from esnas.scoring.scorer import BUILD_LABEL, Scorer, make_probe
from esnas.search.fitness import COMBINERS
from esnas.spaces.base import SearchSpace
from esnas.utils.atomic import atomic_open
from esnas.utils.config import config_dir
from esnas.utils.console import get_logger, progress_bar
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import RunContext

log = get_logger(__name__)


def metric_spec(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """``{label: options}`` from ``metrics`` (names, or ``{label: options}`` items) over the
    defaults in ``metric_options.<name>`` (the metric's schema, composed from its signature),
    each checked against the metric's schema (unknown names and mistyped values fail here)."""
    defaults = OmegaConf.to_container(cfg.get("metric_options") or {}, resolve=True)
    assert isinstance(defaults, dict)
    spec: dict[str, dict[str, Any]] = {}
    for label, options in metric_items(OmegaConf.to_container(cfg.metrics, resolve=True)):
        check_options(label, options or {})
        spec[label] = {**(defaults.get(metric_name(label)) or {}), **(options or {})}
    if not spec:
        raise EsnasInputError("metrics is empty; give at least one, e.g. metrics=[logsynflow]")
    return spec


def check_options(label: str, options: Mapping[str, Any]) -> None:
    """Raises a one-line :class:`EsnasInputError` unless ``options`` fit the schema of the
    metric ``label`` names (its option names and, where the signature types them, values)."""
    schema = OmegaConf.structured(METRICS.get(metric_name(label)).options_schema())
    try:
        OmegaConf.merge(schema, dict(options))
    except OmegaConfBaseException as err:
        reason = str(err).splitlines()[0]
        valid = ", ".join(f"{k}={v!r}" for k, v in OmegaConf.to_container(schema).items())
        raise EsnasInputError(
            f"metrics: {label}: {dict(options)} is invalid ({reason}); "
            f"valid options (defaults): {valid or '(none)'}"
        ) from None


def select_archs(space: SearchSpace, sample: Mapping[str, Any]) -> list[Hashable]:
    """The genomes to score: ``sample.archs`` (strings), or ``sample.n`` distinct ones drawn
    with ``sample.seed`` (``n: all`` for every genome of an enumerable space, ``n: benchmark``
    for every network a benchmark space's ground truth holds); ``sample.shard``
    ``"i/k"`` keeps every k-th of them from the i-th, so k processes split one selection."""
    genomes = _select_all(space, sample)
    shard = sample.get("shard")
    if shard is None:
        return genomes
    i, k = _parse_shard(shard)
    return genomes[i::k]


def _parse_shard(shard: Any) -> tuple[int, int]:
    try:
        i, k = (int(part) for part in str(shard).split("/"))
    except ValueError:
        i, k = -1, 0
    if not 0 <= i < k:
        raise EsnasInputError(f"sample.shard={shard!r} is invalid; valid: 'i/k' with 0 <= i < k")
    return i, k


def _select_all(space: SearchSpace, sample: Mapping[str, Any]) -> list[Hashable]:
    if sample.get("archs"):
        return [space.decode(str(a)) for a in sample["archs"]]
    n, rng = sample.get("n"), random.Random(int(sample.get("seed", 0)))
    if n == "benchmark":
        genomes = space.benchmark_genomes()
        if genomes is None:
            raise EsnasInputError(
                f"sample.n=benchmark is invalid for space {space.name!r} (it has no benchmark "
                "list); valid: an int, or 'all' for an enumerable space"
            )
        return genomes
    if space.num_archs is not None:
        total = space.num_archs
        if n == "all":
            return [space.from_index(i) for i in range(total)]
        if not isinstance(n, int) or not 1 <= n <= total:
            raise EsnasInputError(f"sample.n={n!r} is invalid; valid: 1..{total} or 'all'")
        return [space.from_index(i) for i in rng.sample(range(total), n)]
    if not isinstance(n, int) or n < 1:
        raise EsnasInputError(f"sample.n={n!r} is invalid; valid: an int >= 1 (this space is open)")
    seen: dict[str, Hashable] = {}
    for _ in range(50 * n):
        genome = space.sample(rng)
        seen.setdefault(space.encode(genome), genome)
        if len(seen) == n:
            break
    return list(seen.values())


def write_csv_atomic(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Writes the whole table next to ``path`` and renames it into place."""
    with atomic_open(path, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def partial_path(output: Path) -> Path:
    """Where a scoring run keeps its rows so far: ``scores.csv`` -> ``scores.partial.csv``."""
    return output.with_name(f"{output.stem}.partial.csv")


def default_fitness() -> tuple[list[str], str]:
    """The default cyclic search's final fitness: its metric labels and aggregator
    (``conf/strategy/cyclic.yaml``: ``final.metrics``, else the size phase's, and ``combine``)."""
    cyclic = OmegaConf.load(config_dir() / "strategy" / "cyclic.yaml")
    metrics = cyclic.final.metrics or cyclic.size.metrics
    return [str(m) for m in metrics], str(cyclic.combine)


def score_task(ctx: RunContext) -> dict[str, Any]:
    """Scores the selected architectures and writes ``cfg.output`` (CSV)."""
    cfg = ctx.cfg
    space: SearchSpace = build("space", cfg.space)
    metrics = metric_spec(cfg)
    output = Path(cfg.output)
    if output.suffix != ".csv":
        raise EsnasInputError(f"output={str(output)!r} is invalid; valid: a path ending in .csv")
    probe = make_probe(cfg.probe, space)
    genomes = select_archs(space, cfg.sample)
    cache = open_cache(cfg.get("cache"))
    scorer = Scorer(space, metrics, probe, cache)
    fit_metrics, fit_combine = default_fitness() if cfg.get("fitness") else ([], "")
    missing = [m for m in fit_metrics if m not in scorer.labels]
    if missing:
        raise EsnasInputError(
            f"fitness=true needs metrics {', '.join(fit_metrics)} (the default search's final "
            f"fitness); add {', '.join(missing)} to metrics"
        )
    log.info("scoring %d %s architectures with %s", len(genomes), space.name, scorer.labels)

    rows, cached = [], 0
    partial, partial_every = partial_path(output), int(cfg.get("partial_every") or 0)
    with progress_bar() as bar:
        task = bar.add_task(f"score {space.name}", total=len(genomes))
        for i, genome in enumerate(genomes):
            scores = scorer.score(genome)
            cached += scorer.last_cached
            arch = space.encode(genome)
            cost = space.cost(genome)
            row: dict[str, Any] = {"arch": arch}
            if space.num_archs is not None:
                row["index"] = space.index_of(genome)
            row.update(cost_params=cost.params, cost_macs=cost.macs)
            row.update({f"trait/{k}": v for k, v in space.traits(genome).items()})
            row.update(scores)
            seconds = scorer.seconds(arch)
            row["build_seconds"] = seconds.get(BUILD_LABEL, 0.0)
            row.update({f"{label}_seconds": seconds[label] for label in scorer.labels})
            rows.append(row)
            bar.advance(task)
            if partial_every and (i + 1) % partial_every == 0 and i + 1 < len(genomes):
                write_csv_atomic(partial, list(rows[0]), rows)
            if (i + 1) % 100 == 0 or i + 1 == len(genomes):
                ctx.logger.log({"score/archs": i + 1, "score/cached": cached}, step=i + 1)
    cache.close()
    if fit_metrics:  # relative to the scored sample, as the search's is to its history
        fits = COMBINERS.get(fit_combine)([[r[m] for r in rows] for m in fit_metrics])
        for row, fit in zip(rows, fits, strict=True):
            row["fitness"] = fit
    columns = list(rows[0])
    write_csv_atomic(output, columns, rows)
    partial.unlink(missing_ok=True)
    ctx.logger.log_table("scores", columns, [[r[c] for c in columns] for r in rows])
    means = {
        f"seconds/{label}": sum(r[f"{label}_seconds"] for r in rows) / len(rows)
        for label in scorer.labels
    }
    log.info("wrote %d rows to %s (%d from cache)", len(rows), output, cached)
    return {"archs": len(rows), "cached": cached, "output": str(output), **means}
