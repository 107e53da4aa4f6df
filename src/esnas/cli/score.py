"""``esnas-score``: the entry point over :func:`esnas.scoring.run.score_task`."""

from __future__ import annotations

from esnas.cli.app import hydra_entry
from esnas.scoring.run import score_task

main = hydra_entry("score", "score", score_task)

if __name__ == "__main__":
    main()
