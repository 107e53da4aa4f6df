"""The score cache's integrity check, its one-line errors, and shards that lose no score."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from esnas.cli.cache import main as cache_main
from esnas.scoring import ScoreCache, ScoreCacheError, merge_shards
from esnas.scoring.cache import shard_dir


def _filled(path: Path, n: int = 3000) -> str:
    with ScoreCache(path) as cache:
        ctx = cache.register({"metric": "m"})
        for i in range(n):
            cache.put(ctx, f"arch-{i:05d}-" + "x" * 40, float(i), 0.1)
    return ctx


def test_damaged_pages_fail_on_open_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scores.sqlite"
    _filled(path)
    data = bytearray(path.read_bytes())
    assert len(data) > 40 * 4096
    data[20 * 4096 : 30 * 4096] = b"\x17" * (10 * 4096)  # garbage over ten B-tree pages
    path.write_bytes(bytes(data))
    with pytest.raises(ScoreCacheError) as info:
        ScoreCache(path)
    message = str(info.value)
    assert str(path) in message and f"mv {path} {path}.bad" in message and "\n" not in message
    assert path.exists()  # moved aside by the user, never deleted by us


def test_a_database_error_mid_run_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scores.sqlite"
    cache = ScoreCache(path)
    ctx = cache.register({"metric": "m"})

    class Broken:
        def execute(self, *args, **kw):
            raise sqlite3.DatabaseError("database disk image is malformed")

        def close(self) -> None:
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

    cache._db = Broken()
    for call in (lambda: cache.get(ctx, "a"), lambda: cache.put(ctx, "a", 1.0, 0.1)):
        with pytest.raises(ScoreCacheError, match=r"scores\.sqlite is damaged .*malformed"):
            call()


def test_shards_read_the_main_file_and_merge_into_it(tmp_path: Path, capsys) -> None:
    path = tmp_path / "scores.sqlite"
    with ScoreCache(path) as main:
        ctx = main.register({"metric": "m"})
        main.put(ctx, "old", 1.0, 0.5)
    with ScoreCache(path, shard="job0") as a, ScoreCache(path, shard="job1") as b:
        assert a.get(ctx, "old") == (1.0, 0.5)  # the main file is read
        a.put(ctx, "new-a", 2.0, 0.1)
        b.put(ctx, "new-b", 3.0, 0.1)
        assert a.count(ctx) == 2 and b.get(ctx, "new-a") is None
    assert ScoreCache(path).count(ctx) == 1  # nothing written to the main file yet
    assert cache_main(["merge", str(path)]) == 0
    assert "merged 2 shard(s)" in capsys.readouterr().out
    with ScoreCache(path) as main:
        assert main.get_many(ctx, ["old", "new-a", "new-b"]) == {
            "old": (1.0, 0.5),
            "new-a": (2.0, 0.1),
            "new-b": (3.0, 0.1),
        }
    assert not list(shard_dir(path).glob("*.sqlite"))
    assert merge_shards(path) == {"shards": 0, "scores": 0}  # idempotent
    assert cache_main(["check", str(path)]) == 0


def test_a_parallel_sharded_sweep_loses_no_score(tmp_path: Path) -> None:
    """Two joblib jobs score halves of one selection, each into its own shard, reading a
    main file that already holds some scores; the merge has every score exactly once."""
    cache = tmp_path / "scores.sqlite"
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    common = [
        "space=nb201", "metrics=[params,flops]", "sample.n=16", "sample.seed=5", "logger=none",
        "probe.batch_size=2", "probe.num_inits=1", f"cache.path={cache}",
    ]  # fmt: skip
    script = str(Path(sys.executable).parent / "esnas-score")
    first = [script, *common, "sample.n=4", f"hydra.run.dir={tmp_path / 'first'}"]
    subprocess.run(first, check=True, capture_output=True, timeout=300, env=env)
    sweep = [script, "-m", "launcher=joblib", *common, "sample.shard=0/2,1/2",
             "cache.shard=auto", f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    done = subprocess.run(sweep, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    shards = list(shard_dir(cache).glob("*.sqlite"))
    assert len(shards) == 2  # one per job: nobody wrote the shared file
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "sweep").rglob("summary.json")]
    assert sum(s["figures"]["archs"] for s in summaries) == 16
    assert sum(s["figures"]["cached"] for s in summaries) == 4  # the main file was read
    merge_shards(cache)
    with ScoreCache(cache) as merged:
        (n_contexts,) = merged._db.execute("SELECT COUNT(DISTINCT context) FROM scores").fetchone()
        (n_rows,) = merged._db.execute("SELECT COUNT(*) FROM scores").fetchone()
    assert n_rows == 16 * n_contexts and n_contexts >= 2
