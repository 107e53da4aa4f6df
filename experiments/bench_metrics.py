"""Micro benchmark: milliseconds per ``score_model`` call of each metric on built models.

Why: DESIGN.md lists the costs to beat (FreeREA on 2 CPU cores, NB201, 3 inits: LogSynflow
~95-117 ms, NASWOT on a batch of 64 ~0.8-1.4 s). This measures ours on any model family and
also the two ways of leaving a model untouched (deepcopy vs in-place prepare/restore).

Usage::

    PYTHONPATH=src python experiments/bench_metrics.py                       # small conv net
    PYTHONPATH=src python experiments/bench_metrics.py --build pkg.mod:fn --models 20 \
        --input-shape 3 32 32 --csv experiments/results/bench_metrics.csv

``--build`` names a callable returning an ``nn.Module``; it is called as ``fn(i)`` for the
i-th model when it takes an argument (e.g. "sample architecture i of NB201"), else ``fn()``.

``--freerea DIR`` also times FreeREA's own LogSynflow and NASWOT functions (a checkout of
github.com/NiccoloCavagnero/FreeREA; nothing of it is copied here) on the same models, inits,
batch and threads: per init, a Kaiming re-initialisation, then its
``compute_synflow_per_weight`` and ``compute_naswot_score`` on a noise batch.
"""

from __future__ import annotations

import argparse
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


def main(argv: Sequence[str] | None = None) -> None:
    """Parses arguments, runs :func:`bench` and prints a markdown table (and a CSV)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="__default__", help="pkg.module:callable, or nb201")
    ap.add_argument("--metrics", nargs="*", default=None, help="default: every registered one")
    ap.add_argument("--input-shape", nargs=3, type=int, default=(3, 32, 32))
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--num-inits", type=int, default=3)
    ap.add_argument("--models", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch default")
    ap.add_argument("--device", default=None)
    ap.add_argument("--csv", default=None)
    ap.add_argument("--freerea", default=None, help="a FreeREA checkout: time its own functions")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.build == "__default__":
        build = lambda i: small_convnet()  # noqa: E731
    elif args.build == "nb201":  # the i-th of a fixed spread of official NB201 cells
        from esnas.spaces import NB201Space

        space = NB201Space("cifar10")
        build = lambda i: space.build(space.from_index((7919 * i) % space.num_archs))  # noqa: E731
    else:
        build = load_builder(args.build)
    probe = Probe(
        input_shape=tuple(args.input_shape),
        batch_size=args.batch_size,
        num_inits=args.num_inits,
        device=args.device,
    )
    metrics = args.metrics or METRICS.names()
    rows = bench(build, metrics, probe, args.models, args.reps, args.freerea)
    print(f"probe: {probe}; torch threads: {torch.get_num_threads()}; models: {args.models}")
    ms = {r["what"]: r["ms"] for r in rows}
    refs = [(f"× {k.strip('()').split(':')[0]}", ms[k]) for k in (PLAIN, FREEREA_PAIR) if k in ms]
    print("| what | ms per call |" + "".join(f" {name} |" for name, _ in refs))
    print("|---|---:|" + "---:|" * len(refs))
    for r in rows:
        ratios = "".join(f" {r['ms'] / ref:.2f} |" for _, ref in refs)
        print(f"| {r['what']} | {r['ms']:.0f} |{ratios}")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["what", "ms"])
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
