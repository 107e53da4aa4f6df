"""NB201 correlation table: every metric's rank correlation with real test accuracy.

Protocol (also written into the results file): the same random NB201 cells (official
indices drawn with ``--seed``) are scored on CIFAR-10, CIFAR-100 and ImageNet16-120 shapes
with the default probe (Gaussian noise, batch 64, 3 in-place re-initialisations, seed 0);
``--cells`` cells get Entropic Score (every ablation variant) and LogSynflow, the first
``--peer-cells`` of them every other metric. Spearman ρ and Kendall τ against the NATS
200-epoch test accuracy of the same dataset; FreeREA's published scores on the same cells
beside ours. Scores go through the persistent score cache, so an interrupted run resumes and
a bigger rerun only scores the new cells.

Run: ``make reproduce-nb201-correlation`` (or this file with ``--help``).
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import math
import random
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

from esnas.metrics import is_floor
from esnas.scoring import ScoreCache, Scorer, make_probe
from esnas.search.fitness import COMBINERS
from esnas.spaces import NB201GroundTruth, NB201Space
from esnas.spaces.nb201 import live_edges
from esnas.utils.console import progress_bar
from esnas.utils.task import short_commit

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
PROBE = {"input": "noise", "batch_size": 64, "num_inits": 3, "seed": 0, "device": "cpu"}
# Entropic Score readings compared in the ablation: label -> options (see conf/metric/entropic).
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


def real_batch(hw: int, n: int = 64, offset: int = 0) -> torch.Tensor:
    """``n`` real Fashion-MNIST test images (from ``offset`` on) as a standardised
    ``(n, 3, hw, hw)`` batch."""
    path = ROOT / "src/esnas/data/fashion_mnist/fashion_mnist_test_1000.npz"
    raw = np.load(path)["images"][offset : offset + n]
    if len(raw) < n:
        raise ValueError(f"images {offset}..{offset + n} asked, the test subset has 1,000")
    images = torch.from_numpy(raw).float().div(255).unsqueeze(1)
    images = F.interpolate(images, size=(hw, hw), mode="bilinear", align_corners=False)
    images = (images - images.mean()) / images.std()
    return images.expand(-1, 3, -1, -1).contiguous()


def parse_overrides(items: list[str], parser: argparse.ArgumentParser) -> dict[str, Any]:
    """``["batch_size=16", "input=noise"]`` → ``{"batch_size": 16, "input": "noise"}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in PROBE:
            parser.error(f"--probe {item!r}: expected KEY=VALUE with KEY one of {', '.join(PROBE)}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def score_cells(
    space: NB201Space,
    indices: list[int],
    metrics: Mapping[str, Mapping[str, Any]],
    cache: ScoreCache,
    probe_overrides: Mapping[str, Any] | None = None,
    suffix: str = "",
    cached_only: bool = False,
    probe_cfg: Mapping[str, Any] = PROBE,
) -> dict[str, dict[int, tuple[float, float]]]:
    """``{label+suffix: {index: (score, seconds)}}`` for every metric on every cell
    (``cached_only``: only the cells already in the cache)."""
    out: dict[str, dict[int, tuple[float, float]]] = {}
    probe = make_probe(probe_cfg, space, **(probe_overrides or {}))
    with progress_bar() as bar:
        for label, options in metrics.items():
            scorer = Scorer(space, {label: dict(options)}, probe, cache)
            task = bar.add_task(f"{space.dataset} {label}{suffix}", total=len(indices))
            values = {}
            for i in indices:
                genome = space.from_index(i)
                bar.advance(task)
                if cached_only and label not in scorer.lookup(genome):
                    continue
                value = scorer.score(genome)[label]
                values[i] = (value, scorer.seconds(space.encode(genome))[label])
            out[label + suffix] = values
    return out


def correlations(scores: Mapping[int, float], accuracy: Mapping[int, float]) -> tuple[float, float]:
    idx = sorted(scores)
    x = [scores[i] for i in idx]
    y = [accuracy[i] for i in idx]
    return float(stats.spearmanr(x, y).statistic), float(stats.kendalltau(x, y).statistic)


def combine(a: Mapping[int, float], b: Mapping[int, float], how: str) -> dict[int, float]:
    """Two scores into one with the search's own combiners (``rank`` or ``max_norm``)."""
    idx = sorted(set(a) & set(b))
    combined = COMBINERS.get(how)([[a[i] for i in idx], [b[i] for i in idx]])
    return dict(zip(idx, combined, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=3000)
    parser.add_argument("--peer-cells", type=int, default=1000)
    parser.add_argument(
        "--ablation-cells",
        type=int,
        default=1000,
        help="cells (first of --cells) for the Entropic Score ablation variants",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--probe",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="probe overrides, e.g. batch_size=16 num_inits=1 (default: " + json.dumps(PROBE) + ")",
    )
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--cache", default=str(ROOT / ".score_cache/scores.sqlite"))
    parser.add_argument("--out", default=str(ROOT / "experiments/results/nb201_correlation"))
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="score nothing: report the cells already in the cache",
    )
    args = parser.parse_args()
    args.probe_cfg = {**PROBE, **parse_overrides(args.probe, parser)}
    t0 = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    indices = random.Random(args.seed).sample(range(NB201Space.num_archs), args.cells)
    peer_idx, abl_idx = indices[: args.peer_cells], indices[: args.ablation_cells]
    truth = NB201GroundTruth.load()
    cache = ScoreCache(args.cache)
    results: dict[str, dict[str, dict[int, tuple[float, float]]]] = {}
    for ds in args.datasets:
        space = NB201Space(ds)
        hw = space.input_shape[1]
        score = functools.partial(
            score_cells, space, cache=cache, cached_only=args.cached_only, probe_cfg=args.probe_cfg
        )
        res = score(indices, {"entropic": {}, "logsynflow": {}})
        res |= score(abl_idx, ENTROPIC_VARIANTS)
        real = {"input": "batch", "batch": real_batch(hw, args.probe_cfg["batch_size"])}
        res |= score(
            abl_idx, {k: {} for k in REAL_INPUT_VARIANTS}, probe_overrides=real, suffix="@real"
        )
        res |= score(peer_idx, {p: {} for p in PEERS})
        results[ds] = res
    cache.close()
    write_report(args, indices, results, truth, time.perf_counter() - t0)


def scoring_hours(score_maps: Iterable[Mapping[int, tuple[float, float]]]) -> float:
    """Summed first-scoring seconds of ``{index: (score, seconds)}`` maps, in hours: what a
    table cost even when written from the cache."""
    return sum(sec for scores in score_maps for _, sec in scores.values()) / 3600


def write_report(args, indices, results, truth, wall: float) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
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
            if len(vals) < 3:  # not scored at this size (e.g. --peer-cells 0)
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
    with (out.with_suffix(".csv")).open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    hours = scoring_hours(scores for res in results.values() for scores in res.values())
    _write_markdown(out.with_suffix(".md"), args, rows, wall, hours)
    with out.with_suffix(".md").open("a") as f:
        f.write(_logsynflow_audit(results, truth, indices))
    _scatter(out.with_suffix(".png"), results, truth, indices)


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


def _write_markdown(path: Path, args, rows, wall: float, hours: float) -> None:
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    by = {(r["dataset"], r["metric"]): r for r in rows}
    lines = [
        "# NAS-Bench-201: rank correlation of training-free metrics with test accuracy",
        "",
        f"Command: `python experiments/nb201_correlation.py {' '.join(sys.argv[1:])}` "
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
    path.write_text("\n".join(lines) + "\n")


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
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
