"""``esnas-report --correlate``: score CSVs ranked against a trained rows CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from esnas.cli.report import main as report_main
from esnas.correlation import correlations, labels_of


def _truth(path: Path) -> Path:
    rows = ["model,seed,test/acc1"]
    rows += [f"esformer:a{i},0,{0.70 + i / 100}" for i in range(6)]  # a model name: space:arch
    rows += [f"esformer:a{i},1,{0.71 + i / 100 - (0.02 if i == 2 else 0)}" for i in range(4)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _scores(path: Path, flip: bool = False) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "cost_params", "trait/attention_blocks", "good", "bad", "good_seconds"])
        for i in range(6):
            w.writerow([f"a{i}", 100 - i, i % 2, -i if flip else i, -i, 0.1])
        w.writerow(["unlabelled", 1, 0, 99, 99, 0.1])  # not in the truth: left out
    return path


def test_labels_take_the_lowest_seed(tmp_path: Path) -> None:
    labels = labels_of(_truth(tmp_path / "t.csv"), "model", "test/acc1")
    assert labels["a2"] == pytest.approx(0.72) and len(labels) == 6


def test_rho_tau_per_score_combo_and_trait_over_probe_seeds(tmp_path: Path) -> None:
    labels = labels_of(_truth(tmp_path / "t.csv"), "model", "test/acc1")
    settings = {"64px": [_scores(tmp_path / "s0.csv"), _scores(tmp_path / "s1.csv", flip=True)]}
    table = correlations(settings, labels, combos=["good+bad", "good+cost_params"])
    assert table["bad"]["64px"].rho == pytest.approx([-1.0, -1.0])
    assert table["good"]["64px"].rho == pytest.approx([1.0, -1.0])  # the second seed flipped it
    assert table["good"]["64px"].n == 6 and "good_seconds" not in table
    assert table["cost_params"]["64px"].tau == pytest.approx([-1.0, -1.0])
    assert table["good+bad"]["64px"].rho[0] == pytest.approx(0.0, abs=1e-9)  # ranks cancel
    trait = table["bad"]["64px"].trait_rho["trait/attention_blocks"][0]
    assert -1 < trait < 0  # odd genomes (attention) score... nothing exact, but not unrelated


def test_cli_writes_table_with_ceiling_csv_and_plot(tmp_path: Path) -> None:
    truth, s0 = _truth(tmp_path / "t.csv"), _scores(tmp_path / "s0.csv")
    out = tmp_path / "res" / "corr"
    argv = ["--correlate", f"64 px={s0}", "--correlate", f"224 px={s0}", "--truth", str(truth),
            "--combine", "good+bad", "--trait", "attention_blocks", "--out", str(out)]  # fmt: skip
    assert report_main(argv) == 0
    md = out.with_suffix(".md").read_text()
    assert "Ceiling" in md and "over 4 genomes trained twice" in md
    assert md.startswith("# Training-free scores against a trained ground truth")
    assert "| `good` | 1.000 | 1.000 | " in md and "ρ with attention_blocks (224 px)" in md
    assert md.index("`good`") < md.index("`bad`")  # best first
    assert out.with_suffix(".png").stat().st_size > 0 and out.with_suffix(".csv").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--correlate", "nosep", "--truth", "t.csv"], "valid: SETTING=CSV"),
        (["--correlate", "x=missing.csv", "--truth", "t.csv"], "no file missing.csv"),
        (["--correlate", "x=s0.csv", "--truth", "nope.csv"], "valid: an esnas-report --rows CSV"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, monkeypatch, capsys, argv: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _truth(tmp_path / "t.csv"), _scores(tmp_path / "s0.csv")
    assert report_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_protocol_can_come_from_a_file(tmp_path: Path) -> None:
    truth, s0 = _truth(tmp_path / "t.csv"), _scores(tmp_path / "s0.csv")
    (tmp_path / "p.md").write_text("**Protocol.** noise batch of 8.\n")
    out = tmp_path / "c"
    argv = ["--correlate", f"x={s0}", "--truth", str(truth), "--out", str(out)]
    assert report_main([*argv, "--protocol", f"@{tmp_path / 'p.md'}"]) == 0
    md = out.with_suffix(".md").read_text()
    assert "**Protocol.** noise batch of 8." in md and f"--protocol @{tmp_path / 'p.md'}" in md
    assert report_main([*argv, "--protocol", "@missing.md"]) == 2


def test_benchmark_truth_one_column_per_setting_with_picks(tmp_path: Path) -> None:
    truth = tmp_path / "bench.csv"  # a benchmark's table: no seed column, no ceiling
    truth.write_text("arch_str,c10,c100\n" + "".join(f"a{i},{90 + i},{70 - i}\n" for i in range(6)))
    s0 = _scores(tmp_path / "s0.csv")
    out = tmp_path / "nb"
    argv = ["--correlate", f"cifar10={s0}", "--correlate", f"cifar100={s0}", "--truth", str(truth),
            "--key", "arch_str", "--figure", "cifar10=c10", "cifar100=c100",
            "--combine", "good+bad@log_rank", "--out", str(out)]  # fmt: skip
    assert report_main(argv) == 0
    md = out.with_suffix(".md").read_text()
    assert "no ceiling" in md and "`c10` (cifar10), `c100` (cifar100)" in md
    # good ranks c10 perfectly (its argmax a5 has 95) and c100 backwards (a5 has 65)
    assert "| `good` | 1.000 | 1.000 | 95.00 | -1.000 | -1.000 | 65.00 |" in md
    assert "`good+bad@log_rank`" in md
    bad = ["--correlate", f"cifar10={s0}", "--truth", str(truth), "--key", "arch_str",
           "--figure", "cifar100=c100", "--out", str(out)]  # fmt: skip
    assert report_main(bad) == 2  # no figure for cifar10


def test_a_csv_shard_keeps_every_kth_row(tmp_path: Path) -> None:
    labels = labels_of(_truth(tmp_path / "t.csv"), "model", "test/acc1")
    s0 = _scores(tmp_path / "s0.csv")  # rows a0..a5, then one unlabelled
    halves = {"even": [Path(f"{s0}@0/2")], "odd": [Path(f"{s0}@1/2")]}
    table = correlations(halves, labels)
    assert table["good"]["even"].n == 3 and table["good"]["odd"].n == 3  # a0 a2 a4 | a1 a3 a5
    assert table["good"]["odd"].pick == [pytest.approx(0.75)]  # a5, the best of the odd half


def test_a_constant_score_shows_no_correlation_and_breaks_nothing(tmp_path: Path) -> None:
    truth, s0 = _truth(tmp_path / "t.csv"), tmp_path / "s0.csv"
    s0.write_text(
        "arch,flat,trait/attention_blocks\n" + "".join(f"a{i},7,{i % 2}\n" for i in range(6))
    )
    out = tmp_path / "c"
    argv = ["--correlate", f"a={s0}", "--correlate", f"b={s0},{s0}", "--truth", str(truth),
            "--trait", "attention_blocks", "--out", str(out)]  # fmt: skip
    assert report_main(argv) == 0  # a saturated metric (SWAP on 8 samples) is constant
    assert "| `flat` | – | – |" in out.with_suffix(".md").read_text()
