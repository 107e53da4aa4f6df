"""The ESFormer stand-in against longer training: do 3 epochs rank genomes as 12 epochs, or as
the full 60k training set, do?

Why: the stand-in's proxies rank its 3-epoch labels at rho <= .33 while the labels' own
seed-to-seed ceiling is .93. Either the proxies fail on hybrid spaces or 3 epochs on 9,000
images measure how fast a network starts learning. Training the same genomes longer separates
the two; the decision rule (in the protocol, fixed before the table) says which labels the
stand-in keeps.

Run: ``make esformer-bench-longer`` (``esnas-study study=esformer_bench_longer``).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scipy import stats

from esnas.report import read_rows
from esnas.studies.base import register_study
from esnas.studies.common import committed_path, results_path, study_command
from esnas.utils.atomic import atomic_path, write_text_atomic
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import RunContext, short_commit

RESULTS = "experiments/results"
LONGER = {
    "12 epochs": f"{RESULTS}/esformer_bench_fmnist_e12.csv",
    "full 60k, 3 epochs": f"{RESULTS}/esformer_bench_fmnist_full.csv",
}
Labels = dict[int, dict[int, float]]  # {bench.index: {seed: label}}


def load_labels(path: Path, figure: str) -> Labels:
    """``{bench.index: {seed: figure}}`` of a rows CSV (``esnas-report --rows``); a missing
    file or column is a one-line error naming it."""
    rows = read_rows(path)
    if not rows:
        raise EsnasInputError(f"{path} has no rows; make esformer-bench-longer trains them")
    if not {"bench.index", "seed", figure} <= set(rows[0]):
        raise EsnasInputError(f"{path} needs columns bench.index, seed and {figure}")
    out: Labels = {}
    for r in rows:
        if r[figure] not in ("", None):
            out.setdefault(int(r["bench.index"]), {})[int(r["seed"])] = float(r[figure])
    return out


def agreement(a: Mapping[int, float], b: Mapping[int, float]) -> dict[str, float]:
    """Spearman rho and Kendall tau of two labels on the genomes both have (n < 3: NaN)."""
    common = sorted(set(a) & set(b))
    if len(common) < 3:
        return {"n": len(common), "rho": float("nan"), "tau": float("nan")}
    x, y = [a[i] for i in common], [b[i] for i in common]
    return {
        "n": len(common),
        "rho": float(stats.spearmanr(x, y).statistic),
        "tau": float(stats.kendalltau(x, y).statistic),
    }


def seed_pairs(labels: Labels) -> dict[str, float]:
    """The label's own ceiling: rho and tau between seeds 0 and 1 where both exist."""
    return agreement(
        {i: s[0] for i, s in labels.items() if 0 in s},
        {i: s[1] for i, s in labels.items() if 1 in s},
    )


def seed0(labels: Labels) -> dict[int, float]:
    return {i: s[0] for i, s in labels.items() if 0 in s}


@register_study("esformer_bench_longer")
def esformer_bench_longer(
    ctx: RunContext,
    base: str = f"{RESULTS}/esformer_bench_fmnist.csv",
    longer: dict[str, str] | None = None,
    figure: str = "test/acc1",
    threshold: float = 0.8,
    planned: int = 40,
    out: str = f"{RESULTS}/esformer_bench_longer",
    protocol: str = "experiments/protocols/esformer_bench_longer.md",
) -> dict[str, Any]:
    """The agreement table of the 3-epoch labels with each longer label, and the decision."""
    t0 = time.perf_counter()
    base_labels = load_labels(committed_path(base), figure)
    paths = {k: committed_path(p) for k, p in (longer or LONGER).items()}
    others = {k: load_labels(p, figure) for k, p in paths.items() if p.exists()}
    if not others:
        raise EsnasInputError(f"none of {', '.join(map(str, paths.values()))} exists yet")
    rows = [_row("3 epochs (12k)", base_labels, base_labels)]
    rows += [_row(name, labels, base_labels) for name, labels in others.items()]
    first = next(iter(others))
    decision = _decision(rows[1]["rho"], threshold, first)
    if rows[1]["n"] < planned:
        decision = f"provisional, {rows[1]['n']} of the {planned} planned genomes: {decision}"
    path = results_path(ctx, out)
    _write_csv(path.with_suffix(".csv"), rows)
    _plot(path.with_suffix(".png"), base_labels, others)
    pending = [k for k, p in paths.items() if not p.exists()]
    text = _markdown(rows, decision, committed_path(protocol), time.perf_counter() - t0)
    if pending:
        text += f"\nNot trained yet (no rows): {', '.join(pending)}.\n"
    write_text_atomic(path.with_suffix(".md"), text)
    ctx.logger.log_image("esformer_bench_longer", path.with_suffix(".png"))
    ctx.logger.log_table("esformer_bench_longer", list(rows[0]), [list(r.values()) for r in rows])
    return {"rho_e12": rows[1]["rho"], "decision": decision}


def _row(name: str, labels: Labels, base: Labels) -> dict[str, Any]:
    vs = agreement(seed0(base), seed0(labels))
    pairs = seed_pairs(labels)
    values = list(seed0(labels).values())
    return {
        "label": name,
        "genomes": len(values),
        "mean_acc": sum(values) / len(values) if values else float("nan"),
        "n": vs["n"],
        "rho": vs["rho"],
        "tau": vs["tau"],
        "seed_pairs": pairs["n"],
        "seed_rho": pairs["rho"],
    }


def _decision(rho: float, threshold: float, label: str) -> str:
    if rho != rho:  # NaN: too few genomes trained yet
        return "undecided: fewer than 3 genomes carry both labels"
    if rho < threshold:
        return f"rho(3 epochs, {label}) = {rho:.3f} < {threshold}: the stand-in moves to {label}"
    return f"rho(3 epochs, {label}) = {rho:.3f} >= {threshold}: the stand-in keeps 3 epochs"


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _fmt(v: float) -> str:
    return "–" if v != v else f"{v:.3f}"


def _markdown(rows: list[dict[str, Any]], decision: str, protocol: Path, wall: float) -> str:
    lines = [
        "# ESFormer stand-in: 3-epoch labels against longer training",
        "",
        "| label | genomes | mean test acc | n with 3-epoch label | ρ vs 3 epochs | τ vs 3 epochs "
        "| seed pairs | seed-to-seed ρ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['genomes']} | {_fmt(r['mean_acc'])} | {r['n']} "
            f"| {_fmt(r['rho'])} | {_fmt(r['tau'])} | {r['seed_pairs']} | {_fmt(r['seed_rho'])} |"
        )
    prose = protocol.read_text().strip() if protocol.exists() else ""
    tail = [
        "",
        f"**Decision:** {decision}.",
        "",
        prose,
        "",
        f"Command: `{study_command()}` (commit {short_commit()}, {wall:.1f} s from the "
        "committed rows; the trainings' CPU time is each row's `wall_time_s`).",
    ]
    return "\n".join([*lines, *tail]) + "\n"


def _plot(path: Path, base: Labels, others: Mapping[str, Labels]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(others), figsize=(4.5 * len(others), 4), squeeze=False)
    x0 = seed0(base)
    for ax, (name, labels) in zip(axes[0], others.items(), strict=True):
        y0 = seed0(labels)
        common = sorted(set(x0) & set(y0))
        ax.scatter([x0[i] for i in common], [y0[i] for i in common], s=14)
        ax.set_xlabel("test acc, 3 epochs (12k)")
        ax.set_ylabel(f"test acc, {name}")
        ax.set_title(f"{name}: n={len(common)}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
