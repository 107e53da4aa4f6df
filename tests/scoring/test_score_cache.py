"""The score cache and the scorer over it: nothing is scored twice, timings survive."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from esnas.metrics import Probe
from esnas.scoring import ScoreCache, ScoreCacheError, Scorer, make_probe
from esnas.spaces import NB201Space
from esnas.utils.registry import UnknownNameError


def test_cache_persists_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "scores.sqlite"
    with ScoreCache(path) as cache:
        ctx = cache.register({"metric": "m", "probe": {"seed": 1}})
        cache.put(ctx, "a", 1.5, 0.25)
        cache.put(ctx, "b", -2.0, 0.5)
        cache.put(ctx, "b", -3.0, 0.75)  # a re-score replaces
    with ScoreCache(path) as cache:
        assert cache.get(ctx, "a") == (1.5, 0.25)
        assert cache.get_many(ctx, ["a", "b", "c"]) == {"a": (1.5, 0.25), "b": (-3.0, 0.75)}
        assert cache.count(ctx) == 2
        other = cache.register({"metric": "m", "probe": {"seed": 2}})
        assert other != ctx and cache.get(other, "a") is None


def test_corrupt_cache_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "scores.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ScoreCacheError, match=r"score cache .*scores\.sqlite is damaged.*mv "):
        ScoreCache(bad)


def _probe(space: NB201Space, **kw) -> Probe:
    return make_probe({"batch_size": 4, "num_inits": 1, "device": "cpu", **kw}, space)


def test_scorer_never_builds_a_scored_arch_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    space = NB201Space("cifar10")
    genome = space.sample(random.Random(0))
    scorer = Scorer(space, ["params", "logsynflow"], _probe(space))
    first = scorer.score(genome)
    assert not scorer.last_cached and scorer.last_seconds > 0
    assert first["params"] == space.cost(genome).params
    uncached_seconds = scorer.last_seconds

    def no_build(_genome):
        raise AssertionError("a cached architecture was rebuilt")

    monkeypatch.setattr(space, "build", no_build)
    assert scorer.score(genome) == first
    assert scorer.last_cached
    assert scorer.last_seconds == pytest.approx(uncached_seconds)  # reported as if uncached


def test_scorer_keys_scores_by_probe_and_options() -> None:
    space = NB201Space("cifar10")
    genome = space.from_index(123)
    cache = ScoreCache(None)
    a = Scorer(space, ["synflow"], _probe(space, seed=1), cache).score(genome)
    again = Scorer(space, ["synflow"], _probe(space, seed=1), cache)
    assert again.score(genome) == a and again.last_cached
    other_seed = Scorer(space, ["synflow"], _probe(space, seed=2), cache)
    assert other_seed.score(genome) != a and not other_seed.last_cached
    other_space = Scorer(NB201Space("cifar100"), ["synflow"], _probe(space, seed=1), cache)
    other_space.score(genome)
    assert not other_space.last_cached


def test_scorer_rejects_unknown_metric_in_one_line() -> None:
    space = NB201Space("cifar10")
    with pytest.raises(UnknownNameError) as info:
        Scorer(space, ["entropyy"], _probe(space))
    message = str(info.value)
    assert "\n" not in message and "entropic" in message and "logsynflow" in message


def test_default_options_spelled_out_share_the_cache() -> None:
    from esnas.metrics import METRICS

    space = NB201Space("cifar10")
    genome = space.from_index(7)
    cache = ScoreCache(None)
    implicit = Scorer(space, {"entropic": {}}, _probe(space), cache)
    implicit.score(genome)
    explicit = Scorer(space, {"entropic": METRICS.get("entropic").options()}, _probe(space), cache)
    explicit.score(genome)
    assert explicit.last_cached
    changed = Scorer(space, {"entropic": {"estimator": "gaussian"}}, _probe(space), cache)
    changed.score(genome)
    assert not changed.last_cached


def test_a_label_is_display_only_same_metric_and_options_share_the_cache() -> None:
    space = NB201Space("cifar10")
    genome = space.from_index(11)
    cache = ScoreCache(None)
    Scorer(space, {"entropic": {"estimator": "gaussian"}}, _probe(space), cache).score(genome)
    labelled = Scorer(space, {"entropic/g": {"estimator": "gaussian"}}, _probe(space), cache)
    assert set(labelled.score(genome)) == {"entropic/g"} and labelled.last_cached


def test_a_genomes_missing_metrics_are_scored_in_one_shared_call(monkeypatch) -> None:
    import esnas.scoring.scorer as scorer_mod

    space = NB201Space("cifar10")
    calls: list[list[str]] = []
    real = scorer_mod.score_model

    def counting(model, metrics, probe):
        calls.append(list(metrics))
        return real(model, metrics, probe)

    monkeypatch.setattr(scorer_mod, "score_model", counting)
    az = ["az_expressivity", "az_progressivity", "az_trainability"]
    scorer = Scorer(space, az, _probe(space))
    genome = space.sample(random.Random(0))
    forwards: list[int] = []
    build = space.build

    def build_counting(g):
        model = build(g)
        model.register_forward_hook(lambda *a: forwards.append(1))
        return model

    monkeypatch.setattr(space, "build", build_counting)
    first = scorer.score(genome)
    # one call; one forward shared by expressivity and progressivity, one (with its
    # backward) for trainability: three separate calls would run three
    assert calls == [az] and len(forwards) == 2
    assert scorer.score(genome) == first and len(calls) == 1  # then the cache answers


def test_forward_metrics_share_one_forward_and_keep_their_values() -> None:
    """Entropic Score, MeCo and AZ-NAS's forward components read one forward per init (the
    default fitness's three forward signals), with the values each gives alone."""
    from esnas.metrics import score_model

    space = NB201Space("cifar10")
    model = space.build(space.from_index(1234))
    forwards: list[int] = []
    model.register_forward_hook(lambda *a: forwards.append(1))
    probe = _probe(space, num_inits=2)
    names = ["entropic", "meco", "naswot", "az_expressivity", "az_progressivity", "logsynflow"]
    together = score_model(model, names, probe)
    # per init: one shared forward, NASWOT's own (not a generator: it runs before the shared
    # hooks are in place) and LogSynflow's (its float64 all-ones pass)
    assert len(forwards) == 3 * probe.num_inits
    for name in names:
        assert score_model(model, [name], probe)[name] == together[name]
