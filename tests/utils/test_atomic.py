"""Atomic writes: the target holds the old content or the new, and no temporary file stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from esnas.utils.atomic import atomic_open, atomic_path, write_json_atomic, write_text_atomic


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "rows.csv"  # missing folders are made
    write_text_atomic(target, "a,b\n")
    write_json_atomic(tmp_path / "s.json", {"x": Path("p")})  # default=str, as summary.json
    assert target.read_text() == "a,b\n"
    assert json.loads((tmp_path / "s.json").read_text()) == {"x": "p"}
    assert sorted(p.name for p in target.parent.iterdir()) == ["rows.csv"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "best.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as f:
        f.write("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["best.json"]


def test_the_temporary_keeps_the_suffix_so_writers_pick_the_format_from_it(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    with atomic_path(tmp_path / "plot.png") as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        fig.savefig(tmp)
    plt.close(fig)
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
