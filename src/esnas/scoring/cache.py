"""A persistent score cache in SQLite: one row per (context, architecture).

Why SQLite: every finished score is committed at once (an interrupted run loses at most the
architecture in flight), several processes (a multirun sweep) can share one file safely, and
it ships with Python. A *context* is everything a score depends on besides the architecture
(space and its settings, probe, metric and options); its key is a hash of that description.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contexts (key TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    context TEXT NOT NULL, arch TEXT NOT NULL, value REAL NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (context, arch)
);
"""


def context_key(description: Mapping[str, Any]) -> str:
    """A stable 20-hex-digit key of a JSON-able description."""
    blob = json.dumps(description, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


class ScoreCache:
    """Scores keyed by context and canonical architecture string.

    Args:
        path: the SQLite file (parent folders are created); ``None`` keeps it in memory.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path or ":memory:"), timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise ValueError(f"score cache {self.path} is not a valid SQLite file: {err}") from None

    def register(self, description: Mapping[str, Any]) -> str:
        """Records a context's description (for people browsing the file); returns its key."""
        key = context_key(description)
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO contexts VALUES (?, ?)",
                (key, json.dumps(description, sort_keys=True, default=str)),
            )
        return key

    def get(self, context: str, arch: str) -> tuple[float, float] | None:
        """``(value, seconds)`` of one score, or ``None`` when it was never stored."""
        row = self._db.execute(
            "SELECT value, seconds FROM scores WHERE context = ? AND arch = ?", (context, arch)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def get_many(self, context: str, archs: Iterable[str]) -> dict[str, tuple[float, float]]:
        """The stored ``{arch: (value, seconds)}`` among ``archs`` (one query per 500)."""
        archs = list(archs)
        found: dict[str, tuple[float, float]] = {}
        for i in range(0, len(archs), 500):
            chunk = archs[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT arch, value, seconds FROM scores WHERE context = ? AND arch IN ({marks})",
                (context, *chunk),
            )
            found.update({arch: (value, seconds) for arch, value, seconds in rows})
        return found

    def put(self, context: str, arch: str, value: float, seconds: float) -> None:
        """Stores (or replaces) one score, committed immediately."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
                (context, arch, float(value), float(seconds)),
            )

    def count(self, context: str) -> int:
        """How many architectures have a score in ``context``."""
        return self._db.execute(
            "SELECT COUNT(*) FROM scores WHERE context = ?", (context,)
        ).fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ScoreCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
