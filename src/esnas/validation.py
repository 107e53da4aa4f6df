"""A search validated by training: each strategy's trained answers against random genomes.

Why: a training-free search is only as good as the trained accuracy of what it picks. This
joins a search sweep's answers (``esnas-report --rows`` of the search jobs: one row per
strategy x seed, with ``best_arch``) with the trainings of those answers (``--rows`` of the
training jobs, matched by arch) and places every trained answer within the distribution of
randomly sampled genomes of the same budget (the stand-in benchmark's labels).
"""

from __future__ import annotations

import bisect
import csv
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from esnas.correlation import _arch, labels_of
from esnas.utils.atomic import write_text_atomic
from esnas.utils.errors import EsnasInputError


@dataclass
class StrategyResult:
    """One strategy's answers: their trained accuracies (every search seed x training seed),
    each answer's percentile among random genomes (seed-0 training), their costs."""

    name: str
    searches: int
    accuracies: list[float]
    percentiles: list[float]
    params: list[float]
    macs: list[float]
    attention: list[float]


def percentile(value: float, reference: Sequence[float]) -> float:
    """Share of ``reference`` strictly below ``value``, ties counted half (in %)."""
    ref = sorted(reference)
    below, upto = bisect.bisect_left(ref, value), bisect.bisect_right(ref, value)
    return 100.0 * (below + (upto - below) / 2) / len(ref)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def validate(
    answers: Path,
    trained: Path,
    reference: Path,
    group: str,
    figure: str = "test/acc1",
) -> tuple[list[StrategyResult], list[float]]:
    """Per value of ``group`` (the answers' strategy column): the trained accuracies of its
    answers and their percentiles within ``reference``'s labels; returns them and the labels."""
    ref = list(labels_of(reference, "model", figure).values())
    runs: dict[str, dict[str, float]] = {}  # arch -> {seed: accuracy}
    for r in _rows(trained):
        if r.get(figure) not in (None, ""):
            runs.setdefault(_arch(r["model"]), {})[r.get("seed", "0")] = float(r[figure])
    results: dict[str, StrategyResult] = {}
    for row in _rows(answers):
        if group not in row:
            raise EsnasInputError(f"{answers} has no column {group!r}; valid: {', '.join(row)}")
        res = results.setdefault(row[group], StrategyResult(row[group], 0, [], [], [], [], []))
        res.searches += 1
        res.params.append(float(row.get("best_params") or "nan"))
        res.macs.append(float(row.get("best_macs") or "nan"))
        res.attention.append(float(row.get("best_attention_blocks") or "nan"))
        seeds = runs.get(_arch(row["best_arch"]), {})
        res.accuracies += seeds.values()
        if seeds:
            first = seeds[min(seeds, key=lambda s: (len(s), s))]
            res.percentiles.append(percentile(first, ref))
    return list(results.values()), ref


def _mean_std(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0] * scale:.{digits}f}"
    mean, std = statistics.fmean(values) * scale, statistics.stdev(values) * scale
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def baselines_of(path: Path, figure: str = "test/acc1") -> dict[str, list[float]]:
    """``{model: accuracies}`` of a ``--rows`` CSV of named models trained with the recipe."""
    out: dict[str, list[float]] = {}
    for r in _rows(path):
        if r.get(figure) not in (None, ""):
            out.setdefault(r["model"], []).append(float(r[figure]))
    return out


def markdown(
    results: Sequence[StrategyResult],
    reference: Sequence[float],
    baselines: Mapping[str, Sequence[float]] | None = None,
) -> list[str]:
    """The validation table: one row per strategy, random genomes and ``baselines`` below
    (a baseline's percentile is that of its mean accuracy)."""
    lines = [
        "| strategy | searches | trainings | trained test top-1 % | percentile among random "
        "genomes | params (M) | MACs 224 px (M) | attention blocks |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.searches} | {len(r.accuracies)} | {_mean_std(r.accuracies, 100)} "
            f"| {_mean_std(r.percentiles, 1, 0)} | {_mean_std(r.params, 1e-6, 2)} "
            f"| {_mean_std(r.macs, 1e-6, 0)} | {_mean_std(r.attention, 1, 1)} |"
        )
    lines.append(
        f"| random genomes (the benchmark) | – | {len(reference)} | {_mean_std(reference, 100)} "
        f"| 50 | – | – | – |"
    )
    for name, accs in (baselines or {}).items():
        pct = percentile(statistics.fmean(accs), reference)
        lines.append(
            f"| {name} | – | {len(accs)} | {_mean_std(accs, 100)} | {pct:.0f} | – | – | – |"
        )
    return lines


def write_report(
    answers: Path,
    trained: Path,
    reference: Path,
    out: Path,
    *,
    group: str,
    baselines: Path | None = None,
    figure: str = "test/acc1",
    title: str = "The search validated by training",
    command: str = "",
    protocol: str | None = None,
) -> str:
    """Writes ``<out>.md`` and returns it."""
    results, ref = validate(answers, trained, reference, group, figure)
    base = baselines_of(baselines, figure) if baselines else None
    lines = [f"# {title}", ""] + ([protocol, ""] if protocol else [])
    lines += markdown(results, ref, base)
    lines += ["", f"Command: `{command}`" if command else ""]
    text = "\n".join(lines).rstrip() + "\n"
    write_text_atomic(out.with_suffix(".md"), text)
    return text
