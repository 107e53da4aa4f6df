"""Entropic Score sensitivity: NB201 rank correlation against the probe's inits, batch and input.

Why: Entropic Score is computed on one random probe batch and freshly initialised weights, so
its ranking carries probe noise. This scores the same ``--cells`` random CIFAR-10 cells with
one factor changed at a time from the fast probe (batch 16, 1 init, Gaussian noise):

* inits 1 / 3 / 5 / 10 at batch 16 (scores averaged over the re-initialisations);
* batch 16 / 64 / 128 at 1 init;
* input: Gaussian noise vs real images (Fashion-MNIST test images, a different slice per
  seed; CIFAR images are not shipped), at batch 16 and 64;

each under ``--seeds`` probe seeds (the seed draws the noise and the weights), and reports
Spearman ρ against NATS test accuracy as mean ± std over seeds, the rank agreement between
seeds, and the median cost per cell. The default probe (64 × 3) is scored with seed 0 as the
reference row.

Run: ``make reproduce-es-sensitivity`` (or this file with ``--help``); scores go through the
persistent score cache, shared with the other NB201 tables.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nb201_correlation import PROBE, ROOT, correlations, real_batch, score_cells, scoring_hours

from esnas.scoring import ScoreCache
from esnas.spaces import NB201GroundTruth, NB201Space
from esnas.utils.task import short_commit

FAST = {"batch_size": 16, "num_inits": 1}
# factor -> [(level label, probe overrides on top of the fast probe)]
FACTORS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "inits (batch 16)": [(str(n), {"num_inits": n}) for n in (1, 3, 5, 10)],
    "batch (1 init)": [(str(b), {"batch_size": b}) for b in (16, 64, 128)],
    "input (1 init)": [
        (f"{kind} b{b}", {"batch_size": b, "input": kind}) for b in (16, 64)
        for kind in ("noise", "real")
    ],
}  # fmt: skip


def probe_for(over: dict[str, Any], seed: int, hw: int) -> dict[str, Any]:
    """The probe config of one level and seed; real input takes its own image slice per seed."""
    cfg = {**PROBE, **FAST, **over, "seed": seed}
    if cfg["input"] == "real":
        n = cfg["batch_size"]
        cfg |= {"input": "batch", "batch": real_batch(hw, n, offset=seed * n)}
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3, help="probe seeds 0..N-1")
    parser.add_argument("--sample-seed", type=int, default=0, help="which cells are drawn")
    parser.add_argument("--metric", default="entropic")
    parser.add_argument("--cache", default=str(ROOT / ".score_cache/scores.sqlite"))
    parser.add_argument("--out", default=str(ROOT / "experiments/results/es_sensitivity"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    indices = random.Random(args.sample_seed).sample(range(NB201Space.num_archs), args.cells)
    space = NB201Space("cifar10")
    accuracy = dict(enumerate(NB201GroundTruth.load().test_accuracies("cifar10")))
    cache = ScoreCache(args.cache)
    hw = space.input_shape[-1]
    rows = []
    for (factor, levels), seed in itertools.product(FACTORS.items(), range(args.seeds)):
        for level, over in levels:
            cfg = probe_for(over, seed, hw)
            res = score_cells(space, indices, {args.metric: {}}, cache, probe_cfg=cfg)
            rows.append((factor, level, seed, res[args.metric]))
    default = score_cells(space, indices, {args.metric: {}}, cache, probe_cfg=PROBE)
    cache.close()
    write(args, indices, accuracy, rows, default[args.metric], time.perf_counter() - t0)


def write(args, indices, accuracy, rows, default, wall: float) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Entropic Score sensitivity to the probe (NB201, CIFAR-10, {args.cells} cells)",
        "",
        f"Command: `python experiments/es_sensitivity.py {' '.join(sys.argv[1:])}` (`make "
        f"reproduce-es-sensitivity`; commit {short_commit()}, wall time {wall / 60:.1f} min; "
        "scores from the persistent score cache where present; they took "
        f"{scoring_hours(r for *_, r in rows):.1f} CPU-hours when first "
        "computed).",
        "",
        f"Protocol: {args.cells} random NB201 cells (sample seed {args.sample_seed}, the first "
        "of the correlation table's draw), metric `" + args.metric + "` with its config "
        "defaults. One factor changes at a time from the fast probe (Gaussian noise, batch 16, "
        f"1 init); each level is scored under probe seeds 0..{args.seeds - 1} (the seed draws "
        "the noise batch and the weights). ρ: Spearman against NATS 200-epoch CIFAR-10 test "
        "accuracy, mean ± std over seeds; `seed agreement`: mean Spearman between the scores "
        "of two seeds on the same cells (1 = the ranking ignores the seed). Real input: "
        "Fashion-MNIST test images upsampled to 32 px (standardised, 3 channels), a different "
        "slice per seed. ms/cell: median, one torch thread, timed when first scored on a "
        "shared 2-core CPU.",
        "",
        "| factor | level | ρ (mean ± std) | seed agreement | ms/cell |",
        "|---|---|---:|---:|---:|",
    ]
    grouped: dict[tuple[str, str], list[dict[int, tuple[float, float]]]] = {}
    for factor, level, _seed, res in rows:
        grouped.setdefault((factor, level), []).append(res)
    summary = []
    for (factor, level), runs in grouped.items():
        rhos = [correlations({i: v[0] for i, v in r.items()}, accuracy)[0] for r in runs]
        agree = [
            stats.spearmanr([a[i][0] for i in indices], [b[i][0] for i in indices]).statistic
            for a, b in itertools.combinations(runs, 2)
        ]
        ms = 1e3 * float(np.median([v[1] for r in runs for v in r.values()]))
        sd = statistics.stdev(rhos) if len(rhos) > 1 else 0.0
        agr = f"{statistics.mean(agree):.3f}" if agree else "–"
        lines.append(
            f"| {factor} | {level} | {statistics.mean(rhos):.3f} ± {sd:.3f} | {agr} | {ms:.0f} |"
        )
        summary.append((factor, level, statistics.mean(rhos), sd))
    rho_default = correlations({i: v[0] for i, v in default.items()}, accuracy)[0]
    ms_default = 1e3 * float(np.median([v[1] for v in default.values()]))
    lines.append(f"| reference | default probe 64 × 3, seed 0 | {rho_default:.3f} | – "
                 f"| {ms_default:.0f} |")  # fmt: skip
    lines += ["", f"Plot: `{out.name}.png`.", ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    plot(summary, out.with_suffix(".png"))
    print("\n".join(lines))


def plot(summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    factors = list(dict.fromkeys(f for f, *_ in summary))
    fig, axes = plt.subplots(1, len(factors), figsize=(4 * len(factors), 3.2), sharey=True)
    for ax, factor in zip(np.atleast_1d(axes), factors, strict=True):
        pts = [(lvl, m, s) for f, lvl, m, s in summary if f == factor]
        ax.errorbar(range(len(pts)), [m for _, m, _ in pts], yerr=[s for *_, s in pts],
                    fmt="o-", capsize=4)  # fmt: skip
        ax.set_xticks(range(len(pts)), [lvl for lvl, *_ in pts])
        ax.set_title(factor)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("Spearman ρ vs CIFAR-10 test acc")
    fig.suptitle("Entropic Score: ρ on NB201 per probe setting (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
