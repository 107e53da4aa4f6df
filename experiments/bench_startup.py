"""Start-up and per-run overhead of the entry points (what every multirun job pays).

Protocol: wall time of `esnas-score --cfg job` (cold interpreter, imports + composition), and
of one toy task run under each logger backend, median of N runs, on this machine's CPU.
Run: `make bench` (or `python experiments/bench_startup.py --repeats 5`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _median_seconds(argv: list[str], repeats: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true", HF_HUB_OFFLINE="1")
    rows = [("esnas-score --cfg job", [str(BIN / "esnas-score"), "--cfg", "job"])]
    with tempfile.TemporaryDirectory() as tmp:
        for logger in ("none", "csv", "wandb"):
            argv = [
                sys.executable,
                str(ROOT / "tests/apps/toy_task.py"),
                f"logger={logger}",
                f"hydra.run.dir={tmp}/{logger}",
            ]
            rows.append((f"toy task, logger={logger}", argv))
        print(f"{'command':<28} median s (n={args.repeats}, {os.cpu_count()} CPUs)")
        for name, argv in rows:
            print(f"{name:<28} {_median_seconds(argv, args.repeats, env):8.2f}")


if __name__ == "__main__":
    main()
