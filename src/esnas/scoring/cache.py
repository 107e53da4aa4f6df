"""A persistent score cache in SQLite: one row per (context, architecture).

Why SQLite: every finished score is committed at once (an interrupted run loses at most the
architecture in flight), several processes on one host share one file safely (WAL mode), and
it ships with Python. A *context* is everything a score depends on besides the architecture
(space and its settings, probe, metric and options); its key is a hash of that description.

On a cluster (jobs on many nodes, one shared file system) a shared SQLite file is not safe:
WAL needs shared memory on one host, and network file systems lock unreliably. There each job
writes a *shard* of its own (``shard=<name>``: ``<path>.shards/<name>.sqlite``, one writer per
file) and reads the main file immutably; ``esnas-cache merge`` folds the shards into the main
file once the sweep is done. Nothing is shared for writing, so nothing can be lost to a lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Mapping
from functools import wraps
from pathlib import Path
from typing import Any

from esnas.utils.errors import EsnasInputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contexts (key TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    context TEXT NOT NULL, arch TEXT NOT NULL, value REAL NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (context, arch)
);
"""
SHARD_SUFFIX = ".shards"


class ScoreCacheError(EsnasInputError):
    """The cache file is damaged or unusable; the message names the file and the way out."""


def context_key(description: Mapping[str, Any]) -> str:
    """A stable 20-hex-digit key of a JSON-able description."""
    blob = json.dumps(description, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def shard_dir(path: str | Path) -> Path:
    """Where the shards of the cache at ``path`` go: ``<path>.shards/``."""
    path = Path(path)
    return path.with_name(path.name + SHARD_SUFFIX)


def default_shard_name() -> str:
    """``<host>-<pid>``: unique per process on a cluster without any coordination."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _damaged(path: Path | None, err: Exception) -> ScoreCacheError:
    if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
        return ScoreCacheError(
            f"score cache {path} stayed locked by another process for 60 s ({err}); on a "
            "cluster give each job a shard of its own (cache.shard=auto, then esnas-cache merge)"
        )
    return ScoreCacheError(
        f"score cache {path} is damaged ({type(err).__name__}: {err}); move it aside "
        f"(mv {path} {path}.bad) and rerun to start a fresh cache, nothing in it is deleted; "
        "`esnas-cache check` tells whether a file is sound"
    )


def _guarded(method: Any) -> Any:
    """Any SQLite error of a cache call becomes one :class:`ScoreCacheError` naming the file."""

    @wraps(method)
    def call(self: ScoreCache, *args: Any, **kw: Any) -> Any:
        try:
            return method(self, *args, **kw)
        except sqlite3.DatabaseError as err:
            raise _damaged(self.path, err) from None

    return call


def _connect(path: Path | None, readonly: bool = False, wal: bool = False) -> sqlite3.Connection:
    """A checked connection: the schema exists and ``PRAGMA quick_check`` says ok; ``wal``
    for a file several local processes share (readers never block the writer)."""
    try:
        if readonly:  # immutable: no locks and no shared memory, safe on any file system
            db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=60)
        else:
            db = sqlite3.connect(str(path or ":memory:"), timeout=60)
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {verdict}")
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        if not readonly:
            db.executescript(_SCHEMA)
        return db
    except sqlite3.DatabaseError as err:
        raise _damaged(path, err) from None


class ScoreCache:
    """Scores keyed by context and canonical architecture string.

    Args:
        path: the SQLite file (parent folders are created); ``None`` keeps it in memory.
        shard: write to the shard ``<path>.shards/<shard>.sqlite`` instead of ``path``, which
            is then only read (``"auto"`` = ``<host>-<pid>``); for jobs on many nodes.
    """

    def __init__(self, path: str | Path | None = None, shard: str | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._base: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if shard and self.path is not None:
            name = default_shard_name() if shard == "auto" else str(shard)
            main, self.path = self.path, shard_dir(self.path) / f"{name}.sqlite"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if main.exists():
                self._base = _connect(main, readonly=True)
            self._db = _connect(self.path)  # one writer per shard: the default journal
        else:
            self._db = _connect(self.path, wal=True)

    @_guarded
    def register(self, description: Mapping[str, Any]) -> str:
        """Records a context's description (for people browsing the file); returns its key."""
        key = context_key(description)
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO contexts VALUES (?, ?)",
                (key, json.dumps(description, sort_keys=True, default=str)),
            )
        return key

    def _connections(self) -> list[sqlite3.Connection]:
        """Own file first (its scores are the newest), then the read-only main file."""
        return [self._db] if self._base is None else [self._db, self._base]

    @_guarded
    def get(self, context: str, arch: str) -> tuple[float, float] | None:
        """``(value, seconds)`` of one score, or ``None`` when it was never stored."""
        for db in self._connections():
            row = db.execute(
                "SELECT value, seconds FROM scores WHERE context = ? AND arch = ?", (context, arch)
            ).fetchone()
            if row is not None:
                return row[0], row[1]
        return None

    @_guarded
    def get_many(self, context: str, archs: Iterable[str]) -> dict[str, tuple[float, float]]:
        """The stored ``{arch: (value, seconds)}`` among ``archs`` (one query per 500)."""
        archs = list(archs)
        found: dict[str, tuple[float, float]] = {}
        for db in reversed(self._connections()):  # own file last: its values win
            for i in range(0, len(archs), 500):
                chunk = archs[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    "SELECT arch, value, seconds FROM scores "
                    f"WHERE context = ? AND arch IN ({marks})",
                    (context, *chunk),
                )
                found.update({arch: (value, seconds) for arch, value, seconds in rows})
        return found

    @_guarded
    def put(self, context: str, arch: str, value: float, seconds: float) -> None:
        """Stores (or replaces) one score, committed immediately."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
                (context, arch, float(value), float(seconds)),
            )

    @_guarded
    def count(self, context: str) -> int:
        """How many architectures have a score in ``context``."""
        if self._base is None:
            return self._db.execute(
                "SELECT COUNT(*) FROM scores WHERE context = ?", (context,)
            ).fetchone()[0]
        archs: set[str] = set()  # shard and main may hold the same arch: count it once
        for db in self._connections():
            rows = db.execute("SELECT arch FROM scores WHERE context = ?", (context,))
            archs.update(a for (a,) in rows)
        return len(archs)

    def close(self) -> None:
        for db in self._connections():
            db.close()

    def __enter__(self) -> ScoreCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_cache(cfg: Mapping[str, Any] | None) -> ScoreCache:
    """The cache a ``cache:`` config node asks for (``path`` null or absent: in memory)."""
    cfg = cfg or {}
    return ScoreCache(cfg.get("path") or None, shard=cfg.get("shard") or None)


def merge_shards(path: str | Path) -> dict[str, int]:
    """Folds every shard of the cache at ``path`` into it, then removes the merged shards.

    Run it when no job writes any more (after the sweep). Each shard is copied in one
    transaction and deleted only after that commit, so an interrupted merge loses nothing:
    rerunning it copies the rest. Returns ``{"shards": n, "scores": rows added}``.
    """
    path = Path(path)
    shards = sorted(shard_dir(path).glob("*.sqlite"))
    added = 0
    main = _connect(path, wal=True)
    try:
        for shard in shards:
            _connect(shard, readonly=True).close()  # a damaged shard fails here, by name
            before = main.total_changes
            main.execute("ATTACH DATABASE ? AS shard", (str(shard),))
            with main:
                main.execute("INSERT OR IGNORE INTO contexts SELECT * FROM shard.contexts")
                main.execute("INSERT OR REPLACE INTO scores SELECT * FROM shard.scores")
            main.execute("DETACH DATABASE shard")
            added += main.total_changes - before
            shard.unlink()
    except sqlite3.DatabaseError as err:
        raise _damaged(path, err) from None
    finally:
        main.close()
    return {"shards": len(shards), "scores": added}


def check_cache(path: str | Path) -> dict[str, int]:
    """Opens the cache at ``path`` (integrity-checked) and counts its rows and shards."""
    path = Path(path)
    if not path.is_file():
        raise ScoreCacheError(f"score cache {path} does not exist")
    db = _connect(path, readonly=True)
    try:
        scores = db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
        contexts = db.execute("SELECT COUNT(*) FROM contexts").fetchone()[0]
    finally:
        db.close()
    return {
        "scores": scores,
        "contexts": contexts,
        "shards": len(list(shard_dir(path).glob("*.sqlite"))),
    }
