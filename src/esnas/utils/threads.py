"""How many CPU threads torch uses: one setting, ``torch_threads``, for every entry point.

Why not torch's default (one thread per core): on a shared machine, or with several multirun
jobs on one host, OpenMP threads of different processes wait on each other. Measured on a
2-core machine (``make bench``, NB201, ES + LS): two jobs at 2 threads each took 0.97 s per
cell, at 1 thread 0.46-0.55 s; a single job alone is 1.3x faster at 2 threads (0.30 vs
0.40 s). ``auto`` therefore leaves half of the cores free and splits the rest among the
launcher's parallel jobs.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from esnas.utils.errors import EsnasInputError

__all__ = ["apply_torch_threads", "resolve_torch_threads"]


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. under SLURM or taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def parallel_jobs() -> int:
    """How many multirun jobs the Hydra launcher runs at once on this host (1 outside one)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return 1
    n_jobs = getattr(HydraConfig.get().launcher, "n_jobs", None)
    if n_jobs is None:
        return 1
    n_jobs = int(n_jobs)
    return usable_cores() if n_jobs < 0 else max(1, n_jobs)


def resolve_torch_threads(value: Any) -> int | None:
    """``torch_threads`` → a thread count; ``None`` / ``"default"`` keeps torch's own.

    ``auto``: ``OMP_NUM_THREADS`` when the environment sets it (a cluster job, joblib's
    workers), else ``max(1, cores // (2 x parallel jobs))``.
    """
    if value is None or value == "default":
        return None
    if value == "auto":
        env = os.environ.get("OMP_NUM_THREADS", "")
        if env.isdigit() and int(env) > 0:
            return int(env)
        return max(1, usable_cores() // (2 * parallel_jobs()))
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EsnasInputError(
            f"torch_threads must be a positive integer, 'auto' or null (torch's default), "
            f"got {value!r}"
        )
    return value


def apply_torch_threads(value: Any) -> int:
    """Sets torch's intra-op threads from ``torch_threads``; returns the count in force."""
    threads = resolve_torch_threads(value)
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
