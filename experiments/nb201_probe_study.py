"""What a cheaper probe costs in rank correlation: the same NB201 cells under several probes.

Why: the default probe (Gaussian noise, batch 64, 3 re-initialisations) costs ~1.8 s per
cell for Entropic Score on this 2-core CPU, too much to score thousands of cells per
session; the fast probe (``conf/probe/fast.yaml``: batch 16, 1 initialisation) is ~9x
cheaper. This scores ``--cells`` random CIFAR-10 cells (the first of the correlation table's
draw) with each probe and reports, per metric and probe, Spearman ρ / Kendall τ against the
NATS test accuracy, the median ms per cell, and ρ between the probe's scores and the
default probe's (how much the ranking itself moves).

Run: ``make reproduce-nb201-probe-study`` (or this file with ``--help``); scores go through
the persistent score cache, shared with ``nb201_correlation.py``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nb201_correlation import (
    PROBE,
    ROOT,
    correlations,
    score_cells,
    scoring_hours,
)

from esnas.scoring import ScoreCache
from esnas.spaces import NB201GroundTruth, NB201Space
from esnas.utils.task import short_commit

PROBES = {
    "default (64 x 3)": {},
    "batch 16 x 3": {"batch_size": 16},
    "fast (16 x 1)": {"batch_size": 16, "num_inits": 1},
}
METRICS = ("entropic", "logsynflow", "naswot")  # the method's two metrics and FreeREA's NASWOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--metrics", nargs="+", default=list(METRICS))
    parser.add_argument("--cache", default=str(ROOT / ".score_cache/scores.sqlite"))
    parser.add_argument("--out", default=str(ROOT / "experiments/results/nb201_probe_study.md"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    indices = random.Random(args.seed).sample(range(NB201Space.num_archs), args.cells)
    space = NB201Space(args.dataset)
    accuracy = dict(enumerate(NB201GroundTruth.load().test_accuracies(args.dataset)))
    cache = ScoreCache(args.cache)
    results = {
        name: score_cells(
            space, indices, {m: {} for m in args.metrics}, cache, probe_cfg={**PROBE, **over}
        )
        for name, over in PROBES.items()
    }
    cache.close()
    reference = next(iter(PROBES))
    lines = [
        f"# NB201 ({args.dataset}): rank correlation and cost per probe",
        "",
        f"Command: `python experiments/nb201_probe_study.py {' '.join(sys.argv[1:])}` (commit "
        f"{short_commit()}, wall time {(time.perf_counter() - t0) / 60:.1f} min; the scores took "
        f"{scoring_hours(s for res in results.values() for s in res.values()):.1f} CPU-hours "
        "when first computed; scores from the "
        "persistent score cache where present). ms/cell: CPU, one torch thread, timed when "
        "each cell was first scored, under whatever else ran then (these were scored while 3 "
        "to 9 scoring processes shared 2 cores): read ratios within a row group with care, "
        "and `make bench` for quiet-machine costs.",
        "",
        f"{args.cells} random cells (seed {args.seed}, the first of the correlation table's "
        f"draw); Gaussian noise input, probe seed 0; base probe {PROBE}. ρ/τ: Spearman/Kendall "
        f"against NATS 200-epoch test accuracy; `ρ vs default`: Spearman between this probe's "
        "scores and the default probe's on the same cells.",
        "",
        "| metric | probe | ρ | τ | ρ vs default | ms/cell |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for metric in args.metrics:
        ref = {i: v[0] for i, v in results[reference][metric].items()}
        for name, res in results.items():
            scores = {i: v[0] for i, v in res[metric].items()}
            rho, tau = correlations(scores, accuracy)
            agree = stats.spearmanr([scores[i] for i in indices], [ref[i] for i in indices])
            ms = 1e3 * float(np.median([v[1] for v in res[metric].values()]))
            lines.append(
                f"| {metric} | {name} | {rho:.3f} | {tau:.3f} | {agree.statistic:.3f} | {ms:.0f} |"
            )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
