"""Atomic file writes: a reader (a resumed search, a report, a sweep merging rows) sees the
old file or the new one, never half of one, even when the writer is killed mid-write.

Every results file goes through here: the content goes to a hidden temporary sibling with the
same suffix (so ``savefig`` still picks the format from it), is flushed to disk (``fsync``) and
then renamed over the target, which POSIX makes atomic. On an error the temporary file is
removed and the target is left as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields a temporary sibling of ``path`` to write; on success it becomes ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """``open(path, mode)`` that replaces ``path`` only once the ``with`` block succeeded."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Writes ``text`` to ``path`` atomically."""
    with atomic_open(path) as f:
        f.write(text)


def write_json_atomic(path: str | os.PathLike[str], payload: Any, **dump: Any) -> None:
    """Writes ``payload`` as JSON (``indent=2`` unless ``dump`` says otherwise) atomically."""
    options = {"indent": 2, "default": str, **dump}
    write_text_atomic(path, json.dumps(payload, **options) + "\n")
