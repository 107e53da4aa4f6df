"""One proxy-suite table: every training-free score against every ground truth esnas ships.

Rows are score columns (every metric, every Entropic Score reading, AZ-NAS's aggregate, the
default fitness and its candidates, params and FLOPs); columns are the benchmarks (NB201
CIFAR-10 / CIFAR-100 / ImageNet16-120, NAS-Bench-Macro CIFAR-10, ViT-Bench-101 AutoFormer and
PiT on CIFAR-100 / Flowers / Chaoyang, the ESFormer stand-in). Per column: Spearman rho, Kendall
tau and the pick (the label of each score's top architecture beside the column's best), the
ceiling where repeated trainings exist, the probe, and one-line reasons for every score that is
missing, NaN or constant there.

Why one table: a proxy that wins on one CNN-cell space says little; a researcher checking a
proxy wants every space side by side, and a fitness chosen across spaces (issue 27) needs them.
Scores come from committed ``esnas-score`` CSVs (``make proxy-suite-scores``: resumable from the
score cache, one job per space through the launcher); this study only reads and reports.

Run: ``make proxy-suite`` (``esnas-study study=proxy_suite``).
"""

from __future__ import annotations

import csv
import functools
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scipy import stats

from esnas.components import build
from esnas.correlation import Correlation, correlations, csv_path, labels_of, scoring_minutes
from esnas.report import seed_agreement
from esnas.studies.base import register_study
from esnas.studies.common import committed_path, results_path, study_command
from esnas.utils.atomic import atomic_path, write_text_atomic
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import RunContext, short_commit

RESULTS = "experiments/results"
SUITE_SCORES = f"{RESULTS}/proxy_suite"


@dataclass(frozen=True)
class Column:
    """One ground truth: score CSVs (one per probe seed), where its labels come from, and the
    probe in words. Labels come from ``space`` (its ``ground_truth(genome)[truth]``) or from a
    rows CSV ``rows`` (``model`` column, ``figure``: the ESFormer stand-in)."""

    scores: tuple[str, ...]
    probe: str
    truth: str = ""
    space: Mapping[str, Any] = field(default_factory=dict)
    rows: str = ""
    figure: str = "test/acc1"
    repeats: tuple[str, ...] = ()  # ground-truth keys of repeated trainings (the ceiling)
    extra: tuple[str, ...] = ()  # optional CSVs of other metrics on a subset of the archs
    caveat: str = ""  # what a reader must know about the column's scores


NB201_PROBE = "noise, batch 64 × 1 init, BN train (AZ-NAS's protocol; nb201_peers)"
VIT_PROBE = "noise, batch 16 × 1 init at 224 px (a smaller batch: 224-px ViTs on a CPU)"
SUITE: dict[str, Column] = {
    "NB201 C10": Column(
        (f"{RESULTS}/nb201_peers_cifar10.csv",), NB201_PROBE, "test_acc/cifar10",
        {"name": "nb201", "dataset": "cifar10"}, extra=(f"{SUITE_SCORES}/nb201_cifar10.csv",),
    ),
    "NB201 C100": Column(
        (f"{RESULTS}/nb201_peers_cifar100.csv",), NB201_PROBE, "test_acc/cifar100",
        {"name": "nb201", "dataset": "cifar100"},
    ),
    "NB201 IN16": Column(
        (f"{RESULTS}/nb201_peers_ImageNet16-120.csv",), NB201_PROBE, "test_acc/ImageNet16-120",
        {"name": "nb201", "dataset": "ImageNet16-120"},
    ),
    "Macro C10": Column(
        (f"{SUITE_SCORES}/nb_macro.csv",),
        "noise, batch 64 × 1 init, BN train (as NB201), 200 networks drawn with sample seed 0",
        "test_acc/cifar10", {"name": "nb_macro"},
        repeats=("test_acc/cifar10/run0", "test_acc/cifar10/run1"),
    ),
    **{
        f"AutoFormer {d}": Column(
            (f"{SUITE_SCORES}/vitbench_autoformer.csv",), VIT_PROBE, f"test_acc/{k}_base",
            {"name": "vitbench_autoformer"},
        )
        for d, k in (("C100", "c100"), ("Flowers", "flowers"), ("Chaoyang", "chaoyang"))
    },
    **{
        f"PiT {d}": Column(
            (f"{SUITE_SCORES}/vitbench_pit.csv",), VIT_PROBE, f"test_acc/{k}_base",
            {"name": "vitbench_pit"},
        )
        for d, k in (("C100", "c100"), ("Flowers", "flowers"), ("Chaoyang", "chaoyang"))
    },
    "ESFormer stand-in": Column(
        tuple(f"{RESULTS}/esformer_bench_scores_64{s}.csv" for s in ("", "_s1", "_s2")),
        "noise, batch 8 × 1 init at 64 px, probe seeds 0-2 (the ESFormer search's)",
        rows=f"{RESULTS}/esformer_bench_fmnist.csv",
        caveat="`meco` and `naswot` (and every combination holding them) were scored before "
        "their transformer fixes (meco's token axis, naswot's GELU units); "
        "`make esformer-bench-scores` re-scores them",
    ),
}  # fmt: skip
# The default fitness, AZ-NAS's aggregate and the fitness candidates of nb201_fitness_choice.
ES_LS = "entropic+logsynflow"
COMBOS = (
    "az_nas",
    f"{ES_LS}+az_progressivity+meco@log_rank",
    ES_LS,
    f"{ES_LS}@log_rank",
    f"{ES_LS}+meco@log_rank",
    f"{ES_LS}+az_progressivity@log_rank",
    f"{ES_LS}+az_expressivity@log_rank",
    f"{ES_LS}+az_complexity@log_rank",
)
DEFAULT_FITNESS = COMBOS[1]


@register_study("proxy_suite")
def proxy_suite(
    ctx: RunContext,
    columns: list[str] | None = None,
    combos: list[str] | None = None,
    out: str = f"{RESULTS}/proxy_suite",
) -> dict[str, Any]:
    """The suite table over ``columns`` (default: every column whose score CSVs exist)."""
    t0 = time.perf_counter()
    chosen = _columns(ctx, columns)
    settings = {name: _score_paths(SUITE[name]) for name in chosen}
    labels = {name: _labels(ctx, SUITE[name], settings[name]) for name in chosen}
    table = correlations(settings, labels, list(combos or COMBOS))
    ceilings = {name: _ceiling(ctx, SUITE[name], settings[name]) for name in chosen}
    notes = {name: _notes(settings[name], labels[name]) for name in chosen}
    path = results_path(ctx, out)
    _write_csv(path.with_suffix(".csv"), table, chosen, labels)
    _heatmap(path.with_suffix(".png"), table, chosen)
    hours = scoring_minutes(settings) / 60
    text = _markdown(table, chosen, labels, ceilings, notes, hours, time.perf_counter() - t0)
    write_text_atomic(path.with_suffix(".md"), text)
    ctx.logger.log_image("proxy_suite", path.with_suffix(".png"))
    return {
        f"spearman/{c}/{DEFAULT_FITNESS}": _mean(table.get(DEFAULT_FITNESS, {}).get(c))
        for c in chosen
    }


def _columns(ctx: RunContext, names: Sequence[str] | None) -> list[str]:
    """The asked columns (unknown: one line naming the valid ones), else every column whose
    score CSVs are committed (a column still being scored is left out, not an error)."""
    if names:
        unknown = [n for n in names if n not in SUITE]
        if unknown:
            raise EsnasInputError(
                f"study.columns: unknown {', '.join(unknown)}; valid: {', '.join(SUITE)}"
            )
        return list(names)
    have = [n for n, c in SUITE.items() if all(committed_path(p).exists() for p in c.scores)]
    if not have:
        raise EsnasInputError("no score CSVs of any suite column; run make proxy-suite-scores")
    return have


def _score_paths(column: Column) -> list[Path]:
    """The column's score CSVs and those of its ``extra`` CSVs that are committed."""
    extra = [p for p in map(committed_path, column.extra) if p.exists()]
    return [*map(committed_path, column.scores), *extra]


def _labels(ctx: RunContext, column: Column, paths: Sequence[Path]) -> dict[str, float]:
    """``{arch: label}`` for the architectures the column's score CSVs hold."""
    if column.rows:
        return labels_of(committed_path(column.rows), "model", column.figure)
    truth = _space_truth(column, tuple(sorted({str(csv_path(p)) for p in paths})))
    return {a: t[column.truth] for a, t in truth.items() if column.truth in t}


def _space_truth(column: Column, paths: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Every ground-truth figure of every scored architecture (``space.ground_truth``)."""
    space = _space(tuple(sorted(column.space.items())))
    archs: set[str] = set()
    for p in paths:
        with Path(p).open(newline="") as f:
            archs.update(r["arch"] for r in csv.DictReader(f))
    return {a: space.ground_truth(space.decode(a)) for a in sorted(archs)}


@functools.lru_cache(maxsize=8)
def _space(items: tuple[tuple[str, Any], ...]) -> Any:
    return build("space", dict(items))


def _ceiling(ctx: RunContext, column: Column, paths: Sequence[Path]) -> float | None:
    """rho between two repeated trainings of the same architectures, where they exist."""
    if column.rows:
        agreement = seed_agreement(committed_path(column.rows), "bench.index", column.figure)
        return agreement.get("seed_rho")
    if len(column.repeats) < 2:
        return None
    truth = _space_truth(column, tuple(sorted({str(csv_path(p)) for p in paths})))
    a, b = column.repeats[:2]
    pairs = [(t[a], t[b]) for t in truth.values() if a in t and b in t]
    if len(pairs) < 3:
        return None
    return float(stats.spearmanr(*zip(*pairs, strict=True)).statistic)


def _notes(paths: Sequence[Path], labels: Mapping[str, float]) -> dict[str, str]:
    """``{score: reason}`` for every score column that is NaN, non-finite or constant on the
    column's labelled architectures: the table says why a cell is empty or meaningless."""
    out: dict[str, str] = {}
    for path in {csv_path(p) for p in paths}:
        with path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["arch"] in labels]
        for name in _score_names(rows):
            values = [r[name] for r in rows]
            reason = _reason(values)
            if reason:
                out[name] = reason
    return out


def _score_names(rows: Sequence[Mapping[str, str]]) -> list[str]:
    skip = {"arch", "index", "cost_params", "cost_macs", "build_seconds", "fitness"}
    return [c for c in (rows[0] if rows else {}) if c not in skip and not c.endswith("_seconds")]


def _reason(values: Sequence[str]) -> str:
    """Why a score column says nothing about its architectures, or ``""``."""
    numbers = []
    for v in values:
        try:
            numbers.append(float(v))
        except (TypeError, ValueError):
            numbers.append(math.nan)
    bad = sum(not math.isfinite(v) for v in numbers)
    finite = [v for v in numbers if math.isfinite(v)]
    if bad:
        return f"NaN or failed on {bad} of {len(values)} architectures"
    if len(set(finite)) == 1:
        return f"constant ({finite[0]:.4g}) on all {len(values)} architectures"
    return ""


def _mean(corr: Correlation | None) -> float:
    return statistics.fmean(corr.rho) if corr and corr.rho else math.nan


def _best(labels: Mapping[str, float]) -> float:
    return max(labels.values()) if labels else math.nan


def _write_csv(path: Path, table, chosen: Sequence[str], labels) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["score", "column", "n", "spearman", "kendall", "pick", "best"])
        for name, row in sorted(table.items()):
            for col in chosen:
                c = row.get(col)
                if c is None or not c.rho:
                    continue
                pick = statistics.fmean(c.pick) if c.pick else math.nan
                tau = statistics.fmean(c.tau) if c.tau else math.nan
                writer.writerow([name, col, c.n, _mean(c), tau, pick, _best(labels[col])])


def _cell(corr: Correlation | None, n: int) -> str:
    """``rho / tau / pick``, with the score's own n where it covers fewer than the column."""
    if corr is None or not corr.rho:
        return "–"
    tau = statistics.fmean(corr.tau)
    pick = statistics.fmean(corr.pick)
    spread = f" ± {statistics.stdev(corr.rho):.2f}" if len(corr.rho) > 1 else ""
    fewer = f" (n={corr.n})" if corr.n != n else ""
    return f"{_mean(corr):.2f}{spread} / {tau:.2f} / {pick:.4g}{fewer}"


def _markdown(table, chosen, labels, ceilings, notes, hours: float, wall: float) -> str:
    def order(name: str) -> float:
        rhos = [_mean(table[name].get(c)) for c in chosen]
        finite = [r for r in rhos if math.isfinite(r)]
        return -statistics.fmean(finite) if finite else math.inf

    head = ["score", *chosen]
    lines = [
        "# Proxy suite: training-free scores against every shipped ground truth",
        "",
        "Each cell: Spearman ρ (± std over probe seeds where a column has several) / Kendall τ / "
        "pick (the label of the score's top architecture; compare with the column's best label "
        "below). Rows by mean ρ over the columns a score has.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    names = [n for n in table if not n.startswith("trait/")]
    for name in sorted(names, key=order):
        lines.append(
            f"| `{name}` | "
            + " | ".join(_cell(table[name].get(c), len(labels[c])) for c in chosen)
            + " |"
        )
    lines += _footer(chosen, labels, ceilings)
    lines += _notes_lines(chosen, notes)
    lines += [
        "",
        f"Command: `{study_command()}` (commit {short_commit()}; {wall:.1f} s from the "
        f"committed score CSVs, which cost {hours:.2f} CPU-hours to score).",
    ]
    return "\n".join(lines) + "\n"


def _footer(chosen, labels, ceilings) -> list[str]:
    def fmt(v: float | None) -> str:
        return "–" if v is None or not math.isfinite(v) else f"{v:.3f}"

    return [
        "| *architectures (n)* | " + " | ".join(str(len(labels[c])) for c in chosen) + " |",
        "| *best label* | " + " | ".join(f"{_best(labels[c]):.4g}" for c in chosen) + " |",
        "| *ceiling (ρ between two trainings)* | "
        + " | ".join(fmt(ceilings[c]) for c in chosen)
        + " |",
        "",
        "**Probe per column.**",
        *(
            f"- {c}: {SUITE[c].probe}."
            + (f" **Caveat:** {SUITE[c].caveat}." if SUITE[c].caveat else "")
            for c in chosen
        ),
    ]


def _notes_lines(chosen, notes) -> list[str]:
    lines = ["", "**Scores that say nothing on a column** (left out of its ρ):"]
    found = [f"- {c}, `{name}`: {why}." for c in chosen for name, why in notes[c].items()]
    return lines + (found or ["- none."])


def _heatmap(path: Path, table, chosen: Sequence[str]) -> None:
    """rho of every score (rows) on every column: the suite at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = sorted(n for n in table if not n.startswith("trait/"))
    grid = np.array([[_mean(table[n].get(c)) for c in chosen] for n in names])
    fig, ax = plt.subplots(figsize=(1.1 * len(chosen) + 4, 0.3 * len(names) + 1.5))
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(chosen)), chosen, rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=6)
    for (i, j), v in np.ndenumerate(grid):
        if math.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=5)
    fig.colorbar(image, ax=ax, label="Spearman ρ")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    plt.close(fig)
