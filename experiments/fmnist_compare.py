"""Same-recipe comparison on the Fashion-MNIST 12k subset: ESFormers vs timm mobile models.

Why: ImageNet is out of reach here; this trains every model with one identical recipe and
epoch budget (``experiment=fmnist_esformer_xxs``, only ``model`` and ``seed`` change) and
writes test accuracy mean ± std, params, MACs at the training resolution and wall time.
A small stand-in for ImageNet, not a claim about it.

Usage::

    python experiments/fmnist_compare.py                        # make compare-fmnist
    python experiments/fmnist_compare.py --seeds 0 --models esformer_xxs mobilevit_xxs \
        --extra trainer.max_epochs=1 --out /tmp/cmp.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from esnas.utils.task import short_commit

ROOT = Path(__file__).resolve().parents[1]
MODELS = (
    "esformer_xxs",
    "esformer_xs",
    "mobilevit_xxs",
    "mobilevit_xs",
    "edgenext_xx_small",
    "edgenext_x_small",
)


def _macs(name: str, res: int) -> int:
    import timm

    import esnas.models.esformer  # noqa: F401
    from esnas.train.evaluate import count_macs

    return count_macs(timm.create_model(name, num_classes=10), (3, res, res))


def run_one(name: str, seed: int, out_dir: Path, extra: list[str]) -> dict:
    """One ``esnas-train`` run (a fresh process) unless ``run_dir`` holds a completed one; its
    summary.json figures plus the task's wall time."""
    run_dir = out_dir / f"{name}_s{seed}"
    summary = run_dir / "summary.json"
    done = json.loads(summary.read_text()) if summary.exists() else {}
    if done.get("status") != "completed":  # else finished earlier: the table resumes
        cmd = [str(Path(sys.executable).parent / "esnas-train"), "experiment=fmnist_esformer_xxs"]
        cmd += [f"model.name={name}", f"seed={seed}", "logger=csv", "trainer_logger=csv"]
        cmd += ["trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}", *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        if proc.returncode:
            raise RuntimeError(f"{name} seed {seed} failed:\n{proc.stderr[-2000:]}")
        done = json.loads(summary.read_text())
    return {**done["figures"], "wall_s": done["wall_time_s"]}


def _fmt(values: list[float], scale: float = 100.0) -> str:
    vals = [v * scale for v in values]
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{statistics.mean(vals):.2f} ± {sd:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--extra", nargs="*", default=[], help="more esnas-train overrides")
    ap.add_argument("--out", default=str(ROOT / "experiments/results/fmnist_compare.md"))
    ap.add_argument("--runs-dir", default=str(ROOT / "logs/fmnist_compare"))
    args = ap.parse_args()
    extra = [f"data.img_size={args.resolution}", *args.extra]
    commit, t0 = short_commit(), time.perf_counter()
    rows = []
    for name in args.models:
        runs = [run_one(name, s, Path(args.runs_dir), extra) for s in args.seeds]
        rows.append(
            {
                "model": name,
                "test_acc1": _fmt([r["test/acc1"] for r in runs]),
                "val_acc1_best": _fmt([r["val/acc1_best"] for r in runs]),
                "params_m": runs[0]["params"] / 1e6,
                "macs_m": _macs(name, args.resolution) / 1e6,
                "wall_min": statistics.mean(r["wall_s"] for r in runs) / 60,
            }
        )
        print(rows[-1], flush=True)
    lines = [
        "# Fashion-MNIST 12k: same recipe, ESFormer vs timm mobile models",
        "",
        "A small stand-in for ImageNet, **not** a claim about ImageNet: 9k training images "
        f"(1k held out for validation), 2k test images, upsampled to {args.resolution} px, "
        "3 channels, 10 classes. Every model: `esnas-train experiment=fmnist_esformer_xxs "
        f"model.name=<model>` {' '.join(extra)} (same optimiser, schedule, EMA, epochs); "
        f"seeds {', '.join(map(str, args.seeds))}; test accuracy of the best-on-validation "
        "checkpoint (EMA weights). MACs: FlopCounterMode/2 at the training resolution.",
        "",
        "| model | test top-1 % (mean ± std) | best val top-1 % | params (M) | MACs (M) "
        "| wall time per run (min) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['test_acc1']} | {r['val_acc1_best']} | {r['params_m']:.2f} "
        f"| {r['macs_m']:.1f} | {r['wall_min']:.1f} |"
        for r in rows
    ]
    lines += [
        "",
        f"Command: `python experiments/fmnist_compare.py {' '.join(sys.argv[1:])}` (`make "
        f"compare-fmnist`), commit {commit}, {date.today()}; wall time of this invocation "
        f"{(time.perf_counter() - t0) / 60:.1f} min (runs finished earlier in `--runs-dir` are "
        "reused, not retrained). Machine: a shared 2-core CPU, 1 torch thread per run.",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
