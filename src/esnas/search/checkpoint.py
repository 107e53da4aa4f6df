"""Atomic JSON checkpoints: a search killed at any moment resumes from its last generation.

Why JSON: the state is plain data (records, counters, the ``random.Random`` state), so it is
readable, diffable and loads without ``torch.load``'s pickle concerns. Writes go to a
temporary file that is fsynced and renamed over the old one, so a reader sees either the
previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from esnas.utils.atomic import atomic_open
from esnas.utils.errors import EsnasInputError

CHECKPOINT_FILE = "search_state.json"
FORMAT_VERSION = 1


class CorruptCheckpointError(EsnasInputError):
    """A checkpoint exists but cannot be read; never silently restarted from scratch."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Writes ``state`` to ``path`` atomically (tmp file + fsync + ``os.replace``)."""
    with atomic_open(path) as f:
        json.dump({"format_version": FORMAT_VERSION, **state}, f, separators=(",", ":"))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Reads a checkpoint; any problem raises :class:`CorruptCheckpointError` naming ``path``."""
    try:
        state = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptCheckpointError(
            f"search checkpoint {path} is unreadable ({err}); delete it to start over or "
            "pass resume=false to overwrite it"
        ) from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CorruptCheckpointError(
            f"search checkpoint {path} is not a format-{FORMAT_VERSION} esnas search state; "
            "delete it to start over or pass resume=false to overwrite it"
        )
    for key in ("engine", "strategy", "identity"):
        if key not in state:
            raise CorruptCheckpointError(f"search checkpoint {path} lacks {key!r}")
    return state
