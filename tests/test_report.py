"""``esnas-report``: a sweep's summary.json files aggregated into a table and a plot."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from esnas.cli.report import main as report_main
from esnas.report import load_jobs, tabulate


def _job(root: Path, name: str, overrides: list[str], status: str = "completed", **figures):
    (root / name).mkdir(parents=True)
    data = {"status": status, "overrides": overrides, "figures": figures, "wall_time_s": 30.0,
            "git": {"commit": "0123456789abcdef", "dirty": False},
            "started_at": f"2026-11-30T12:00:{len(name):02d}+00:00"}  # fmt: skip
    (root / name / "summary.json").write_text(json.dumps(data))


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    """A 2 × 2 phase grid × 2 seeds, plus one failed job."""
    n = 0
    for init in (10, 20):
        for topo in (50, 100):
            for seed in (0, 1):
                acc = 90 + init / 10 + topo / 100 + seed  # seed spread of 1
                overrides = [f"strategy.init.steps={init}", f"strategy.topology.steps={topo}"]
                _job(tmp_path, str(n), [*overrides, f"seed={seed}", "space=nb201"],
                     best_fitness=acc / 100, wall_time_s=3.0, best_arch="x",
                     **{"best_test_acc/cifar10": acc})  # fmt: skip
                n += 1
    _job(tmp_path, "failed", ["strategy.init.steps=10", "seed=5"], status="failed")
    return tmp_path


def test_groups_by_the_swept_keys_and_averages_over_seeds(grid: Path) -> None:
    table = tabulate(load_jobs([grid]))
    assert table.keys == ["strategy.init.steps", "strategy.topology.steps"]
    assert table.figures[0] == "best_test_acc/cifar10"  # ground truth first
    assert "best_arch" not in table.figures and len(table.failed) == 1
    assert list(table.groups) == [("10", "50"), ("10", "100"), ("20", "50"), ("20", "100")]
    assert table.groups[("20", "100")]["best_test_acc/cifar10"] == [93.0, 94.0]


def test_cli_writes_table_csv_and_heatmap(grid: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "phase"
    protocol = "Sweep: `esnas-search -m experiment=x`, 2 cores."
    argv = [str(grid), "--out", str(out), "--title", "Phase grid", "--protocol", protocol]
    assert report_main(argv) == 0
    md = out.with_suffix(".md").read_text()
    assert protocol in md
    assert "8 job(s) at commit 01234567 from" in md and "summed job wall time 4.0 min" in md
    assert "| strategy.init.steps | strategy.topology.steps | best_test_acc/cifar10 |" in md
    assert "| 20 | 100 | 93.50 ± 0.71 |" in md and "1 failed job(s)" in md
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert float(rows[0]["best_test_acc/cifar10_mean"]) == pytest.approx(91.5 + 0.5)
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert report_main([str(tmp_path / "missing")]) == 2
    assert report_main([str(tmp_path)]) == 2
    _job(tmp_path, "0", ["seed=0"], best_fitness=1.0)
    assert report_main([str(tmp_path), "--figures", "nope"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("esnas-report: error:") for line in lines)
    assert "valid: best_fitness" in lines[-1]


def test_a_real_two_job_search_sweep_is_aggregated(tmp_path: Path) -> None:
    """``esnas-search -m seed=0,1`` on NB201 (tiny probe and budget), then ``esnas-report``."""
    bin_dir = Path(sys.executable).parent
    sweep = tmp_path / "sweep"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    cmd = [
        str(bin_dir / "esnas-search"), "-m", f"hydra.sweep.dir={sweep}", "logger=none",
        "space=nb201", "strategy=random", "budget.evaluations=8", "probe.batch_size=2",
        "probe.num_inits=1", "metrics=[logsynflow]", "strategy.metrics=[logsynflow]",
        f"cache.path={tmp_path / 'cache.sqlite'}", "seed=0,1",
    ]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    report = subprocess.run(
        [str(bin_dir / "esnas-report"), str(sweep)], capture_output=True, text=True, timeout=120
    )
    assert report.returncode == 0, report.stderr
    md = (sweep / "report.md").read_text()
    assert "best_test_acc/cifar10" in md and "over 2 replicate(s)" in md
    row = md.strip().splitlines()[-1].split("|")
    assert row[-2].strip() == "2"  # both seeds in the one group


def test_provenance_counts_resumed_jobs(tmp_path: Path) -> None:
    _job(tmp_path, "0", ["seed=0"], best_fitness=1.0, resumed=False)
    _job(tmp_path, "1", ["seed=1"], best_fitness=2.0, resumed=True)
    table = tabulate(load_jobs([tmp_path]))
    assert "fitness" not in " ".join(table.keys) and table.figures == ["best_fitness"]
    assert [j.resumed for j in table.done] == [False, True]
    out = tmp_path / "r"
    assert report_main([str(tmp_path), "--out", str(out)]) == 0
    assert "2 job(s) at commit 01234567" in (md := out.with_suffix(".md").read_text())
    assert "(1 resumed a checkpoint and count only the resume)" in md


def test_rows_mode_writes_one_row_per_completed_job_with_its_command(tmp_path: Path) -> None:
    import csv

    from esnas.report import write_rows

    for i, status in enumerate(("completed", "completed", "failed")):
        job = tmp_path / "sweep" / f"i{i}_s0"
        job.mkdir(parents=True)
        summary = {
            "status": status,
            "job_type": "train",
            "overrides": ["experiment=esformer_bench_fmnist", f"bench.index={i}", "seed=0"],
            "figures": {"model": f"esformer:arch{i}", "test/acc1": 0.8 + i / 100, "epochs": 3},
            "git": {"commit": "0123456789abcdef", "dirty": False},
            "wall_time_s": 50.0 + i,
        }
        (job / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "bench.csv"
    assert write_rows([tmp_path / "sweep"], out, None) == 2
    rows = list(csv.DictReader(out.open()))
    assert [r["bench.index"] for r in rows] == ["0", "1"]
    assert rows[1]["model"] == "esformer:arch1" and float(rows[1]["test/acc1"]) == 0.81
    assert rows[0]["command"] == "esnas-train experiment=esformer_bench_fmnist bench.index=0 seed=0"
    assert rows[0]["commit"] == "01234567" and list(rows[0])[-1] == "command"


def test_rows_update_keeps_rows_no_job_reran_and_replaces_those_it_did(tmp_path: Path) -> None:
    from esnas.report import write_rows

    def job(i: int, seed: int, acc: float) -> None:
        _job(tmp_path / "sweep", f"i{i}_s{seed}", [f"bench.index={i}", f"seed={seed}"],
             **{"test/acc1": acc})  # fmt: skip

    out = tmp_path / "bench.csv"
    job(0, 0, 0.80), job(10, 0, 0.81)
    assert write_rows([tmp_path / "sweep"], out, None) == 2
    (tmp_path / "sweep").rename(tmp_path / "gone")  # the run folders do not survive
    job(9, 0, 0.7), job(10, 0, 0.9)  # a new job, and a rerun of a stored row (overrides reordered)
    (tmp_path / "sweep" / "i10_s0" / "summary.json").write_text(
        (tmp_path / "sweep" / "i10_s0" / "summary.json")
        .read_text()
        .replace('["bench.index=10", "seed=0"]', '["seed=0", "bench.index=10"]')
    )
    assert write_rows([tmp_path / "sweep"], out, None, update=True) == 3
    rows = list(csv.DictReader(out.open()))
    assert [r["bench.index"] for r in rows] == ["0", "9", "10"]  # natural order, not 0, 10, 9
    assert [float(r["test/acc1"]) for r in rows] == [0.80, 0.7, 0.9]


def test_seed_agreement_gives_spread_seed_std_and_the_ceiling(tmp_path: Path) -> None:
    from esnas.report import seed_agreement

    rows = ["bench.index,seed,test/acc1"]
    seed0 = [0.70, 0.75, 0.80, 0.85]
    seed1 = [0.72, 0.74, 0.83, 0.84]  # same order: rho 1
    rows += [f"{i},0,{a}" for i, a in enumerate(seed0)]
    rows += [f"{i},1,{a}" for i, a in enumerate(seed1)]
    rows += ["4,0,0.9"]  # an item with one seed only counts in the spread
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(rows) + "\n")
    stats = seed_agreement(path, "bench.index", "test/acc1")
    assert stats["items"] == 5 and stats["pairs"] == 4
    assert stats["min"] == 0.70 and stats["max"] == 0.9
    assert stats["seed_rho"] == pytest.approx(1.0)
    diffs = [abs(a - b) / 2**0.5 for a, b in zip(seed0, seed1, strict=True)]
    assert stats["seed_std"] == pytest.approx(sum(diffs) / 4)
    with pytest.raises(ValueError, match="needs columns"):
        seed_agreement(path, "genome", "test/acc1")
