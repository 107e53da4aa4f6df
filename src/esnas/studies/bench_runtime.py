"""Runtime benchmarks: entry-point start-up, threads on a shared machine, training throughput.

Run: ``make bench`` (start-up and threads) and ``make bench-train``.

* ``bench_startup``: wall time of ``esnas-score --cfg job`` (cold interpreter, imports and
  composition) and of one toy task run under each logger backend, median of ``repeats`` runs.
* ``bench_threads``: ms per NB201 cell (ES + LS in one call; ``bench_metrics`` on 6 cells,
  batch 64, 1 init, each configuration its own processes, 2 at once for the "2 jobs" rows) at
  torch's default thread count and at ``torch_threads=auto``. The "2 jobs" rows are what a
  multirun with ``launcher=joblib`` or a neighbour's job does.
* ``bench_space_cost``: µs per analytic ``space.cost`` of each registered space (median of
  ``repeats`` passes over ``genomes`` sampled genomes): the search prices thousands of
  candidates, so the cost model must stay far below a model build (~100 ms for ESFormer).
* ``bench_train``: training and inference img/s and peak memory of ESFormers vs timm's mobile
  references, every model in its own process (clean peak-memory figures), same batch,
  resolution and precision, the recipe's AdamW step and channels_last. Peak memory is
  ``torch.cuda.max_memory_allocated`` on a GPU and the process's peak RSS on CPU.
"""

from __future__ import annotations

import csv
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from esnas.studies.base import register_study
from esnas.studies.common import results_path, root_dir
from esnas.utils.atomic import atomic_open
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import RunContext
from esnas.utils.threads import resolve_torch_threads, usable_cores

BIN = Path(sys.executable).parent
TRAIN_MODELS = ("esformer_xxs", "esformer_xs", "esformer_s", "mobilevit_xs", "edgenext_x_small")


def _median_seconds(argv: list[str], repeats: int, env: dict[str, str], cwd: Path) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=cwd)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@register_study("bench_startup")
def bench_startup(ctx: RunContext, repeats: int = 3) -> dict[str, float]:
    """Prints the median seconds of each start-up row."""
    root = root_dir(ctx)
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true", HF_HUB_OFFLINE="1")
    rows = [("esnas-score --cfg job", [str(BIN / "esnas-score"), "--cfg", "job"])]
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for logger in ("none", "csv", "wandb"):
            argv = [
                sys.executable,
                str(root / "tests/apps/toy_task.py"),
                f"logger={logger}",
                f"hydra.run.dir={tmp}/{logger}",
            ]
            rows.append((f"toy task, logger={logger}", argv))
        print(f"{'command':<28} median s (n={repeats}, {os.cpu_count()} CPUs)")
        for name, argv in rows:
            figures[f"seconds/{name}"] = seconds = _median_seconds(argv, repeats, env, root)
            print(f"{name:<28} {seconds:8.2f}")
    return figures


@register_study("bench_space_cost")
def bench_space_cost(ctx: RunContext, genomes: int = 2000, repeats: int = 3) -> dict[str, float]:
    """Prints µs per ``cost`` call of every registered space, unbudgeted genomes."""
    import random

    import esnas.spaces  # noqa: F401  # registers every space
    from esnas.spaces.base import SPACES

    print(f"| space | µs per cost (median of {repeats} x {genomes} genomes) |\n|---|---:|")
    figures = {}
    for name in SPACES.names():
        space = SPACES.get(name)()
        rng = random.Random(0)
        sample = [space.sample_any(rng) for _ in range(genomes)]
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for genome in sample:
                space.cost(genome)
            times.append((time.perf_counter() - t0) / genomes * 1e6)
        figures[f"us/{name}"] = statistics.median(times)
        print(f"| {name} | {figures[f'us/{name}']:.1f} |")
    return figures


def _ms_per_cell(threads: int, jobs: int, cwd: Path) -> list[float]:
    """Starts ``jobs`` ``bench_metrics`` processes at once; their ms per cell."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    argv = [str(BIN / "esnas-study"), "study=bench_metrics", "study.build=nb201",
            "study.models=6", "study.reps=1", "study.metrics=[entropic,logsynflow]",
            "study.batch_size=64", "study.num_inits=1", f"study.threads={threads}",
            "logger=none", "torch_threads=null"]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        procs = [
            subprocess.Popen(
                [*argv, f"hydra.run.dir={tmp}/{job}"],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
                cwd=cwd,
            )
            for job in range(jobs)
        ]
        outs = [p.communicate()[0] for p in procs]
    failed = [p.args for p in procs if p.returncode]
    if failed:
        raise RuntimeError(f"bench_metrics job(s) failed (their stderr is above): {failed}")
    pattern = r"\(all metrics in one call\) \| ([\d.]+)"
    return [float(re.search(pattern, o).group(1)) for o in outs]


@register_study("bench_threads")
def bench_threads(ctx: RunContext) -> dict[str, float]:
    """Prints ms per cell at torch's default threads and at ``auto``, 1 and 2 jobs at once
    (run with ``OMP_NUM_THREADS`` unset, as ``make bench`` does)."""
    default = torch.get_num_threads()
    auto = resolve_torch_threads("auto")
    print(f"{usable_cores()} usable cores; torch default {default} threads, auto {auto}")
    print("| threads | jobs at once | ms per cell (each job) |\n|---|---:|---|")
    figures = {}
    for label, threads in ((f"torch default ({default})", default), (f"auto ({auto})", auto)):
        for jobs in (1, 2):
            ms = _ms_per_cell(threads, jobs, root_dir(ctx))
            figures[f"ms/{threads}_threads/{jobs}_jobs"] = max(ms)
            print(f"| {label} | {jobs} | {', '.join(f'{v:.0f}' for v in ms)} |")
    return figures


def train_throughput(
    name: str, batch: int, res: int, steps: int, warmup: int, precision: str
) -> dict:
    """One model's train/inference img/s and peak memory, in this process (run it alone)."""
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


@register_study("bench_train")
def bench_train(
    ctx: RunContext,
    models: Sequence[str] = TRAIN_MODELS,
    batch_size: int = 32,
    resolution: int = 224,
    steps: int = 3,
    warmup: int = 1,
    precision: str = "auto",
    csv_out: str | None = None,
) -> dict[str, float]:
    """Prints one line per model (``precision``: auto, 32 or bf16; ``csv_out``: a CSV)."""
    if precision not in ("auto", "32", "bf16"):
        raise EsnasInputError(f"study.precision={precision!r} is invalid; valid: auto, 32, bf16")
    rows = []
    for name in models:
        call = json.dumps([name, batch_size, resolution, steps, warmup, precision])
        code = (
            "import json, sys; from esnas.studies.bench_runtime import train_throughput; "
            "print(json.dumps(train_throughput(*json.loads(sys.argv[1]))))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, call], capture_output=True, text=True, env=os.environ
        )
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
    if csv_out and rows:
        with atomic_open(results_path(ctx, csv_out), newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return {f"train_img_s/{r['model']}": float(r["train_img_s"]) for r in rows}
