"""``esnas-cache``: look after the score cache (check it, merge a cluster sweep's shards).

    esnas-cache check [PATH]     integrity check, row and shard counts
    esnas-cache merge [PATH]     fold <PATH>.shards/*.sqlite into PATH (after the sweep)

PATH defaults to the configs' ``cache.path``: ``$ESNAS_ROOT/.score_cache/scores.sqlite``
(``ESNAS_ROOT`` defaults to the current folder). A plain command, not a Hydra app: it has no
experiment to compose.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def default_path() -> Path:
    return Path(os.environ.get("ESNAS_ROOT", ".")) / ".score_cache" / "scores.sqlite"


def main(argv: Sequence[str] | None = None) -> int:
    from esnas.scoring.cache import ScoreCacheError, check_cache, merge_shards

    ap = argparse.ArgumentParser(prog="esnas-cache", description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("check", "merge"))
    ap.add_argument("path", nargs="?", type=Path, default=None)
    args = ap.parse_args(argv)
    path = args.path or default_path()
    try:
        if args.action == "merge":
            done = merge_shards(path)
            print(f"merged {done['shards']} shard(s) into {path}: {done['scores']} rows written")
        else:
            info = check_cache(path)
            print(
                f"{path}: ok, {info['scores']} scores in {info['contexts']} contexts, "
                f"{info['shards']} unmerged shard(s)"
            )
    except ScoreCacheError as err:
        print(f"esnas-cache: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
