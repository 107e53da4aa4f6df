"""NB201 correlation table: every metric's rank correlation with real test accuracy.

Protocol (also written into the results file): the same random NB201 cells (official
indices drawn with ``seed``) are scored on CIFAR-10, CIFAR-100 and ImageNet16-120 shapes
with the default probe (Gaussian noise, batch 64, 3 in-place re-initialisations, seed 0;
``probe`` overrides it); ``cells`` cells get Entropic Score and LogSynflow, the first
``ablation_cells`` the Entropic Score variants, the first ``peer_cells`` every other metric.
Spearman ρ and Kendall τ against the NATS 200-epoch test accuracy of the same dataset;
FreeREA's published scores on the same cells beside ours. Scores go through the persistent
score cache, so an interrupted run resumes and a bigger rerun only scores the new cells.

Run: ``make reproduce-nb201-correlation`` (``esnas-study study=nb201_correlation ...``).
"""

from __future__ import annotations

import csv
import functools
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from scipy import stats

from esnas.metrics import is_floor
from esnas.spaces import NB201GroundTruth, NB201Space
from esnas.spaces.nb201 import live_edges
from esnas.studies.base import register_study
from esnas.studies.common import (
    combine,
    correlations,
    open_study_cache,
    probe_config,
    real_batch,
    results_path,
    sample_indices,
    score_cells,
    scoring_hours,
    study_command,
)
from esnas.utils.atomic import atomic_open, atomic_path, write_text_atomic
from esnas.utils.errors import EsnasInputError, as_number
from esnas.utils.task import RunContext, short_commit

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
# Entropic Score readings compared in the ablation: label -> options (Entropic Score's own).
ENTROPIC_VARIANTS: dict[str, dict[str, Any]] = {
    "entropic/binary": {"estimator": "binary"},  # sum over elements and layers, log of total
    "entropic/binary_mean": {"estimator": "binary", "aggregate_elements": "mean",
                             "aggregate_layers": "mean", "log": False},
    "entropic/binary_width_norm": {"estimator": "binary", "width_normalise": "log_elements"},
    "entropic/gaussian": {"estimator": "gaussian", "log": False},
    "entropic/gaussian_mean": {"estimator": "gaussian", "aggregate_elements": "mean",
                               "aggregate_layers": "mean", "log": False},
    "entropic/shannon": {"estimator": "shannon"},
    "entropic/shannon_mean": {"estimator": "shannon", "aggregate_layers": "mean", "log": False},
}  # fmt: skip
REAL_INPUT_VARIANTS = ("entropic",)  # the default, also scored on real images ("@real")
PEERS = ("synflow", "naswot", "zen", "grad_norm", "snip", "zico", "params", "flops")
FREEREA = ("logsynflow", "synflow", "naswot")


@register_study("nb201_correlation")
def nb201_correlation(
    ctx: RunContext,
    cells: int = 3000,
    peer_cells: int = 1000,
    ablation_cells: int = 1000,
    seed: int = 0,
    probe: dict[str, Any] | None = None,
    datasets: Sequence[str] = DATASETS,
    cached_only: bool = False,
    out: str = "experiments/results/nb201_correlation",
) -> dict[str, float]:
    """Scores the cells (``cached_only``: reads only what the cache holds) and writes
    ``<out>.{md,csv,png}``; returns ρ of Entropic Score and LogSynflow per dataset."""
    args = SimpleNamespace(
        cells=cells,
        peer_cells=peer_cells,
        ablation_cells=ablation_cells,
        probe_cfg=probe_config(probe),
        out=results_path(ctx, out),
    )
    t0 = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    indices = sample_indices("cells", cells, NB201Space.num_archs, seed)
    for key, count in (("peer_cells", peer_cells), ("ablation_cells", ablation_cells)):
        if not 0 <= as_number(f"study.{key}", count, int) <= cells:
            raise EsnasInputError(f"study.{key}={count} is invalid; valid: 0..study.cells={cells}")
    peer_idx, abl_idx = indices[:peer_cells], indices[:ablation_cells]
    truth = NB201GroundTruth.load()
    cache = open_study_cache(ctx)
    results: dict[str, dict[str, dict[int, tuple[float, float]]]] = {}
    try:
        for ds in datasets:
            space = NB201Space(ds)
            hw = space.input_shape[1]
            score = functools.partial(
                score_cells, space, cache=cache, cached_only=cached_only, probe_cfg=args.probe_cfg
            )
            res = score(indices, {"entropic": {}, "logsynflow": {}})
            res |= score(abl_idx, ENTROPIC_VARIANTS)
            real = {"input": "batch", "batch": real_batch(hw, args.probe_cfg["batch_size"])}
            res |= score(
                abl_idx, {k: {} for k in REAL_INPUT_VARIANTS}, probe_overrides=real, suffix="@real"
            )
            res |= score(peer_idx, {p: {} for p in PEERS})
            results[ds] = res
    finally:
        cache.close()
    rows = write_report(args, indices, results, truth, time.perf_counter() - t0)
    return {
        f"spearman/{r['dataset']}/{r['metric']}": r["spearman"]
        for r in rows
        if r["metric"] in ("entropic", "logsynflow")
    }


def write_report(args, indices, results, truth, wall: float) -> list[dict[str, Any]]:
    out = Path(args.out)
    rows: list[dict[str, Any]] = []
    for ds, res in results.items():
        acc = truth.test_accuracies(ds)
        accuracy = {i: float(acc[i]) for i in indices}
        series = {label: {i: v[0] for i, v in vals.items()} for label, vals in res.items()}
        seconds = {
            label: float(np.median([v[1] for v in vals.values()]))
            for label, vals in res.items()
            if vals
        }
        for a, b in (("entropic", "logsynflow"),):
            for how in ("rank", "max_norm"):
                series[f"{a} + {b} ({how})"] = combine(series[a], series[b], how)
        for name in FREEREA:
            pub = truth.proxy_values(name, ds)
            series[f"FreeREA published {name}"] = {i: float(pub[i]) for i in indices}
        pub_ls = series["FreeREA published logsynflow"]
        pub_nw = {i: float(truth.proxy_values("naswot", ds)[i]) for i in indices}
        series["FreeREA published naswot + logsynflow (max_norm)"] = combine(
            pub_nw, pub_ls, "max_norm"
        )
        for label, vals in series.items():
            vals = {i: v for i, v in vals.items() if math.isfinite(v)}
            if len(vals) < 3:  # not scored at this size (e.g. study.peer_cells=0)
                continue
            rho, tau = correlations(vals, accuracy)
            rows.append(
                {
                    "dataset": ds,
                    "metric": label,
                    "n": len(vals),
                    "spearman": rho,
                    "kendall": tau,
                    "median_ms": 1e3 * seconds[label] if label in seconds else "",
                }
            )
    with atomic_open(out.with_suffix(".csv"), newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    hours = scoring_hours(scores for res in results.values() for scores in res.values())
    markdown = _markdown(args, rows, wall, hours) + _logsynflow_audit(results, truth, indices)
    write_text_atomic(out.with_suffix(".md"), markdown)
    _scatter(out.with_suffix(".png"), results, truth, indices)
    return rows


def _cell_kind(space: NB201Space, index: int) -> str:
    """``disconnected`` (no input→output path), ``dead conv`` (a conv off every such path:
    zero gradient) or ``clean``: the cases where FreeREA's stored LogSynflow differs."""
    genome = space.from_index(index)
    live = live_edges(genome)
    if not any(live):
        return "disconnected"
    dead = any(
        op.startswith("nor_conv") and not ok for op, ok in zip(genome.ops, live, strict=True)
    )
    return "dead conv" if dead else "clean"


def _logsynflow_audit(results, truth, indices) -> str:
    """Our LogSynflow against FreeREA's stored values, per kind of cell (DESIGN.md)."""
    space = NB201Space("cifar10")  # the cell's kind does not depend on the dataset
    kinds = {i: _cell_kind(space, i) for i in indices}
    lines = [
        "",
        "## LogSynflow against FreeREA's stored values",
        "",
        "Per kind of cell: Spearman ρ between our LogSynflow and the stored column, and the "
        "share of cells within 1 %. Stored values on cells with zero-gradient convs behave as "
        "if log(g + 1e-6) had been used instead of the published log(1 + g) (DESIGN.md): "
        "disconnected cells and cells with a conv off every input→output path differ by design.",
        "",
        "| dataset | cells | n | ρ (ours vs stored) | within 1 % |",
        "|---|---|---:|---:|---:|",
    ]
    for ds, res in results.items():
        ours = {i: v[0] for i, v in res.get("logsynflow", {}).items()}
        stored = truth.proxy_values("logsynflow", ds)
        for kind in ("all", "clean", "dead conv", "disconnected"):
            idx = [i for i in ours if kind == "all" or kinds[i] == kind]
            if len(idx) < 3:
                continue
            x = np.array([ours[i] for i in idx])
            y = np.array([float(stored[i]) for i in idx])
            close = np.mean(np.abs(x - y) <= 0.01 * np.abs(y))
            rho = (
                f"{stats.spearmanr(x, y).statistic:.4f}"
                if np.ptp(x) > 0 and np.ptp(y) > 0
                else f"constant (ours {x[0]:.3g}, stored {y[0]:.3g})"
            )
            lines.append(f"| {ds} | {kind} | {len(idx)} | {rho} | {100 * close:.1f} % |")
    return "\n".join(lines) + "\n"


def _markdown(args, rows, wall: float, hours: float) -> str:
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    by = {(r["dataset"], r["metric"]): r for r in rows}
    lines = [
        "# NAS-Bench-201: rank correlation of training-free metrics with test accuracy",
        "",
        f"Command: `{study_command()}` "
        f"(commit {short_commit()}, wall time {wall / 60:.1f} min on this machine, scores from "
        "the persistent score cache where present: their timings are those measured when "
        "each cell was first scored; all the scores in this table took "
        f"{hours:.1f} CPU-hours to compute, summed over cells).",
        "",
        f"Size: {args.cells} cells for Entropic Score and LogSynflow, the first "
        f"{args.ablation_cells} of them for the ablation variants, {args.peer_cells} for the "
        "peers (n per row below). "
        + (
            "**A pilot, smaller than the target (≥ 3,000 / ≥ 1,000 cells): read the ablation "
            "and peer rows as indicative only.**"
            if args.cells < 3000
            else ""
        ),
        "",
        f"Protocol: probe {json.dumps(args.probe_cfg)}; input shape of each dataset (3×32×32, "
        "3×32×32, 3×16×16) and its head; LogSynflow/SynFlow force float64 and identity BN; "
        "`@real` = a batch of real Fashion-MNIST test images (resized, 3 channels), not noise. "
        "Ground truth: NATS-Bench 200-epoch test accuracy (`nb201_tss_accuracy.csv`). "
        "`FreeREA published` = scores stored by FreeREA for the same cells. "
        "ρ = Spearman, τ = Kendall; n = cells; ms = median seconds per cell of our metric "
        "(CPU, measured when first scored).",
        "",
        "| metric | " + " | ".join(f"{d} ρ | τ | n" for d in datasets) + " | ms/cell |",
        "|---|" + "---:|---:|---:|" * len(datasets) + "---:|",
    ]
    for m in metrics:
        cells = []
        for d in datasets:
            r = by.get((d, m))
            cells += (
                ["", "", ""]
                if r is None
                else [f"{r['spearman']:.3f}", f"{r['kendall']:.3f}", str(r["n"])]
            )
        ms = by.get((datasets[0], m), {}).get("median_ms", "")
        lines.append(
            f"| {m} | " + " | ".join(cells) + f" | {ms:.0f} |"
            if ms != ""
            else f"| {m} | " + " | ".join(cells) + " | |"
        )
    return "\n".join(lines) + "\n"


def _scatter(path: Path, results, truth, indices) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = next(iter(results))
    acc = truth.test_accuracies(ds)
    labels = ("entropic", "logsynflow")
    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4))
    for ax, label in zip(np.atleast_1d(axes), labels, strict=True):
        vals = results[ds][label]
        idx = [i for i in indices if i in vals and not is_floor(vals[i][0])]
        ax.scatter([vals[i][0] for i in idx], [acc[i] for i in idx], s=3, alpha=0.4)
        rho = stats.spearmanr([vals[i][0] for i in idx], [acc[i] for i in idx]).statistic
        ax.set(xlabel=label, ylabel=f"{ds} test accuracy (%)", title=f"{label}: ρ = {rho:.3f}")
        ax.set_ylim(max(0, min(acc[i] for i in idx) - 1), 100 if ds == "cifar10" else None)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
