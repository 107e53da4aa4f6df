"""What every study shares: its command, where results go, the probe and the cached scoring.

A study's table names the command that makes it (:func:`study_command`), writes under the
project root (:func:`results_path`), and scores through the persistent score cache, so a rerun
reads instead of scoring and an interrupted study resumes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

from esnas.scoring import ScoreCache, Scorer, make_probe
from esnas.search.fitness import COMBINERS
from esnas.spaces import NB201Space
from esnas.utils.commands import rerun_command
from esnas.utils.console import get_logger, progress_bar
from esnas.utils.errors import EsnasInputError, as_number
from esnas.utils.task import RunContext, _overrides

DATA = Path(__file__).resolve().parents[1] / "data"
# The NB201 studies' base probe: esnas' default probe with its seed, on the CPU.
PROBE: dict[str, Any] = {
    "input": "noise",
    "batch_size": 64,
    "num_inits": 3,
    "seed": 0,
    "device": "cpu",
}
Scores = dict[str, dict[int, tuple[float, float]]]  # {label: {index: (score, seconds)}}
log = get_logger(__name__)


def study_command() -> str:
    """The command line that made this run: ``esnas-study`` and its overrides."""
    return rerun_command("study", _overrides())


def root_dir(ctx: RunContext) -> Path:
    """The project root the run writes under (``paths.root_dir``)."""
    return Path(ctx.cfg.paths.root_dir)


def results_path(ctx: RunContext, path: str | Path) -> Path:
    """``path`` under the project root unless absolute; its folder exists."""
    p = Path(path)
    p = p if p.is_absolute() else root_dir(ctx) / p
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def open_study_cache(ctx: RunContext) -> ScoreCache:
    """The persistent score cache of ``cache.path`` (``null``: in memory only)."""
    path = ctx.cfg.get("cache", {}).get("path")
    return ScoreCache(path)


def committed_path(path: str | Path) -> Path:
    """A committed input (score CSV, rows, protocol) under the project root, wherever the run
    writes: relative paths resolve against the checkout, absolute ones stay."""
    from esnas.utils.config import config_dir

    p = Path(path)
    return p if p.is_absolute() else config_dir().parent / p


def probe_config(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """:data:`PROBE` with ``overrides`` (e.g. ``{batch_size: 16, num_inits: 1}``); an unknown
    key is a one-line error naming the valid ones."""
    if overrides is not None and not isinstance(overrides, Mapping):
        raise EsnasInputError(
            f"study.probe={overrides!r} is invalid; valid: null or a mapping of probe keys, "
            f"e.g. '{{batch_size:16,num_inits:1}}'"
        )
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(PROBE))
    if unknown:
        raise EsnasInputError(
            f"study.probe has no key(s) {', '.join(unknown)}; valid: {', '.join(PROBE)}"
        )
    return {**PROBE, **overrides}


def sample_indices(name: str, count: int, total: int, seed: int) -> list[int]:
    """``count`` distinct indices of ``range(total)`` drawn with ``seed`` (the studies' shared
    cell draw: the first ``k`` of a larger draw are the draw of ``k``); a count outside
    ``0..total`` is a one-line error naming ``study.<name>``."""
    count = as_number(f"study.{name}", count, int, 0)
    if count > total:
        raise EsnasInputError(f"study.{name}={count} is invalid; valid: 0..{total}")
    return random.Random(seed).sample(range(total), count)


def real_batch(hw: int, n: int = 64, offset: int = 0) -> torch.Tensor:
    """``n`` real Fashion-MNIST test images (from ``offset`` on) as a standardised
    ``(n, 3, hw, hw)`` batch."""
    raw = np.load(DATA / "fashion_mnist/fashion_mnist_test_1000.npz")["images"][offset : offset + n]
    if len(raw) < n:
        raise EsnasInputError(f"images {offset}..{offset + n} asked, the test subset has 1,000")
    images = torch.from_numpy(raw).float().div(255).unsqueeze(1)
    images = F.interpolate(images, size=(hw, hw), mode="bilinear", align_corners=False)
    images = (images - images.mean()) / images.std()
    return images.expand(-1, 3, -1, -1).contiguous()


def score_cells(
    space: NB201Space,
    indices: list[int],
    metrics: Mapping[str, Mapping[str, Any]],
    cache: ScoreCache,
    probe_overrides: Mapping[str, Any] | None = None,
    suffix: str = "",
    cached_only: bool = False,
    probe_cfg: Mapping[str, Any] = PROBE,
) -> Scores:
    """``{label+suffix: {index: (score, seconds)}}`` for every metric on every cell
    (``cached_only``: only the cells already in the cache). A bar in a terminal; a log line
    per metric otherwise, so a study running hours in the background shows where it is."""
    out: Scores = {}
    probe = make_probe(probe_cfg, space, **(probe_overrides or {}))
    with progress_bar() as bar:
        for label, options in metrics.items():
            scorer = Scorer(space, {label: dict(options)}, probe, cache)
            task = bar.add_task(f"{space.dataset} {label}{suffix}", total=len(indices))
            values, hits, t0 = {}, 0, time.perf_counter()
            for i in indices:
                genome = space.from_index(i)
                bar.advance(task)
                if cached_only and label not in scorer.lookup(genome):
                    continue
                value = scorer.score(genome)[label]
                hits += scorer.last_cached  # one label per scorer here
                values[i] = (value, scorer.seconds(space.encode(genome))[label])
            out[label + suffix] = values
            log.info(
                "%s %s%s: %d cells (%d from the cache) in %.0f s",
                space.dataset, label, suffix, len(values), hits, time.perf_counter() - t0,
            )  # fmt: skip
    return out


def correlations(scores: Mapping[int, float], accuracy: Mapping[int, float]) -> tuple[float, float]:
    """Spearman ρ and Kendall τ of ``scores`` against ``accuracy`` on the scored cells."""
    idx = sorted(scores)
    x = [scores[i] for i in idx]
    y = [accuracy[i] for i in idx]
    return float(stats.spearmanr(x, y).statistic), float(stats.kendalltau(x, y).statistic)


def combine(a: Mapping[int, float], b: Mapping[int, float], how: str) -> dict[int, float]:
    """Two scores into one with the search's own combiners (``rank`` or ``max_norm``)."""
    idx = sorted(set(a) & set(b))
    combined = COMBINERS.get(how)([[a[i] for i in idx], [b[i] for i in idx]])
    return dict(zip(idx, combined, strict=True))


def scoring_hours(score_maps: Iterable[Mapping[int, tuple[float, float]]]) -> float:
    """Summed first-scoring seconds of ``{index: (score, seconds)}`` maps, in hours: what a
    table cost even when written from the cache."""
    return sum(sec for scores in score_maps for _, sec in scores.values()) / 3600
