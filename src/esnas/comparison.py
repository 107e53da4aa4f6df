"""Named models trained with one recipe, each at the LR its own sweep chose on validation.

Why: a fixed LR tuned on one family favours it. Every model of ``make compare-fmnist`` gets
the same small LR sweep on one seed; its other seeds train at the LR with the best validation
accuracy (the ``esnas.best_where`` rule, which this table applies again to the same rows), and
the table reports test accuracy at that LR over all seeds, so no test number picks the LR.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from esnas.report import read_rows
from esnas.utils.atomic import atomic_path, write_text_atomic
from esnas.utils.config import best_where
from esnas.utils.errors import EsnasInputError


@dataclass
class ModelResult:
    """One model: its sweep (LR -> validation top-1 on the sweep seed), the chosen LR, and the
    trainings at that LR (every seed)."""

    model: str
    sweep: dict[float, float]
    lr: float
    test: list[float]
    val: list[float]
    params: float
    macs: float
    macs_224: float
    minutes: float


def compare(
    rows_csv: Path,
    *,
    group: str = "model.name",
    sweep_seed: str = "0",
    select: str = "val/acc1_best",
    figure: str = "test/acc1",
) -> list[ModelResult]:
    """Per value of ``group`` in an ``esnas-report --rows`` CSV (in first-seen order)."""
    rows = [r for r in read_rows(rows_csv) if r.get(figure) not in (None, "")]
    if not rows:
        raise EsnasInputError(
            f"{rows_csv} has no rows with {figure!r}; valid: an esnas-report --rows CSV"
        )
    results = []
    for model in dict.fromkeys(r[group] for r in rows):
        mine = [r for r in rows if r[group] == model]
        chosen = best_where(str(rows_csv), "lr", select, f"{group}={model}", f"seed={sweep_seed}")
        at_lr = [r for r in mine if float(r["lr"]) == chosen]
        sweep = {float(r["lr"]): float(r[select]) for r in mine if r["seed"] == sweep_seed}
        results.append(
            ModelResult(
                model=model,
                sweep=dict(sorted(sweep.items())),
                lr=chosen,
                test=[float(r[figure]) for r in at_lr],
                val=[float(r[select]) for r in at_lr],
                params=float(at_lr[0]["params"]),
                macs=float(at_lr[0].get("macs") or "nan"),
                macs_224=float(at_lr[0].get("macs_224") or "nan"),
                minutes=statistics.fmean(float(r["wall_time_s"]) for r in at_lr) / 60,
            )
        )
    return results


def _pm(values: Sequence[float], scale: float = 100.0) -> str:
    if len(values) == 1:
        return f"{values[0] * scale:.2f} (n=1)"
    mean, std = statistics.fmean(values) * scale, statistics.stdev(values) * scale
    return f"{mean:.2f} ± {std:.2f} (n={len(values)})"


def markdown(results: Sequence[ModelResult]) -> list[str]:
    """One row per model: the sweep's validation accuracies, the chosen LR, test at it."""
    lrs = sorted({lr for r in results for lr in r.sweep})
    head = " | ".join(f"val % at LR {lr:g}" for lr in lrs)
    lines = [
        f"| model | params (M) | MACs (M) | MACs 224 px (M) | {head} | chosen LR "
        "| test top-1 % at it (mean ± std) | val top-1 % at it | min per run |",
        "|---|---|---|---|" + "---|" * len(lrs) + "---|---|---|---|",
    ]
    for r in results:
        sweep = " | ".join(f"{r.sweep[lr] * 100:.2f}" if lr in r.sweep else "–" for lr in lrs)
        lines.append(
            f"| {r.model} | {r.params / 1e6:.2f} | {r.macs / 1e6:.1f} | {r.macs_224 / 1e6:.0f} "
            f"| {sweep} | {r.lr:g} | {_pm(r.test)} | {_pm(r.val)} | {r.minutes:.1f} |"
        )
    return lines


def plot(results: Sequence[ModelResult], path: Path) -> None:
    """Test top-1 (mean ± std at the chosen LR) against MACs, one labelled point per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        mean = statistics.fmean(r.test) * 100
        std = statistics.stdev(r.test) * 100 if len(r.test) > 1 else 0.0
        ax.errorbar(r.macs / 1e6, mean, yerr=std, fmt="o", capsize=3)
        ax.annotate(r.model, (r.macs / 1e6, mean), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("MACs at the training resolution (M)")
    ax.set_ylabel("test top-1 % (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def write_report(
    rows_csv: Path,
    out: Path,
    *,
    title: str = "Same recipe, each model at its own best LR",
    command: str = "",
    protocol: str | None = None,
    **options: str,
) -> str:
    """Writes ``<out>.md`` and ``<out>.png`` and returns the markdown."""
    results = compare(rows_csv, **options)
    lines = [f"# {title}", ""] + ([protocol, ""] if protocol else [])
    lines += markdown(results)
    rows = read_rows(rows_csv)
    commits = ", ".join(sorted({r.get("commit") or "?" for r in rows}))
    hours = sum(float(r.get("wall_time_s") or 0) for r in rows) / 3600
    lines += ["", f"{len(rows)} trainings at commit(s) {commits}; {hours:.1f} job-hours "
              "(each job one torch thread: CPU-hours)."]  # fmt: skip
    lines += ["", f"Command: `{command}`" if command else ""]
    text = "\n".join(lines).rstrip() + "\n"
    write_text_atomic(out.with_suffix(".md"), text)
    plot(results, out.with_suffix(".png"))
    return text
