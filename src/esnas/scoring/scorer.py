"""The scorer: architecture in, cached metric scores out; builds a model only on a miss."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import fields
from typing import Any

from esnas.metrics import Probe, resolve_metrics, score_model
from esnas.scoring.cache import ScoreCache
from esnas.spaces.base import SearchSpace
from esnas.utils.device import resolve_device
from esnas.utils.errors import EsnasInputError

# Bump when a metric's implementation changes its values: old cache entries stop matching
# (2: LogSynflow takes log(1 + |g|)).
SCORE_VERSION = 2
BUILD_LABEL = "_build"  # pseudo-metric holding model build times, for uncached timings


def make_probe(probe_cfg: Mapping[str, Any], space: SearchSpace, **overrides: Any) -> Probe:
    """The probe the config's ``_target_`` names (:class:`Probe` when it names none), taking
    the input shape from the space when unset and resolving ``device: null`` / ``auto``."""
    from hydra.utils import get_class

    target = dict(probe_cfg).get("_target_")
    probe_cls = get_class(target) if target else Probe
    kwargs = {k: v for k, v in dict(probe_cfg).items() if not k.startswith("_")}
    kwargs.update(overrides)
    if kwargs.get("input_shape") is None:
        kwargs["input_shape"] = tuple(space.input_shape)
    kwargs["device"] = resolve_device(kwargs.get("device"))
    return probe_cls(**kwargs)


def _probe_description(probe: Probe) -> dict[str, Any]:
    """Everything in the probe that changes a score (not the device; a real batch by hash)."""
    desc = {f.name: getattr(probe, f.name) for f in fields(probe)}
    desc.pop("device")
    for key in ("batch", "labels"):
        tensor = desc.pop(key)
        if tensor is not None:
            raw = tensor.detach().cpu().contiguous().numpy().tobytes()
            desc[f"{key}_sha256"] = hashlib.sha256(raw).hexdigest()[:16]
    desc["input_shape"] = list(desc["input_shape"] or [])
    return desc


class Scorer:
    """Scores genomes of one space with a fixed set of metrics and one probe.

    Args:
        space: the space that encodes and builds genomes.
        metrics: ``{label: options}`` or a list of names (see ``esnas.metrics.resolve_metrics``;
            a label ``"entropic/gaussian"`` runs ``entropic`` with its own options).
        probe: the input protocol (its ``input_shape`` must be set; see :func:`make_probe`).
        cache: where scores persist; ``None`` keeps them in memory for this scorer only.

    After each :meth:`score`, ``last_seconds`` holds what scoring that genome cost without the
    cache (build + every metric, as measured when it was first scored) and ``last_cached``
    whether nothing had to be computed.
    """

    def __init__(
        self,
        space: SearchSpace,
        metrics: Mapping[str, Mapping[str, Any] | None] | Sequence[str],
        probe: Probe,
        cache: ScoreCache | None = None,
    ) -> None:
        if probe.input_shape is None:
            raise EsnasInputError("probe.input_shape is None; build the probe with make_probe()")
        self.space, self.probe = space, probe
        self.cache = cache if cache is not None else ScoreCache(None)
        bound = resolve_metrics(metrics)  # unknown names and options fail here, in one line
        # Keyed by the full option set (defaults filled in), so `{}` and the same options
        # spelled out (as metric_options.<name> does) share their cached scores.
        self.options = {
            b.label: {**b.info.options(), **self._options(metrics, b.label)} for b in bound
        }
        self.labels = list(self.options)
        base = {"version": SCORE_VERSION, "space": space.describe()}
        # Keyed by the registry name, not the label: "entropic/shannon" and "entropic" with
        # the same options are one score.
        names = {b.label: b.info.name for b in bound}
        # A metric's own revision (a fix that changed its values) joins its key when set.
        revisions = {b.label: {"revision": b.info.revision} for b in bound if b.info.revision}
        self._contexts = {
            label: self.cache.register(
                {**base, "probe": _probe_description(probe), "metric": names[label],
                 "options": opts, **revisions.get(label, {})}
            )
            for label, opts in self.options.items()
        }  # fmt: skip
        self._build_context = self.cache.register({**base, "metric": BUILD_LABEL})
        self.last_seconds = 0.0
        self.last_cached = False

    @staticmethod
    def _options(metrics: Any, label: str) -> dict[str, Any]:
        if isinstance(metrics, Mapping):
            return dict(metrics.get(label) or {})
        for item in metrics:
            if isinstance(item, Mapping) and label in item:
                return dict(item[label] or {})
        return {}

    def close(self) -> None:
        """Closes the cache connection (a later lookup reopens nothing: make a new scorer)."""
        self.cache.close()

    def seconds(self, arch: str) -> dict[str, float]:
        """Stored uncached seconds per label (and ``_build``) of an already scored arch."""
        out = {}
        for label, context in [*self._contexts.items(), (BUILD_LABEL, self._build_context)]:
            hit = self.cache.get(context, arch)
            if hit is not None:
                out[label] = hit[1]
        return out

    def lookup(self, genome: Hashable) -> dict[str, float]:
        """The cached scores of ``genome`` (labels never scored are missing); computes nothing."""
        arch = self.space.encode(genome)
        hits = {label: self.cache.get(ctx, arch) for label, ctx in self._contexts.items()}
        return {label: hit[0] for label, hit in hits.items() if hit is not None}

    def score(self, genome: Hashable) -> dict[str, float]:
        """``{label: score}`` of ``genome``, from the cache where possible."""
        arch = self.space.encode(genome)
        scores: dict[str, float] = {}
        seconds = 0.0
        missing = []
        for label, context in self._contexts.items():
            hit = self.cache.get(context, arch)
            if hit is None:
                missing.append(label)
            else:
                scores[label], spent = hit
                seconds += spent
        build = self.cache.get(self._build_context, arch)
        if missing:
            t0 = time.perf_counter()
            model = self.space.build(genome)
            if build is None:
                build = (0.0, time.perf_counter() - t0)
                self.cache.put(self._build_context, arch, *build)
            # One call for every missing label: metrics that share a preparation share its
            # passes (AZ-NAS's three components, SynFlow and LogSynflow). Its time is shared
            # equally among them (per-metric costs: `make bench`).
            t0 = time.perf_counter()
            values = score_model(model, {k: self.options[k] for k in missing}, self.probe)
            spent = (time.perf_counter() - t0) / len(missing)
            for label in missing:
                self.cache.put(self._contexts[label], arch, values[label], spent)
                scores[label] = values[label]
                seconds += spent
            del model
        self.last_seconds = seconds + (build[1] if build is not None else 0.0)
        self.last_cached = not missing
        return {label: scores[label] for label in self.labels}
