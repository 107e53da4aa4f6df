"""Every strategy on NB201 and on a tiny ESFormer budget, with the fake scorer."""

from __future__ import annotations

import random

import pytest

from esnas.search.constraints import Constraints, InfeasibleError
from esnas.search.strategy import STRATEGIES, EngineSettings, strategy_options
from esnas.spaces.esformer import ESFormerGenome
from esnas.spaces.nb201 import NB201Space
from esnas.utils.errors import EsnasInputError
from esnas.utils.registry import UnknownNameError
from tests.search.helpers import SHORT_CYCLIC, TINY_ESFORMER, history_of, make_recipe

STRATEGY_NAMES = ["cyclic", "combined", "freerea", "rea", "random"]
SMALL = {  # population sizes that leave room for evolution within the test budgets
    "cyclic": SHORT_CYCLIC,
    "combined": SHORT_CYCLIC,
    "freerea": ["strategy.population=10", "strategy.tournament=4"],
    "rea": ["strategy.population=10", "strategy.tournament=4"],
    "random": [],
}


def test_registry_has_every_strategy() -> None:
    assert set(STRATEGY_NAMES) <= set(STRATEGIES.names())


@pytest.mark.parametrize("space", ["nb201", "esformer"])
@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_strategy_runs_within_budget_and_constraints(run_config, tmp_path, name, space) -> None:
    space_args = TINY_ESFORMER if space == "esformer" else ["space.max_params=1e6"]
    cfg = run_config(
        "search", [f"strategy={name}", *SMALL[name], *space_args, "budget.evaluations=70", "seed=3"]
    )
    recipe = make_recipe(cfg, tmp_path / "out")
    figures = recipe.run()
    hist = recipe.engine.history
    assert figures["evaluations"] == len(hist) == 70
    assert all(recipe.constraints.ok(recipe.space.decode(r.arch)) for r in hist)
    if space == "nb201":
        assert all(r.params <= 1e6 for r in hist)
    else:
        assert all(r.macs <= 6e7 and r.params <= 1.5e6 for r in hist)
    if name != "random":
        assert any(r.op.startswith(("mutation", "crossover")) for r in hist)
    assert figures["best_arch"] == hist[figures["best_index"]].arch
    assert figures["search_seconds_uncached"] == pytest.approx(
        sum(r.seconds for r in hist), abs=1e-3
    )


def test_same_seed_same_history_other_seed_differs(run_config, tmp_path) -> None:
    args = ["strategy=cyclic", *SHORT_CYCLIC, *TINY_ESFORMER, "budget.evaluations=60"]
    runs = [
        make_recipe(run_config("search", [*args, f"seed={s}"]), tmp_path / f"r{i}")
        for i, s in enumerate([5, 5, 6])
    ]
    for r in runs:
        r.run()
    assert history_of(runs[0]) == history_of(runs[1])
    assert history_of(runs[0]) != history_of(runs[2])


def _size_part(g: ESFormerGenome) -> tuple:
    return (g.stem_width, g.head_dim, g.widths, g.expansions, g.depths)


def test_each_phase_changes_only_its_gene_group(run_config, tmp_path) -> None:
    cfg = run_config(
        "search",
        ["strategy=cyclic", *SHORT_CYCLIC, *TINY_ESFORMER, "budget.evaluations=100", "seed=1"],
    )
    recipe = make_recipe(cfg, tmp_path / "out")
    recipe.run()
    space, hist = recipe.space, recipe.engine.history
    phases = {r.phase for r in hist}
    assert phases == {"init", "topology", "size"}
    checked = {"topology": 0, "size": 0}
    for r in hist:
        if r.phase not in checked or "random" in r.op:
            continue
        child = space.decode(r.arch)
        parents = [space.decode(hist[p].arch) for p in r.parents]
        if r.phase == "topology":  # the size part is some parent's
            assert _size_part(child) in [_size_part(p) for p in parents], r
        else:  # ops are a parent's: same prefix, deeper stages repeat that parent's last op
            ok = any(
                all(
                    c[: len(p)] == p[: len(c)] and set(c[len(p) :]) <= {p[-1]}
                    for c, p in zip(child.blocks, par.blocks, strict=True)
                )
                for par in parents
            )
            assert ok, r
        checked[r.phase] += 1
    assert checked["topology"] > 10 and checked["size"] > 10


def test_nb201_runs_only_topology_phases_and_says_so(run_config, tmp_path, caplog) -> None:
    cfg = run_config("search", ["strategy=cyclic", *SHORT_CYCLIC, "budget.evaluations=60"])
    with caplog.at_level("INFO"):
        recipe = make_recipe(cfg, tmp_path / "out")
        recipe.run()
    assert {r.phase for r in recipe.engine.history} == {"init", "topology"}
    assert "has no size genes: only topology phases run" in caplog.text


def test_nats_sss_runs_only_size_phases(run_config, tmp_path) -> None:
    cfg = run_config(
        "search", ["space=nats_sss", "strategy=cyclic", *SHORT_CYCLIC, "budget.evaluations=60"]
    )
    recipe = make_recipe(cfg, tmp_path / "out")
    recipe.run()
    assert {r.phase for r in recipe.engine.history} == {"init", "size"}


def test_budget_scaling_stretches_phases(run_config, tmp_path) -> None:
    cfg = run_config("search", ["strategy.scale_with_budget=true", "budget.evaluations=300"])
    recipe = make_recipe(cfg, tmp_path / "out")
    assert recipe.strategy.phase_steps == {"topology": 30, "size": 30}
    assert recipe.strategy.init_steps == 5


def test_unknown_strategy_lists_the_choices(run_config, tmp_path) -> None:
    cfg = run_config("search", ["strategy.name=cyclc"])
    with pytest.raises(
        UnknownNameError,
        match="unknown strategy 'cyclc'; valid: combined, cyclic, freerea, random, rea",
    ):
        make_recipe(cfg, tmp_path / "out")


def test_an_unmeetable_budget_gives_the_closest_cost(run_config, tmp_path) -> None:
    cfg = run_config("search", ["space.max_params=1000", "+space.max_tries=50"])
    recipe = make_recipe(cfg, tmp_path / "out")
    with pytest.raises(
        EsnasInputError, match=r"no nb201 genome under .*max_params=1000.0.*closest"
    ):
        recipe.run()


def test_custom_checks_are_honoured_and_an_impossible_one_is_a_clear_error() -> None:
    space = NB201Space()
    convs = Constraints(space, checks=[lambda g, c: "nor_conv_3x3" in g.ops])
    rng = random.Random(0)
    assert all("nor_conv_3x3" in convs.sample(rng).ops for _ in range(20))
    never = Constraints(space, checks=[lambda g, c: False], max_tries=20)
    with pytest.raises(InfeasibleError, match="1 custom check"):
        never.sample(rng)


def test_esformer_budget_error_propagates(run_config, tmp_path) -> None:
    cfg = run_config("search", ["space=esformer", "space.max_macs=1e6", "space.max_tries=200"])
    recipe = make_recipe(cfg, tmp_path / "out")
    with pytest.raises(ValueError, match="cheapest in space"):
        recipe.run()


def test_missing_metric_is_named(run_config, tmp_path) -> None:
    from hydra.utils import instantiate

    from esnas.search.recipe import SearchRecipe
    from tests.search.fakes import FakeScorer

    cfg = run_config("search", [])
    recipe = SearchRecipe(tmp_path, scorer=FakeScorer(instantiate(cfg.space), ["entropic"]))
    with pytest.raises(
        ValueError,
        match=r"needs metric.s. az_progressivity, logsynflow, meco .*"
        r"metrics=\[entropic,az_progressivity,logsynflow,meco\]",
    ):
        recipe.setup(cfg)


def test_the_strategy_node_splits_into_engine_settings_and_the_strategys_own() -> None:
    settings, own = EngineSettings.split(
        {"combine": "rank", "unique": False, "population": 20, "rescore": None}
    )
    assert (settings.combine, settings.unique, settings.rescore) == ("rank", False, {})
    assert own == {"population": 20}
    with pytest.raises(UnknownNameError, match="valid: "):
        EngineSettings.split({"combine": "rnak"})
    with pytest.raises(EsnasInputError, match="checkpoint_every"):
        EngineSettings(checkpoint_every=0)


@pytest.mark.parametrize("strategy", ["cyclic", "rea", "freerea", "random"])
def test_every_strategy_config_holds_only_known_options(run_config, strategy: str) -> None:
    cfg = run_config("search", [f"strategy={strategy}"])
    node = dict(cfg.strategy)
    name = node.pop("name")
    _, own = EngineSettings.split(node)
    assert set(own) <= set(strategy_options(STRATEGIES.get(name)))


def test_an_unknown_strategy_option_is_a_one_line_input_error(run_config, tmp_path) -> None:
    cfg = run_config("search", ["strategy=rea", "+strategy.tournement=5"])
    with pytest.raises(
        EsnasInputError, match=r"'rea' has no option.*tournement; valid: .*tournament"
    ):
        make_recipe(cfg, tmp_path / "out")
