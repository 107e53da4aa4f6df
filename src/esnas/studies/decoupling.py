"""Decoupling table: does a metric rank topology (NB201) or just follow size (NATS-SSS)?

The paper's premise is that Entropic Score captures topology and LogSynflow size. For every
metric and Entropic Score reading this reports, side by side:

* ρ with test accuracy on NB201 (CIFAR-10): the cell's topology varies, width is fixed;
* ρ with #params on NATS-SSS (CIFAR-10 shape): the cell is fixed, only the channel counts vary,
  so a metric that follows size scores |ρ| near 1 here.

A topology metric in the paper's sense scores high on the first and near 0 on the second; the
issue's bar: ρ ≥ 0.85 on NB201 and |ρ with #params| ≤ 0.3 on SSS. Both spaces are scored with
the same probe (default: the fast probe, batch 16 × 1 init) through the persistent score cache.

Run: ``make reproduce-decoupling`` (``esnas-study study=decoupling ...``).
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from esnas.metrics import is_floor
from esnas.spaces import NB201GroundTruth, NB201Space
from esnas.spaces.nats_sss import NATSSizeSpace
from esnas.studies.base import register_study
from esnas.studies.common import (
    correlations,
    open_study_cache,
    probe_config,
    results_path,
    sample_indices,
    score_cells,
    scoring_hours,
    study_command,
)
from esnas.studies.nb201_correlation import ENTROPIC_VARIANTS, PEERS
from esnas.utils.atomic import atomic_path, write_text_atomic
from esnas.utils.task import RunContext, short_commit

# The default probe overrides: the fast probe (conf/probe/fast.yaml).
FAST_PROBE: dict[str, Any] = {"batch_size": 16, "num_inits": 1}
# Readings that normalise each layer's entropy for its width: candidates for a size-free score.
WIDTH_FREE_VARIANTS: dict[str, dict[str, Any]] = {
    "entropic/shannon_log_channels": {"estimator": "shannon", "width_normalise": "log_channels"},
    "entropic/shannon_log_elements": {"estimator": "shannon", "width_normalise": "log_elements"},
    "entropic/shannon_elem_mean": {"estimator": "shannon", "aggregate_elements": "mean",
                                   "log": False},
    "entropic/binary_channels": {"estimator": "binary", "width_normalise": "channels"},
    # H - log N per layer (-KL to uniform): evenness whatever the width; summed, or averaged
    "entropic/shannon_kl_sum": {"estimator": "shannon", "width_normalise": "kl_uniform",
                                "log": False},
    "entropic/shannon_kl_mean": {"estimator": "shannon", "width_normalise": "kl_uniform",
                                 "log": False, "aggregate_layers": "mean"},
}  # fmt: skip
METRICS = {
    "entropic": {},
    "logsynflow": {},
    **ENTROPIC_VARIANTS,
    **WIDTH_FREE_VARIANTS,
    **{p: {} for p in PEERS},
}


def rho(scores: dict[int, float], target: dict[int, float]) -> tuple[float, int]:
    """Spearman ρ over the cells a metric did not score at the floor, and their count."""
    kept = {i: v for i, v in scores.items() if np.isfinite(v) and not is_floor(v)}
    return correlations(kept, target)[0], len(kept)


@register_study("decoupling")
def decoupling(
    ctx: RunContext,
    nb201_cells: int = 300,
    sss_archs: int = 200,
    seed: int = 0,
    probe: dict[str, Any] | None = FAST_PROBE,
    out: str = "experiments/results/decoupling",
) -> dict[str, float]:
    """Scores every metric on NB201 and NATS-SSS cells and writes ``<out>.{md,png}``; returns
    Entropic Score's and LogSynflow's ρ on each space. ``probe`` overrides the base probe
    (``null``: the default probe, not the fast one)."""
    args = SimpleNamespace(
        nb201_cells=nb201_cells, sss_archs=sss_archs, seed=seed, out=results_path(ctx, out)
    )
    probe_cfg = probe_config(probe)
    t0 = time.perf_counter()
    nb201 = NB201Space("cifar10")
    nb_idx = sample_indices("nb201_cells", nb201_cells, NB201Space.num_archs, seed)
    accuracy = dict(enumerate(NB201GroundTruth.load().test_accuracies("cifar10")))
    sss = NATSSizeSpace("cifar10")
    sss_idx = sample_indices("sss_archs", sss_archs, sss.num_archs, seed)
    params = {i: sss.cost(sss.from_index(i)).params for i in sss_idx}
    cache = open_study_cache(ctx)
    try:
        nb = score_cells(nb201, nb_idx, METRICS, cache, probe_cfg=probe_cfg)
        ss = score_cells(sss, sss_idx, METRICS, cache, probe_cfg=probe_cfg)  # type: ignore[arg-type]
    finally:
        cache.close()
    rows = []
    for label in METRICS:
        topo, n_nb = rho({i: v[0] for i, v in nb[label].items()}, accuracy)
        size, n_ss = rho({i: v[0] for i, v in ss[label].items()}, params)
        rows.append((label, topo, n_nb, size, n_ss, topo >= 0.85 and abs(size) <= 0.3))
    hours = scoring_hours([*nb.values(), *ss.values()])
    write(args, probe_cfg, rows, time.perf_counter() - t0, hours)
    by = {label: (topo, size) for label, topo, _, size, *_ in rows}
    return {
        f"{key}/{label}": float(by[label][k])
        for label in ("entropic", "logsynflow")
        for k, key in enumerate(("nb201_spearman", "sss_params_spearman"))
    }


def write(args, probe_cfg, rows, wall: float, hours: float) -> None:
    out = Path(args.out)
    lines = [
        "# Decoupling: ranking topology (NB201) vs following size (NATS-SSS)",
        "",
        f"Command: `{study_command()}` (commit "
        f"{short_commit()}, wall time {wall / 60:.1f} min; scores from the persistent score "
        f"cache where present; they took {hours:.1f} CPU-hours when first computed).",
        "",
        f"Protocol: probe {probe_cfg}; NB201: {args.nb201_cells} random cells (seed "
        f"{args.seed}, the first of the correlation table's draw), CIFAR-10 shape, ρ = Spearman "
        "with NATS 200-epoch test accuracy. NATS-SSS: "
        f"{args.sss_archs} random channel configurations (seed {args.seed}), CIFAR-10 shape, "
        "ρ = Spearman with the parameter count (exact, NATS's). Cells a metric scores at the "
        "floor (disconnected) are left out. `topology-only` = ρ(NB201) ≥ 0.85 and |ρ(SSS "
        "params)| ≤ 0.3, the bar the issue sets.",
        "",
        "| metric | NB201 ρ (test acc) | n | SSS ρ (#params) | n | topology-only |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, topo, n_nb, size, n_ss, ok in rows:
        lines.append(
            f"| {label} | {topo:.3f} | {n_nb} | {size:.3f} | {n_ss} | {'yes' if ok else 'no'} |"
        )
    write_text_atomic(out.with_suffix(".md"), "\n".join(lines) + "\n")
    _plot(out.with_suffix(".png"), rows)
    print("\n".join(lines))


def _plot(path: Path, rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    ax.axhspan(0.85, 1.0, xmin=0.35, xmax=0.65, color="tab:green", alpha=0.15)
    for label, topo, _, size, _, _ in rows:
        color = "tab:red" if label.startswith("entropic") else "tab:blue"
        ax.scatter(size, topo, color=color, s=18)
        ax.annotate(label.replace("entropic/", "ES/"), (size, topo), fontsize=7,
                    xytext=(3, 2), textcoords="offset points")  # fmt: skip
    ax.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="ρ with #params on NATS-SSS (size only varies)",
           ylabel="ρ with test accuracy on NB201 (topology varies)",
           title="Topology vs size: green = the issue's topology-only bar")  # fmt: skip
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
