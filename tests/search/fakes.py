"""A fake scorer (a deterministic function of the genome string) and an ``esnas-search``
twin that uses it, so search tests never build a model."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from typing import Any

from esnas.cli.app import hydra_entry
from esnas.scoring.run import metric_spec
from esnas.search.recipe import run_search
from esnas.utils.task import RunContext


def _unit(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / 16**12


class FakeScorer:
    """Scores from a hash of the canonical string plus a cost term, so there is a signal.

    ``entropic`` favours convolutions (NB201) / MACs; ``logsynflow`` favours params.
    """

    def __init__(
        self, space: Any, labels: Sequence[str] = ("entropic", "logsynflow"), salt: str = ""
    ) -> None:
        self.space, self.labels, self.salt = space, list(labels), salt  # salt: other scores
        self.last_seconds = 0.0
        self.calls = 0

    def close(self) -> None:
        """Nothing to release: scores live in no cache."""

    def score(self, genome: Hashable) -> dict[str, float]:
        self.calls += 1
        arch = self.space.encode(genome) + self.salt
        cost = self.space.cost(genome)
        self.last_seconds = 0.001 + _unit(arch + "t") * 1e-3
        base = {
            "entropic": 10 * cost.macs / 1e9 + _unit(arch + "e"),
            "logsynflow": 10 * cost.params / 1e6 + _unit(arch + "l"),
        }
        return {label: base.get(label, _unit(arch + label)) for label in self.labels}


def fake_search(ctx: RunContext) -> dict[str, Any]:
    """``esnas-search`` with the fake scorer (``+sleep=s`` pauses after each score)."""
    import time

    from hydra.utils import instantiate

    space, labels = instantiate(ctx.cfg.space), list(metric_spec(ctx.cfg))
    scorer, rescorer = FakeScorer(space, labels), FakeScorer(space, labels, salt="rescore")
    sleep = float(ctx.cfg.get("sleep", 0.0))
    if sleep:
        score = scorer.score

        def slow(genome: Hashable) -> dict[str, float]:
            time.sleep(sleep)
            return score(genome)

        scorer.score = slow  # type: ignore[method-assign]
    return run_search(ctx, scorer=scorer, rescorer=rescorer)


main = hydra_entry("search", "search", fake_search)

if __name__ == "__main__":
    main()
