"""Registry, seeding and progress helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from esnas.utils.console import progress_bar, track
from esnas.utils.registry import Registry, UnknownNameError
from esnas.utils.seeding import seed_everything, torch_generator


def test_registry_rejects_duplicates_and_lists_valid_names() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("b")(2)
    reg.register("a")(1)
    assert reg.get("a") == 1 and reg.names() == ["a", "b"] and "b" in reg
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(3)
    with pytest.raises(UnknownNameError) as info:
        reg.get("c")
    assert str(info.value) == "unknown widget 'c'; valid: a, b"


def test_seed_everything_reproduces_and_validates() -> None:
    seed_everything(5)
    a = torch.rand(3)
    seed_everything(5)
    assert torch.equal(a, torch.rand(3))
    assert torch.equal(
        torch.rand(2, generator=torch_generator(9)), torch.rand(2, generator=torch_generator(9))
    )
    for bad in (-1, 2**32, 1.5, "3"):
        with pytest.raises(ValueError, match="seed must be an integer"):
            seed_everything(bad)  # type: ignore[arg-type]


def test_progress_is_quiet_without_a_tty(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(track(range(5), "counting")) == [0, 1, 2, 3, 4]
    with progress_bar() as bar:
        assert bar.disable  # pytest captures stderr: not a TTY
    assert capsys.readouterr().err == ""


def test_torch_threads_auto_leaves_cores_for_neighbours(monkeypatch) -> None:
    from esnas.utils import threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 16)
    monkeypatch.setattr(threads, "parallel_jobs", lambda: 1)
    assert threads.resolve_torch_threads("auto") == 8
    monkeypatch.setattr(threads, "parallel_jobs", lambda: 4)
    assert threads.resolve_torch_threads("auto") == 2
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    assert threads.resolve_torch_threads("auto") == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # a cluster job or joblib's worker says so
    assert threads.resolve_torch_threads("auto") == 3
    assert threads.resolve_torch_threads(5) == 5
    assert threads.resolve_torch_threads(None) is None
    for bad in (0, -1, "four", 2.5, True):
        with pytest.raises(ValueError, match="torch_threads must be a positive integer, 'auto'"):
            threads.resolve_torch_threads(bad)


def test_every_entry_point_applies_torch_threads(run_config) -> None:
    from esnas.utils.task import run_task

    before = torch.get_num_threads()
    for name in ("score", "search", "train", "eval"):
        assert run_config(name, []).torch_threads == "auto"
    try:
        cfg = run_config("score", ["logger=none", "torch_threads=1"])
        seen = run_task(cfg, "score", lambda ctx: {"threads": torch.get_num_threads()})
        assert seen["threads"] == 1
        summary = (Path(cfg.paths.output_dir) / "summary.json").read_text()
        assert '"torch_threads": 1' in summary
    finally:
        torch.set_num_threads(before)


def test_committed_list_resolvers_pick_rows_by_position_column_or_keys(tmp_path) -> None:
    from esnas.utils.config import arch_at, arch_where, archs_of

    rows = tmp_path / "rows.csv"
    rows.write_text("strategy,seed,arch,best_arch\ncyclic,0,a,A0\ncyclic,1,b,A1\nrandom,0,c,R0\n")
    assert archs_of(str(rows)) == ["a", "b", "c"] and archs_of(str(rows), 2) == ["a", "b"]
    assert arch_at(str(rows), 2) == "c" and arch_at(str(rows), 0, "best_arch") == "A0"
    assert arch_where(str(rows), "best_arch", "strategy=random", "seed=0") == "R0"
    with pytest.raises(ValueError, match="0 rows with strategy=random, seed=1"):
        arch_where(str(rows), "best_arch", "strategy=random", "seed=1")
    with pytest.raises(ValueError, match=r"valid: 0\.\.2"):
        arch_at(str(rows), 3)
    with pytest.raises(ValueError, match="no_such"):
        archs_of(str(rows), None, "no_such")
