"""``esnas-report --validate``: trained search answers placed among random genomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from esnas.cli.report import main as report_main
from esnas.validation import percentile, validate


def test_percentile_counts_ties_half() -> None:
    ref = [0.1, 0.2, 0.2, 0.3]
    assert percentile(0.05, ref) == 0 and percentile(0.4, ref) == 100
    assert percentile(0.2, ref) == pytest.approx(50.0)  # 1 below + 2 ties / 2 of 4


def _files(tmp: Path) -> tuple[Path, Path, Path, Path]:
    answers = tmp / "answers.csv"
    answers.write_text(
        "esformer_strategy,seed,best_arch,best_params,best_macs,best_attention_blocks,command\n"
        "cyclic,0,A,1e6,2e8,1,x\ncyclic,1,B,1.2e6,2.5e8,0,x\nrandom,0,C,9e5,2e8,2,x\n"
    )
    trained = tmp / "trained.csv"
    trained.write_text(
        "model,seed,test/acc1\nesformer:A,0,0.90\nesformer:A,1,0.88\nesformer:B,0,0.86\n"
        "esformer:C,0,0.80\n"
    )
    bench = tmp / "bench.csv"
    bench.write_text("model,seed,test/acc1\n" + "".join(f"r{i},0,0.8{i}\n" for i in range(10)))
    base = tmp / "base.csv"
    base.write_text("model,seed,test/acc1\nmobilevit_xxs,0,0.83\nmobilevit_xxs,1,0.84\n")
    return answers, trained, bench, base


def test_strategies_get_every_training_and_seed0_percentiles(tmp_path: Path) -> None:
    answers, trained, bench, _ = _files(tmp_path)
    results, ref = validate(answers, trained, bench, "esformer_strategy")
    cyclic, rand = results
    assert cyclic.name == "cyclic" and cyclic.searches == 2
    assert sorted(cyclic.accuracies) == [0.86, 0.88, 0.90]
    assert cyclic.percentiles == [100.0, 65.0]  # 0.90 beats all ten; 0.86 beats six, ties one
    assert rand.percentiles == [5.0] and len(ref) == 10
    with pytest.raises(ValueError, match="no column 'strategy'"):
        validate(answers, trained, bench, "strategy")


def test_cli_writes_the_table_with_baselines(tmp_path: Path) -> None:
    answers, trained, bench, base = _files(tmp_path)
    out = tmp_path / "v"
    # fmt: off
    argv = ["--validate", str(answers), "--trained", str(trained), "--truth", str(bench),
            "--group", "esformer_strategy", "--baselines", str(base), "--out", str(out)]
    # fmt: on
    assert report_main(argv) == 0
    md = out.with_suffix(".md").read_text()
    assert "| cyclic | 2 | 3 | 88.0 ± 2.0 | 82 ± 25 |" in md
    assert "| mobilevit_xxs | – | 2 | 83.5 ± 0.7 | 40 |" in md
    assert "| random genomes (the benchmark) | – | 10 | 84.5 ± 3.0 | 50 |" in md
    assert report_main([*argv[:6], "--out", str(out)]) == 2  # no --group: one-line error
