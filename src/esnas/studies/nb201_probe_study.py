"""What a cheaper probe costs in rank correlation: the same NB201 cells under several probes.

Why: the default probe (Gaussian noise, batch 64, 3 re-initialisations) costs ~1.8 s per
cell for Entropic Score on this 2-core CPU, too much to score thousands of cells per
session; the fast probe (``conf/probe/fast.yaml``: batch 16, 1 initialisation) is ~9x
cheaper. This scores ``cells`` random CIFAR-10 cells (the first of the correlation table's
draw) with each probe and reports, per metric and probe, Spearman ρ / Kendall τ against the
NATS test accuracy, the median ms per cell, and ρ between the probe's scores and the
default probe's (how much the ranking itself moves).

Run: ``make reproduce-nb201-probe-study`` (``esnas-study study=nb201_probe_study ...``);
scores go through the persistent score cache, shared with ``nb201_correlation``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from scipy import stats

from esnas.spaces import NB201GroundTruth, NB201Space
from esnas.studies.base import register_study
from esnas.studies.common import (
    PROBE,
    correlations,
    open_study_cache,
    results_path,
    sample_indices,
    score_cells,
    scoring_hours,
    study_command,
)
from esnas.utils.atomic import write_text_atomic
from esnas.utils.task import RunContext, short_commit

PROBES = {
    "default (64 x 3)": {},
    "batch 16 x 3": {"batch_size": 16},
    "fast (16 x 1)": {"batch_size": 16, "num_inits": 1},
}
# Short names of PROBES for the run's summary figures.
PROBE_KEYS = dict(zip(PROBES, ("default", "batch16", "fast"), strict=True))
METRICS = ("entropic", "logsynflow", "naswot")  # the method's two metrics and FreeREA's NASWOT


@register_study("nb201_probe_study")
def nb201_probe_study(
    ctx: RunContext,
    cells: int = 200,
    seed: int = 0,
    dataset: str = "cifar10",
    metrics: Sequence[str] = METRICS,
    out: str = "experiments/results/nb201_probe_study.md",
) -> dict[str, float]:
    """Scores the cells under every probe in :data:`PROBES` and writes the table to ``out``
    (a ``.md`` file); returns ρ with test accuracy per metric and probe."""
    t0 = time.perf_counter()
    indices = sample_indices("cells", cells, NB201Space.num_archs, seed)
    space = NB201Space(dataset)
    accuracy = dict(enumerate(NB201GroundTruth.load().test_accuracies(dataset)))
    cache = open_study_cache(ctx)
    try:
        results = {
            name: score_cells(
                space, indices, {m: {} for m in metrics}, cache, probe_cfg={**PROBE, **over}
            )
            for name, over in PROBES.items()
        }
    finally:
        cache.close()
    reference = next(iter(PROBES))
    lines = [
        f"# NB201 ({dataset}): rank correlation and cost per probe",
        "",
        f"Command: `{study_command()}` (commit "
        f"{short_commit()}, wall time {(time.perf_counter() - t0) / 60:.1f} min; the scores took "
        f"{scoring_hours(s for res in results.values() for s in res.values()):.1f} CPU-hours "
        "when first computed; scores from the "
        "persistent score cache where present). ms/cell: CPU, one torch thread, timed when "
        "each cell was first scored, under whatever else ran then (these were scored while 3 "
        "to 9 scoring processes shared 2 cores): read ratios within a row group with care, "
        "and `make bench` for quiet-machine costs.",
        "",
        f"{cells} random cells (seed {seed}, the first of the correlation table's "
        f"draw); Gaussian noise input, probe seed 0; base probe {PROBE}. ρ/τ: Spearman/Kendall "
        f"against NATS 200-epoch test accuracy; `ρ vs default`: Spearman between this probe's "
        "scores and the default probe's on the same cells.",
        "",
        "| metric | probe | ρ | τ | ρ vs default | ms/cell |",
        "|---|---|---:|---:|---:|---:|",
    ]
    figures: dict[str, float] = {}
    for metric in metrics:
        ref = {i: v[0] for i, v in results[reference][metric].items()}
        for name, res in results.items():
            scores = {i: v[0] for i, v in res[metric].items()}
            rho, tau = correlations(scores, accuracy)
            agree = stats.spearmanr([scores[i] for i in indices], [ref[i] for i in indices])
            ms = 1e3 * float(np.median([v[1] for v in res[metric].values()]))
            lines.append(
                f"| {metric} | {name} | {rho:.3f} | {tau:.3f} | {agree.statistic:.3f} | {ms:.0f} |"
            )
            figures[f"spearman/{metric}/{PROBE_KEYS[name]}"] = rho
    write_text_atomic(results_path(ctx, out), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return figures
