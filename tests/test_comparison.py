"""``esnas-report --compare``: each model at the LR its own seed-0 sweep chose on validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from esnas.cli.report import main as report_main
from esnas.comparison import compare
from esnas.utils.config import best_where

HEAD = "model.name,seed,lr,params,macs,macs_224,val/acc1_best,test/acc1,wall_time_s,command\n"


def _rows(tmp: Path) -> Path:
    rows = tmp / "rows.csv"
    rows.write_text(
        HEAD
        + "a,0,0.001,1e6,2e7,3e8,0.80,0.79,60,x\n"  # sweep of a: 2e-3 wins on validation ...
        + "a,0,0.002,1e6,2e7,3e8,0.84,0.70,60,x\n"  # ... although its test is the worst
        + "a,0,0.004,1e6,2e7,3e8,0.82,0.90,60,x\n"
        + "a,1,0.002,1e6,2e7,3e8,0.83,0.74,120,x\n"
        + "b,0,0.001,2e6,4e7,6e8,0.70,0.71,60,x\n"
        + "b,0,0.004,2e6,4e7,6e8,0.60,0.61,60,x\n"
    )
    return rows


def test_lr_is_chosen_on_validation_and_test_is_reported_at_it(tmp_path: Path) -> None:
    a, b = compare(_rows(tmp_path))
    assert (a.model, a.lr, b.lr) == ("a", 0.002, 0.001)
    assert a.test == [0.70, 0.74] and a.val == [0.84, 0.83]  # both seeds at 2e-3, none else
    assert a.sweep == {0.001: 0.80, 0.002: 0.84, 0.004: 0.82} and b.sweep == {
        0.001: 0.7,
        0.004: 0.6,
    }
    assert a.minutes == pytest.approx(1.5) and b.params == 2e6


def test_best_where_returns_the_column_of_the_best_matching_row(tmp_path: Path) -> None:
    rows = str(_rows(tmp_path))
    assert best_where(rows, "lr", "val/acc1_best", "model.name=b", "seed=0") == 0.001
    assert best_where(rows, "lr", "test/acc1", "model.name=a") == 0.004
    tie = tmp_path / "tie.csv"
    tie.write_text("lr,val\n0.004,0.8\n0.001,0.8\n0.002,0.7\n")
    assert best_where(str(tie), "lr", "val") == 0.001  # a tie goes to the lower LR
    with pytest.raises(ValueError, match=r"no row with model\.name=c"):
        best_where(rows, "lr", "val/acc1_best", "model.name=c")


def test_cli_writes_table_and_plot_and_rejects_a_missing_file(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cmp"
    assert report_main(["--compare", str(_rows(tmp_path)), "--out", str(out)]) == 0
    text = out.with_suffix(".md").read_text()
    assert "| a | 1.00 | 20.0 | 300 | 80.00 | 84.00 | 82.00 | 0.002 | 72.00 ± 2.83 (n=2)" in text
    assert "| b | 2.00 | 40.0 | 600 | 70.00 | – | 60.00 | 0.001 | 71.00 (n=1)" in text
    assert "6 trainings at commit(s) ?; 0.1 job-hours" in text  # 420 s of wall time
    assert out.with_suffix(".png").stat().st_size > 0
    assert report_main(["--compare", str(tmp_path / "none.csv")]) == 2
    assert "--compare" in capsys.readouterr().err


def test_value_or_best_takes_a_number_or_the_sweeps_choice(tmp_path: Path) -> None:
    from esnas.utils.config import value_or_best

    rows = str(_rows(tmp_path))
    assert value_or_best(0.003, rows, "lr", "val/acc1_best") == 0.003
    assert value_or_best("best", rows, "lr", "val/acc1_best", "model.name=a", "seed=0") == 0.002
    with pytest.raises(ValueError, match="valid: a number, or best"):
        value_or_best("fast", rows, "lr", "val/acc1_best")
