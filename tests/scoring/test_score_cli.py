"""``esnas-score`` as users call it: the CSV contract, resume, and one-line bad-input errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import esnas.scoring.run as score_run
from esnas.scoring.run import score_task
from esnas.spaces import NB201Space
from esnas.utils.task import run_task

SCRIPT = str(Path(sys.executable).parent / "esnas-score")


def _score(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}  # user-facing errors
    return subprocess.run(
        [SCRIPT, f"hydra.run.dir={tmp_path / 'run'}", "logger=csv", "probe.batch_size=4",
         "probe.num_inits=1", f"cache.path={tmp_path / 'cache.sqlite'}", *overrides],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_contract_columns_and_rerun_from_cache(tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    args = ("space=nb201", "metrics=[params,synflow]", "sample.n=3", "sample.seed=7",
            f"output={out}")  # fmt: skip
    first = _score(tmp_path, *args)
    assert first.returncode == 0, first.stderr
    rows = _rows(out)
    assert list(rows[0]) == [
        "arch", "index", "cost_params", "cost_macs", "params", "synflow", "build_seconds",
        "params_seconds", "synflow_seconds",
    ]  # fmt: skip
    space = NB201Space("cifar10")
    assert len({r["arch"] for r in rows}) == 3
    for row in rows:
        assert space.encode(space.from_index(int(row["index"]))) == row["arch"]
        assert int(float(row["params"])) == int(row["cost_params"])
        assert float(row["synflow"]) > 0 and float(row["synflow_seconds"]) > 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["figures"]["cached"] == 0

    again = _score(tmp_path, *args)
    assert again.returncode == 0, again.stderr
    assert _rows(out) == rows  # same rows, seconds included: they are the stored timings
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["figures"]["cached"] == 3


def test_fitness_column_is_the_default_searchs_final_fitness_over_the_sample(
    tmp_path: Path,
) -> None:
    from esnas.scoring.run import default_fitness
    from esnas.search.fitness import COMBINERS

    out = tmp_path / "fit.csv"
    result = _score(tmp_path, "metrics=[logsynflow,entropic,az_progressivity,meco,params]",
                    "sample.n=4", "probe.batch_size=4", "probe.num_inits=1", "fitness=true",
                    f"output={out}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = _rows(out)
    metrics, combine = default_fitness()
    assert metrics == ["entropic", "logsynflow", "az_progressivity", "meco"]
    assert combine == "log_rank"
    expect = COMBINERS.get(combine)([[float(r[m]) for r in rows] for m in metrics])
    assert [float(r["fitness"]) for r in rows] == pytest.approx(expect)
    bad = _score(tmp_path, "metrics=[params]", "sample.n=2", "fitness=true", f"output={out}.csv")
    assert bad.returncode == 2
    assert "add entropic, logsynflow, az_progressivity, meco to metrics" in bad.stderr


def test_dataset_picks_input_shape_and_head(tmp_path: Path) -> None:
    out = tmp_path / "in16.csv"
    result = _score(tmp_path, "space.dataset=ImageNet16-120", "metrics=[params]",
                    "sample.archs=['|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|']",
                    f"output={out}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    (row,) = _rows(out)
    space = NB201Space("ImageNet16-120")
    assert int(row["cost_params"]) == space.cost(space.decode(row["arch"])).params


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("metrics=[entropyy]", "unknown metric 'entropyy'; valid: az_complexity, az_"),
        ("sample.archs=['|conv~0|+|']", "arch"),
        ("sample.n=0", "sample.n=0 is invalid"),
        ("space=nb2O1", "unknown space 'nb2O1'; valid space options:"),
    ],
)
def test_bad_input_fails_in_one_line_without_output(
    tmp_path: Path, override: str, message: str
) -> None:
    out = tmp_path / "scores.csv"
    result = _score(tmp_path, override, f"output={out}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not out.exists()


def test_interrupted_run_resumes_without_rescoring(run_config, monkeypatch) -> None:
    overrides = ["metrics=[params]", "sample.n=5", "logger=none", "probe.num_inits=1"]
    overrides += ["partial_every=2"]
    cfg = run_config("score", overrides)
    calls: list[str] = []
    real_score = score_run.Scorer.score

    def flaky(self, genome):
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the fourth arch
        calls.append(self.space.encode(genome))
        return real_score(self, genome)

    monkeypatch.setattr(score_run.Scorer, "score", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_task(cfg, "score", score_task)
    assert not Path(cfg.output).exists()  # nothing half-written
    partial = score_run.partial_path(Path(cfg.output))  # the rows so far, named as such
    assert [r["arch"] for r in _rows(partial)] == calls[:2]

    built: list[str] = []
    monkeypatch.setattr(score_run.Scorer, "score", real_score)
    real_build = NB201Space.build
    monkeypatch.setattr(NB201Space, "build", lambda s, g: built.append(s.encode(g)) or
                        real_build(s, g))  # fmt: skip
    figures = run_task(cfg, "score", score_task)
    assert figures["archs"] == 5 and figures["cached"] == 3
    assert len(built) == 2 and not set(built) & set(calls)
    assert not partial.exists()  # the complete table replaces it


def test_shards_split_one_selection_without_overlap() -> None:
    space = NB201Space("cifar10")
    sample = {"n": 10, "seed": 3}
    whole = score_run.select_archs(space, sample)
    shards = [score_run.select_archs(space, {**sample, "shard": f"{i}/3"}) for i in range(3)]
    merged = [space.encode(g) for shard in shards for g in shard]
    assert sorted(merged) == sorted(map(space.encode, whole))
    assert [len(s) for s in shards] == [4, 3, 3]
    for bad in ("3/3", "1", "a/b"):
        with pytest.raises(ValueError, match=r"sample\.shard"):
            score_run.select_archs(space, {**sample, "shard": bad})
