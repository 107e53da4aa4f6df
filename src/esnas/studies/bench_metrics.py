"""Micro benchmark: milliseconds per ``score_model`` call of each metric on built models.

Why: DESIGN.md lists the costs to beat (FreeREA on 2 CPU cores, NB201, 3 inits: LogSynflow
~95-117 ms, NASWOT on a batch of 64 ~0.8-1.4 s). This measures ours on any model family and
also the two ways of leaving a model untouched (deepcopy vs in-place prepare/restore).

Run: ``make bench`` (``esnas-study study=bench_metrics study.build=nb201 ...``).

``build`` names a callable returning an ``nn.Module`` (``pkg.module:callable``); it is called as
``fn(i)`` for the i-th model when it takes an argument (e.g. "sample architecture i of
NB201"), else ``fn()``; ``nb201`` is a fixed spread of official NB201 cells, the default a small
conv net.

``freerea=<dir>`` also times FreeREA's own LogSynflow and NASWOT functions (a checkout of
github.com/NiccoloCavagnero/FreeREA; nothing of it is copied here) on the same models, inits,
batch and threads: per init, a Kaiming re-initialisation, then its
``compute_synflow_per_weight`` and ``compute_naswot_score`` on a noise batch.
"""

from __future__ import annotations

import copy
import csv
import importlib
import importlib.util
import inspect
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

import esnas.metrics  # noqa: F401  (registers every metric)
from esnas.metrics.base import METRICS, MetricContext, Probe, make_generator, score_model
from esnas.metrics.prepare import prepared, reinit_
from esnas.scoring.run import default_fitness
from esnas.studies.base import register_study
from esnas.studies.common import results_path
from esnas.utils.atomic import atomic_open
from esnas.utils.task import RunContext

PLAIN = "(plain forward: reinit + forward per init)"
FREEREA_PAIR = "FreeREA's own logsynflow + naswot"


def small_convnet(width: int = 16) -> nn.Module:
    """A CIFAR-shaped Conv-BN-ReLU net (3 stages, GAP, linear head), for a quick run."""
    layers: list[nn.Module] = []
    c_in = 3
    for i, c in enumerate((width, 2 * width, 4 * width)):
        layers += [nn.Conv2d(c_in, c, 3, padding=1, stride=1 if i == 0 else 2, bias=False)]
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
        c_in = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 10))


def load_builder(spec: str) -> Callable[[int], nn.Module]:
    """``"pkg.module:callable"`` → ``build(i)`` (callables without arguments ignore ``i``)."""
    module, _, name = spec.partition(":")
    fn = getattr(importlib.import_module(module), name)
    takes_index = len(inspect.signature(fn).parameters) > 0
    return fn if takes_index else (lambda i: fn())


def _ms(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return min(times)  # min over repeats: other processes only ever add time


def plain_forward(model: nn.Module, probe: Probe) -> None:
    """What any forward metric pays at least: per init, the re-initialisation and one forward
    of the probe's batch (BN as the probe says, no grad, no hooks)."""
    for init in range(probe.num_inits):
        reinit_(model, make_generator(probe.seed, init, "weights"), probe.linear_init)
        with prepared(model, torch.float32, probe.bn_mode), torch.inference_mode():
            ctx = MetricContext(probe, init, torch.float32, torch.device("cpu"), probe.input_shape)
            model(ctx.inputs)


def bench_one(
    model: nn.Module, metrics: Sequence[str], probe: Probe, reps: int = 3
) -> dict[str, float]:
    """Best-of-``reps`` ms per call of each metric (and of the overheads) on one model."""
    score_model(model, list(metrics), probe)  # warm-up (lazy imports, allocator)
    out = {name: _ms(lambda n=name: score_model(model, [n], probe), reps) for name in metrics}
    out["(all metrics in one call)"] = _ms(lambda: score_model(model, list(metrics), probe), reps)
    out[PLAIN] = _ms(lambda: plain_forward(model, probe), reps)
    fit, _ = default_fitness()
    out[f"(default fitness: {' + '.join(fit)}, one call)"] = _ms(
        lambda: score_model(model, fit, probe), reps
    )
    out["(deepcopy model)"] = _ms(lambda: copy.deepcopy(model), reps)

    def prep() -> None:
        with prepared(model, torch.float64, "identity", grads=True):
            pass

    out["(prepare+restore float64/identity)"] = _ms(prep, reps)
    return out


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def freerea_functions(path: str) -> dict[str, Callable[[nn.Module, Probe], None]]:
    """FreeREA's LogSynflow, NASWOT and the pair, as FreeREA runs them per genome: for each
    init, a re-initialisation (ours: the same Kaiming fan-out scheme as its ``init_model``,
    whose module imports its NAS-Bench APIs), then its metric function on a noise batch."""
    root = Path(path)
    sys.path.insert(0, str(root))  # its metrics/synflow.py imports its top-level utils.py
    synflow = _load(root / "metrics" / "synflow.py", "freerea_synflow")
    naswot = _load(root / "metrics" / "naswot.py", "freerea_naswot")

    def run(*fns: Callable[..., object]) -> Callable[[nn.Module, Probe], None]:
        def call(model: nn.Module, probe: Probe) -> None:
            x = torch.randn(probe.batch_size, *probe.input_shape)
            for init in range(probe.num_inits):
                reinit_(model, make_generator(probe.seed, init, "weights"), "kaiming")
                for fn in fns:
                    fn(model, x, None, torch.device("cpu"))

        return call

    ls, nw = synflow.compute_synflow_per_weight, naswot.compute_naswot_score
    return {
        "FreeREA's own logsynflow": run(ls),
        "FreeREA's own naswot": run(nw),
        FREEREA_PAIR: run(ls, nw),
    }


def bench(
    build: Callable[[int], nn.Module],
    metrics: Sequence[str],
    probe: Probe,
    models: int = 3,
    reps: int = 3,
    freerea: str | None = None,
) -> list[dict[str, object]]:
    """Median over ``models`` built models of the best-of-``reps`` ms per call, per metric."""
    rows: dict[str, list[float]] = {"(build model)": []}
    theirs = freerea_functions(freerea) if freerea else {}
    for i in range(models):
        t = time.perf_counter()
        model = build(i)
        rows["(build model)"].append((time.perf_counter() - t) * 1000)
        for k, v in bench_one(model, metrics, probe, reps).items():
            rows.setdefault(k, []).append(v)
        for k, fn in theirs.items():
            rows.setdefault(k, []).append(_ms(lambda f=fn, m=model: f(m, probe), reps))
    return [{"what": k, "ms": round(statistics.median(v), 2)} for k, v in rows.items()]


def _builder(build: str) -> Callable[[int], nn.Module]:
    if build == "small_convnet":
        return lambda i: small_convnet()
    if build == "nb201":  # the i-th of a fixed spread of official NB201 cells
        from esnas.spaces import NB201Space

        space = NB201Space("cifar10")
        return lambda i: space.build(space.from_index((7919 * i) % space.num_archs))
    return load_builder(build)


def table(rows: list[dict[str, object]]) -> str:
    """The markdown table: ms per call and its ratio to the plain forward and FreeREA's pair."""
    ms = {r["what"]: r["ms"] for r in rows}
    refs = [(f"× {k.strip('()').split(':')[0]}", ms[k]) for k in (PLAIN, FREEREA_PAIR) if k in ms]
    lines = ["| what | ms per call |" + "".join(f" {name} |" for name, _ in refs)]
    lines.append("|---|---:|" + "---:|" * len(refs))
    for r in rows:
        ratios = "".join(f" {r['ms'] / ref:.2f} |" for _, ref in refs)
        lines.append(f"| {r['what']} | {r['ms']:.0f} |{ratios}")
    return "\n".join(lines)


@register_study("bench_metrics")
def bench_metrics(
    ctx: RunContext,
    build: str = "small_convnet",
    metrics: Sequence[str] | None = None,
    input_shape: Sequence[int] = (3, 32, 32),
    batch_size: int = 64,
    num_inits: int = 3,
    models: int = 3,
    reps: int = 3,
    threads: int = 0,
    device: str | None = None,
    csv_out: str | None = None,
    freerea: str | None = None,
) -> dict[str, float]:
    """Prints a markdown table of ms per call (``threads`` 0: the run's ``torch_threads``;
    ``metrics`` null: every registered one; ``csv_out``: also a CSV)."""
    if threads:
        torch.set_num_threads(threads)
    probe = Probe(
        input_shape=tuple(input_shape), batch_size=batch_size, num_inits=num_inits, device=device
    )
    rows = bench(_builder(build), list(metrics or METRICS.names()), probe, models, reps, freerea)
    print(f"probe: {probe}; torch threads: {torch.get_num_threads()}; models: {models}")
    print(table(rows))
    if csv_out:
        with atomic_open(results_path(ctx, csv_out), newline="") as f:
            w = csv.DictWriter(f, fieldnames=["what", "ms"])
            w.writeheader()
            w.writerows(rows)
    return {f"ms/{r['what']}": float(r["ms"]) for r in rows}
