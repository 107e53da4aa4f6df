"""Threads on a shared machine: ms per NB201 cell (ES + LS in one call) at torch's default
thread count and at ``torch_threads=auto``, alone and with a second identical job beside it.

Protocol: ``bench_metrics.py`` on 6 NB201 cells, batch 64, 1 init, median ms per cell, each
configuration run as separate processes (2 at once for the "2 jobs" rows); this machine's
CPU. The "2 jobs" rows are what a multirun with ``launcher=joblib`` or a neighbour's job does.
Run: ``make bench`` (or ``python experiments/bench_threads.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from esnas.utils.threads import resolve_torch_threads, usable_cores

ROOT = Path(__file__).resolve().parents[1]
BENCH = [sys.executable, str(ROOT / "experiments" / "bench_metrics.py"), "--build", "nb201",
         "--models", "6", "--reps", "1", "--metrics", "entropic", "logsynflow",
         "--batch-size", "64", "--num-inits", "1"]  # fmt: skip


def _ms_per_cell(threads: int, jobs: int) -> list[float]:
    """Starts ``jobs`` benchmark processes at once; their ms per cell."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    procs = [
        subprocess.Popen(
            [*BENCH, "--threads", str(threads)], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(jobs)
    ]
    outs = [p.communicate()[0] for p in procs]
    return [float(re.search(r"\(all metrics in one call\) \| ([\d.]+)", o).group(1)) for o in outs]


def main() -> None:
    default = torch.get_num_threads()
    auto = resolve_torch_threads("auto")  # `make bench` unsets OMP_NUM_THREADS first
    print(f"{usable_cores()} usable cores; torch default {default} threads, auto {auto}")
    print("| threads | jobs at once | ms per cell (each job) |\n|---|---:|---|")
    for label, threads in ((f"torch default ({default})", default), (f"auto ({auto})", auto)):
        for jobs in (1, 2):
            ms = ", ".join(f"{v:.0f}" for v in _ms_per_cell(threads, jobs))
            print(f"| {label} | {jobs} | {ms} |")


if __name__ == "__main__":
    main()
