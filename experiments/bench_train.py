"""Training and inference throughput (img/s) and peak memory of ESFormers vs timm references.

Why: a searched model is only useful if it trains and runs as fast as the mobile models of
its budget. Every model runs in its own process (clean peak-memory figures), on the same
machine, batch, resolution and precision, with the recipe's AdamW step and channels_last.

Usage::

    python experiments/bench_train.py                                  # CPU-sized defaults
    python experiments/bench_train.py --batch-size 256 --resolution 224 --steps 20  # a GPU
    python experiments/bench_train.py --csv experiments/results/bench_train.csv

Peak memory is ``torch.cuda.max_memory_allocated`` on a GPU and the process's peak RSS on CPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time

MODELS = ("esformer_xxs", "esformer_xs", "esformer_s", "mobilevit_xs", "edgenext_x_small")


def _bench_one(name: str, batch: int, res: int, steps: int, warmup: int, precision: str) -> dict:
    import timm
    import torch

    import esnas.models.esformer  # noqa: F401  (registers esformer_*)

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if precision == "auto":
        precision = "bf16" if dev.type == "cuda" else "32"
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    net = timm.create_model(name, num_classes=1000).to(dev, memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, res, res, device=dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def timed(fn) -> float:
        for _ in range(warmup):
            fn()
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        return batch * steps / (time.perf_counter() - t0)

    def train_step() -> None:
        with amp:
            loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def infer() -> None:
        with torch.inference_mode(), amp:
            net(x)

    net.train()
    train_ips = timed(train_step)
    net.eval()
    infer_ips = timed(infer)
    if dev.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
        device = torch.cuda.get_device_name()
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        device = f"cpu x{torch.get_num_threads()}"
    return {
        "model": name,
        "params_m": round(sum(p.numel() for p in net.parameters()) / 1e6, 3),
        "train_img_s": round(train_ips, 1),
        "infer_img_s": round(infer_ips, 1),
        "peak_mem_mb": round(peak_mb, 1),
        "batch": batch,
        "resolution": res,
        "precision": precision,
        "device": device,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--precision", default="auto", choices=("auto", "32", "bf16"))
    ap.add_argument("--csv", default=None)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child-process mode
    args = ap.parse_args()
    if args.one:
        row = _bench_one(
            args.one, args.batch_size, args.resolution, args.steps, args.warmup, args.precision
        )
        print(json.dumps(row))
        return
    rows = []
    for name in args.models:
        cmd = [sys.executable, __file__, "--one", name, "--batch-size", str(args.batch_size)]
        cmd += ["--resolution", str(args.resolution), "--steps", str(args.steps)]
        cmd += ["--warmup", str(args.warmup), "--precision", args.precision]
        out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        if out.returncode:
            print(f"{name}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(
            f"{r['model']:<18} {r['params_m']:>6.2f}M  train {r['train_img_s']:>8.1f} img/s  "
            f"infer {r['infer_img_s']:>8.1f} img/s  peak {r['peak_mem_mb']:>8.1f} MB  "
            f"({r['device']}, batch {r['batch']}, {r['resolution']} px, {r['precision']})",
            flush=True,
        )
    if args.csv and rows:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
