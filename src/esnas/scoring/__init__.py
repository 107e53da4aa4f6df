"""Scoring architectures of a space: the shared score cache and the scorer over it.

Both ``esnas-score`` and the search go through :class:`Scorer`, so an architecture is never
scored twice under the same space, probe and metric options, across runs too.
"""

from esnas.scoring.cache import ScoreCache, ScoreCacheError, context_key, merge_shards
from esnas.scoring.scorer import Scorer, make_probe

__all__ = ["ScoreCache", "ScoreCacheError", "Scorer", "context_key", "make_probe", "merge_shards"]
