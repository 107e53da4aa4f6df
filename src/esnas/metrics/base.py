"""Probe, metric registry and the scoring runner (re-init and preparation: prepare.py).

Why one runner: every metric declares what it needs (gradients, float64, a BN mode, data) when
it registers, so :func:`score_model` re-initialises the model in place, prepares it once per
requirement set, restores it afterwards and averages over re-initialisations; metrics only
compute one float on an already prepared model and never know which space built it.

Forward sharing: a metric that only reads activations of one forward on the probe's inputs
may be a generator that sets up its hooks, ``yield``s once, and returns its score after the
forward. :func:`score_model` then runs *one* forward for every such metric of a preparation
(Entropic Score, MeCo and AZ-NAS's expressivity / progressivity read the same pass), instead
of one each; on its own, a generator metric gets a forward of its own. Values are the same.

Non-finite results: a metric whose value is NaN or ±inf on any re-initialisation scores its
registered ``floor`` (``0.0`` for metrics that are non-negative by construction, :data:`FLOOR`
= ``-1e30`` otherwise), a finite value that ranks at the bottom. Use :func:`is_floor` to drop
such values before normalising scores by their max |value| over a population.

Unusual values are said, never silent: a metric that knows why its value is NaN, saturated or
blind on this model (it hooked nothing, its count hit a cap) calls ``ctx.warn(reason)``, and
any non-finite value is reported too; :func:`score_model` then says it in one line per label
(``log.warning`` and a :class:`MetricWarning`, the convention of ``warn_time_limit``; each
distinct line is logged once per process, so a space of thousands of cells is not flooded).
"""

from __future__ import annotations

import inspect
import math
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from esnas.metrics.prepare import (
    BN_MODES,
    LINEAR_INITS,
    check_choice,
    first_tensor,
    prepared,
    reinit_,
    weight_modules,
)
from esnas.utils.console import get_logger
from esnas.utils.errors import EsnasInputError, as_number
from esnas.utils.floor import FLOOR, is_floor
from esnas.utils.registry import Registry
from esnas.utils.schema import signature_options, signature_schema

__all__ = [
    "FLOOR",
    "METRICS",
    "MetricContext",
    "MetricInfo",
    "MetricWarning",
    "Probe",
    "first_tensor",
    "is_floor",
    "make_generator",
    "prepared",
    "register_metric",
    "reinit_",
    "resolve_metrics",
    "score_model",
    "weight_modules",
]

DTYPES = {"float32": torch.float32, "float64": torch.float64}
INPUTS = ("noise", "ones", "batch")
log = get_logger(__name__)
_LOGGED: set[str] = set()  # lines already logged by this process (see warn_metric)


class MetricWarning(RuntimeWarning):
    """A metric's value on a model is NaN, saturated or blind: its rank there means little."""


def warn_metric(message: str) -> None:
    """Says ``message`` in the log (once per process: a search scores thousands of models
    with the same defect) and as a :class:`MetricWarning` (Python shows each text once)."""
    if message not in _LOGGED:
        _LOGGED.add(message)
        log.warning(message)
    warnings.warn(message, MetricWarning, stacklevel=4)  # score_model's caller


@dataclass
class Probe:
    """What a metric's model sees: input shape and kind, batch size, #inits, dtype, BN, seed.

    ``input="batch"`` uses ``batch`` (a real ``(N, C, H, W)`` tensor, ``labels`` optional) and
    ignores ``batch_size``. ``dtype``/``bn_mode`` apply to metrics that do not force their own
    (LogSynflow forces float64 and identity BN). ``device=None`` keeps the model's device.
    ``linear_init="trunc_normal"`` re-initialises ``nn.Linear`` like a transformer (std .02).
    """

    input_shape: tuple[int, ...] | None = None
    batch_size: int = 64
    input: str = "noise"
    num_inits: int = 3
    dtype: str = "float32"
    bn_mode: str = "train"
    seed: int = 0
    device: str | None = None
    linear_init: str = "kaiming"
    batch: torch.Tensor | None = field(default=None, repr=False, compare=False)
    labels: torch.Tensor | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_choice("probe.input", self.input, INPUTS)
        check_choice("probe.dtype", self.dtype, tuple(DTYPES))
        check_choice("probe.bn_mode", self.bn_mode, BN_MODES)
        check_choice("probe.linear_init", self.linear_init, LINEAR_INITS)
        self.batch_size = as_number("probe.batch_size", self.batch_size, int, 1)
        self.num_inits = as_number("probe.num_inits", self.num_inits, int, 1)
        self.seed = as_number("probe.seed", self.seed, int, 0)
        if self.input == "batch":
            if not isinstance(self.batch, torch.Tensor) or self.batch.dim() < 2:
                raise EsnasInputError(
                    "probe.input='batch' needs probe.batch, a (N, C, H, W) tensor"
                )
            if self.input_shape is None:
                self.input_shape = tuple(self.batch.shape[1:])
        if self.input_shape is not None:
            self.input_shape = tuple(int(v) for v in self.input_shape)


@dataclass(frozen=True)
class MetricInfo:
    """A registered metric and what it needs from the runner.

    Attributes:
        name: registry name.
        fn: ``fn(model, ctx, **options) -> float``, or a class built with the options whose
            instances are called as ``obj(model, ctx)``.
        needs_grad: runs with autograd; otherwise under ``torch.inference_mode``.
        dtype: forced dtype name, ``None`` = the probe's.
        bn: forced BN mode, ``None`` = the probe's.
        data: reads the probe's inputs (``False``: makes its own, e.g. all-ones).
        per_init: depends on the weights; ``False`` computes it once (params, flops).
        floor: the finite bottom value returned when the metric is non-finite.
        revision: bumped when a fix changes the metric's values, so score caches stop
            reusing the old ones (of this metric only; 0 keeps the cache keys it always had).
    """

    name: str
    fn: Callable[..., Any]
    needs_grad: bool = False
    dtype: str | None = None
    bn: str | None = None
    data: bool = True
    per_init: bool = True
    floor: float = FLOOR
    revision: int = 0

    def _target(self) -> Callable[..., Any]:
        return self.fn.__init__ if inspect.isclass(self.fn) else self.fn

    def options(self) -> dict[str, Any]:
        """The metric's options and their defaults: its signature after ``(model, ctx)``."""
        return signature_options(self._target(), 1 if inspect.isclass(self.fn) else 2)

    def options_schema(self) -> type:
        """The options as a dataclass typed from the signature: the metric's config schema
        (``metric_options.<name>`` in Hydra), so a mistyped option or value fails at compose.

        Why not a YAML file per metric: it restated the signature and had to be kept equal to
        it. Annotations OmegaConf cannot hold (tuples, unions of several types) become ``Any``.
        """
        title = "".join(part.title() for part in self.name.split("_"))
        skip = 1 if inspect.isclass(self.fn) else 2
        return signature_schema(self._target(), skip, f"{title}Options")

    def bind(
        self, options: Mapping[str, Any] | None
    ) -> Callable[[nn.Module, MetricContext], float]:
        """The metric with ``options`` applied; unknown options are a one-line error."""
        options = dict(options or {})
        valid = self.options()
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise EsnasInputError(
                f"metric {self.name!r} has no option(s) {', '.join(unknown)}; "
                f"valid: {', '.join(valid) or '(none)'}"
            )
        if inspect.isclass(self.fn):
            return self.fn(**options)
        return lambda model, ctx: self.fn(model, ctx, **options)


METRICS: Registry[MetricInfo] = Registry("metric")


def register_metric(
    name: str,
    *,
    needs_grad: bool = False,
    dtype: str | None = None,
    bn: str | None = None,
    data: bool = True,
    per_init: bool = True,
    floor: float = FLOOR,
    revision: int = 0,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a metric under ``name`` with its requirements (see MetricInfo)."""
    if dtype is not None:
        check_choice("dtype", dtype, tuple(DTYPES))
    if bn is not None:
        check_choice("bn", bn, BN_MODES)

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        info = MetricInfo(name, fn, needs_grad, dtype, bn, data, per_init, float(floor), revision)
        METRICS.register(name)(info)
        return fn

    return decorator


def _seed(seed: int, init: int, stream: str) -> int:
    """A 63-bit seed per (probe seed, init, stream): streams never overlap across seeds."""
    ss = np.random.SeedSequence([int(seed), int(init), zlib.crc32(stream.encode())])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def make_generator(seed: int, init: int, stream: str, device: Any = "cpu") -> torch.Generator:
    """A ``torch.Generator`` for one named random stream of one re-initialisation."""
    return torch.Generator(device=device).manual_seed(_seed(seed, init, stream))


@dataclass
class MetricContext:
    """What a metric gets besides the model: inputs, labels, generators and a shared cache.

    ``cache`` is shared by the metrics of one preparation of one init (SynFlow and LogSynflow
    share one backward pass; grad_norm and SNIP share one loss gradient). ``label`` is the
    metric the runner is driving now, so :meth:`warn` files a reason under the right label;
    ``notes`` (``{label: [reason, ...]}``) outlives the inits and is reported once at the end.
    """

    probe: Probe
    init: int
    dtype: torch.dtype
    device: torch.device
    input_shape: tuple[int, ...]
    cache: dict[str, Any] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # per init, across preparations
    notes: dict[str, list[str]] = field(default_factory=dict)  # across inits
    label: str = ""

    def warn(self, reason: str) -> None:
        """Files why the current metric's value on this model is unusual (NaN, a cap hit,
        nothing hooked): :func:`score_model` reports it, one line per label, at the end."""
        reasons = self.notes.setdefault(self.label, [])
        if reason not in reasons:
            reasons.append(reason)

    def generator(self, stream: str) -> torch.Generator:
        """A CPU generator seeded from (probe.seed, init, stream), independent of call order."""
        return make_generator(self.probe.seed, self.init, stream)

    @property
    def inputs(self) -> torch.Tensor:
        """The probe's batch for this init (noise/ones/real batch) in the prepared dtype."""
        if "inputs" not in self.shared:
            p = self.probe
            shape = (p.batch_size, *self.input_shape)
            with torch.inference_mode(False):  # a normal tensor, usable by gradient metrics
                if p.input == "batch":
                    x = p.batch.detach()
                elif p.input == "ones":
                    x = torch.ones(shape)
                else:
                    x = torch.randn(shape, generator=self.generator("inputs"))
            self.shared["inputs"] = x
        return self.shared["inputs"].to(self.device, self.dtype)

    def ones(self, batch: int = 1) -> torch.Tensor:
        """An all-ones input of the data shape (data-free metrics such as SynFlow)."""
        return torch.ones((batch, *self.input_shape), device=self.device, dtype=self.dtype)

    def labels(self, num_classes: int, n: int) -> torch.Tensor:
        """The probe's labels, or ``n`` random labels drawn from this init's label stream."""
        if self.probe.labels is not None and self.probe.input == "batch":
            return self.probe.labels[:n].to(self.device)
        g = self.generator("labels")
        return torch.randint(num_classes, (n,), generator=g).to(self.device)


MetricsArg = Mapping[str, Mapping[str, Any] | None] | Sequence[str | Mapping[str, Any]]


@dataclass(frozen=True)
class _Bound:
    label: str
    info: MetricInfo
    call: Callable[[nn.Module, MetricContext], float]


def resolve_metrics(metrics: MetricsArg) -> list[_Bound]:
    """Turns ``[name, ...]`` or ``{label: options}`` into bound metrics.

    A label ``"entropic/gaussian"`` runs registry metric ``entropic`` and reports under the
    full label, so one metric can run with several option sets in one pass.
    """
    out = []
    for label, options in metric_items(metrics):
        info = METRICS.get(metric_name(label))
        out.append(_Bound(label, info, info.bind(options)))
    return out


def metric_items(metrics: MetricsArg) -> list[tuple[str, Mapping[str, Any] | None]]:
    """``(label, options or None)`` pairs of a metrics argument: a name, a ``{label: options}``
    mapping, or a list of names and such mappings (the ``metrics:`` config key's grammar)."""
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        return [(str(k), v) for k, v in metrics.items()]
    items: list[tuple[str, Mapping[str, Any] | None]] = []
    for m in metrics:
        items += [(str(k), v) for k, v in m.items()] if isinstance(m, Mapping) else [(str(m), None)]
    return items


def metric_name(label: str) -> str:
    """The registry name a label runs: ``entropic/gaussian`` → ``entropic``."""
    return str(label).split("/", 1)[0]


def _aggregate(values: list[float], floor: float) -> float:
    if not values or not all(math.isfinite(v) for v in values):
        return floor
    return math.fsum(values) / len(values)


def score_model(
    model: nn.Module, metrics: MetricsArg, probe: Probe, *, reinit: bool = True
) -> dict[str, float]:
    """Scores ``model`` with each metric, averaged over ``probe.num_inits`` re-initialisations.

    Args:
        model: any ``nn.Module`` taking ``(N, *probe.input_shape)``; re-initialised in place
            (weights change; training flags, dtypes, BN and grads are restored). With
            ``probe.device`` set it is moved there and stays.
        metrics: registry names, or ``{label: options}`` (see :func:`resolve_metrics`).
        probe: the input protocol; ``probe.input_shape`` must be set.
        reinit: ``False`` scores the current weights once (``num_inits`` ignored).

    Returns:
        ``{label: score}``; a non-finite result on any init gives the metric's floor.
    """
    if probe.input_shape is None:
        raise EsnasInputError(
            "probe.input_shape is None; set it (e.g. from the space's input_shape)"
        )
    bound = resolve_metrics(metrics)
    device = _device(model, probe)
    model.to(device)
    groups = _preparations(bound, probe)
    values: dict[str, list[float]] = {b.label: [] for b in bound}
    notes: dict[str, list[str]] = {}
    for init in range(probe.num_inits if reinit else 1):
        if reinit:
            gen = make_generator(probe.seed, init, "weights", device)
            reinit_(model, gen, probe.linear_init)
        shared: dict[str, Any] = {}
        for (dtype, bn_mode), group in groups.items():
            todo = [b for b in group if init == 0 or b.info.per_init]
            if not todo:
                continue
            grads = any(b.info.needs_grad for b in todo)
            with prepared(model, dtype, bn_mode, grads=grads):
                ctx = MetricContext(
                    probe, init, dtype, device, probe.input_shape, shared=shared, notes=notes
                )
                no_grad = [b for b in todo if not b.info.needs_grad]
                for label, value in _one_forward(no_grad, model, ctx).items():
                    values[label].append(value)
                for b in todo:
                    if b.info.needs_grad:
                        values[b.label].append(_call(b, model, ctx))
    for b in bound:
        _report(type(model).__name__, b, values[b.label], notes.get(b.label, []))
    return {b.label: _aggregate(values[b.label], b.info.floor) for b in bound}


def _device(model: nn.Module, probe: Probe) -> torch.device:
    """The probe's device, else the model's (its first parameter's), else the CPU."""
    if probe.device:
        return torch.device(probe.device)
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _preparations(bound: Sequence[_Bound], probe: Probe) -> dict[tuple, list[_Bound]]:
    """The metrics grouped by the (dtype, BN mode) they run under: one preparation each."""
    groups: dict[tuple[torch.dtype, str], list[_Bound]] = {}
    for b in bound:
        key = (DTYPES[b.info.dtype or probe.dtype], b.info.bn or probe.bn_mode)
        groups.setdefault(key, []).append(b)
    return groups


def _report(model_name: str, b: _Bound, values: list[float], reasons: list[str]) -> None:
    """One line when a metric's value on this model is unusual: the reasons it filed, and a
    non-finite value (which scores the floor) even when it filed none, so no silent floor."""
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        why = "; ".join(reasons) or "no reason known"
        warn_metric(
            f"{b.label} is {bad[0]} on {model_name} for {len(bad)} of {len(values)} "
            f"initialisation(s) ({why}): it scores its floor {b.info.floor:g}"
        )
    elif reasons:
        warn_metric(f"{b.label} on {model_name}: {'; '.join(reasons)}")


def _finish(gen: Any) -> Any:
    """Resumes a generator metric after its forward and returns what it returns."""
    try:
        gen.send(None)
    except StopIteration as stop:
        return stop.value
    gen.close()
    raise RuntimeError("a forward-sharing metric must yield exactly once")


def run_alone(gen: Any, forward: Callable[[], object]) -> Any:
    """Drives one generator metric (or hook collector) with a forward of its own."""
    try:
        next(gen)
    except StopIteration as stop:  # nothing to wait for (a shared cache hit)
        return stop.value
    try:
        forward()
    except BaseException:
        gen.close()  # removes its hooks
        raise
    return _finish(gen)


def _shares_forward(info: MetricInfo) -> bool:
    fn = info.fn.__call__ if inspect.isclass(info.fn) else info.fn
    return inspect.isgeneratorfunction(fn)


def _one_forward(bound: Sequence[_Bound], model: nn.Module, ctx: MetricContext) -> dict:
    """Scores of forward-only metrics, the generator ones sharing one ``model(ctx.inputs)``
    (the others run first, with forwards of their own, before any shared hook is in place)."""
    scores: dict[str, float] = {}
    waiting: list[tuple[str, Any]] = []
    try:
        with torch.inference_mode():
            for b in bound:
                if not _shares_forward(b.info):
                    ctx.label = b.label
                    scores[b.label] = float(b.call(model, ctx))
            for b in bound:
                if b.label in scores:
                    continue
                ctx.label = b.label
                gen = b.call(model, ctx)
                try:
                    next(gen)  # hooks in place; the metric waits for the forward
                except StopIteration as stop:  # nothing to wait for (a shared cache hit)
                    scores[b.label] = float(stop.value)
                    continue
                waiting.append((b.label, gen))
            if waiting:
                model(ctx.inputs)
            while waiting:  # in start order: a metric waiting on another's hooks comes after
                label, gen = waiting.pop(0)
                ctx.label = label
                scores[label] = float(_finish(gen))
    finally:
        for _, gen in waiting:  # an error: remove the hooks still in place
            gen.close()
    return {b.label: scores[b.label] for b in bound}


def _call(b: _Bound, model: nn.Module, ctx: MetricContext) -> float:
    """A metric that needs gradients, with autograd on (a generator one: its own forward)."""
    for p in model.parameters():
        p.grad = None
    ctx.label = b.label
    with torch.enable_grad():
        out = b.call(model, ctx)
        if inspect.isgenerator(out):  # its own forward, with autograd
            out = run_alone(out, lambda: model(ctx.inputs))
        value = float(out)
    for p in model.parameters():
        p.grad = None
    return value
