"""A score cache written before a refactor must still hit after it: the keys hash the space,
the probe, each metric's full options (config defaults + registry defaults) and its revision,
so a change to any of those derivations would silently rescore everything.

The fixture was written at stop 21 (commit 0a15c77) by::

    esnas-score 'metrics=[entropic,logsynflow,az_progressivity,meco,naswot,
      {entropic/gaussian:{estimator:gaussian}}]' sample.n=2 sample.seed=0 probe.batch_size=4
      probe.num_inits=1 seed=0 cache.path=tests/data/score_cache_stop21.sqlite
      output=tests/data/score_cache_stop21.csv

A metric whose values change on purpose bumps its ``revision`` and this test's fixture is
re-written with it (then its old entries may miss: that is the point of a revision).

Re-keyed at issue 24 (transformer fixes): ``naswot`` (default ``hook`` ReLU -> every
activation), ``meco`` and ``az_progressivity`` (revision 1) have new keys; their rows were
moved to them with their values as written, after the old and the new code recomputed the
same values, bit for bit, on both cells (their NB201 values did not change; only models with
GELU units, (N, L, D) tokens or no NB201 / timm-stage layout did). The other three keys are
the stop-21 ones and must keep hitting.
"""

from __future__ import annotations

import csv
import shutil

from hydra.utils import instantiate

from esnas.scoring import Scorer, make_probe
from esnas.scoring.cache import open_cache
from esnas.scoring.run import metric_spec
from tests.conftest import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "data" / "score_cache_stop21"
OVERRIDES = [
    "metrics=[entropic,logsynflow,az_progressivity,meco,naswot,"
    "{entropic/gaussian:{estimator:gaussian}}]",
    "sample.n=2",
    "sample.seed=0",
    "probe.batch_size=4",
    "probe.num_inits=1",
    "seed=0",
    "logger=none",
]


def test_a_score_cache_written_before_still_hits_with_the_same_values(run_config, tmp_path):
    cache_file = tmp_path / "scores.sqlite"
    shutil.copy(FIXTURE.with_suffix(".sqlite"), cache_file)
    cfg = run_config("score", [*OVERRIDES, f"cache.path={cache_file}"])
    space = instantiate(cfg.space)
    cache = open_cache(cfg.cache)
    scorer = Scorer(space, metric_spec(cfg), make_probe(cfg.probe, space), cache)
    rows = list(csv.DictReader(FIXTURE.with_suffix(".csv").open()))
    assert len(rows) == 2
    try:
        for row in rows:
            got = scorer.lookup(space.decode(row["arch"]))  # computes nothing
            assert got == {label: float(row[label]) for label in scorer.labels}, row["arch"]
    finally:
        cache.close()


# The stop-21 keys: those of metrics whose values changed on some models (issue 24) must not
# serve the old scores any more; the others must stay the same.
STOP21_KEYS = {
    "entropic": ("5d30b8dae1e72a46ebb3", True),
    "logsynflow": ("1bd650665c7348be954e", True),
    "entropic/gaussian": ("ef437e1426022395978b", True),
    "az_progressivity": ("99d5eef3fc11c9b43913", False),
    "meco": ("82d91eab531b2679472d", False),
    "naswot": ("125f19c1672596137cb1", False),
}


def test_changed_metrics_get_new_keys_and_unchanged_ones_keep_theirs(run_config):
    cfg = run_config("score", [*OVERRIDES, "cache.path=null"])
    space = instantiate(cfg.space)
    scorer = Scorer(space, metric_spec(cfg), make_probe(cfg.probe, space), open_cache(cfg.cache))
    try:
        kept = {label: scorer._contexts[label] == key for label, (key, _) in STOP21_KEYS.items()}
    finally:
        scorer.close()
    assert kept == {label: same for label, (_, same) in STOP21_KEYS.items()}
