"""Registry, probe validation, runner protocol (seeding, inference mode, restoring state)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
import yaml
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError, ValidationError
from torch import nn

from esnas.metrics.base import (
    METRICS,
    Probe,
    make_generator,
    register_metric,
    reinit_,
    score_model,
)
from esnas.utils.errors import EsnasInputError
from esnas.utils.registry import UnknownNameError
from tests.metrics.metric_nets import ALL, FORWARD_ONLY, conv_net, probe

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_at_least_nine_metrics_registered() -> None:
    assert set(ALL) <= set(METRICS.names())


def test_duplicate_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_metric("logsynflow")(lambda model, ctx: 0.0)


def test_unknown_name_lists_valid_names_on_one_line() -> None:
    with pytest.raises(UnknownNameError) as err:
        score_model(conv_net(), ["nope"], probe())
    msg = str(err.value)
    assert "\n" not in msg and "'nope'" in msg and "logsynflow" in msg and "naswot" in msg


def test_unknown_option_lists_valid_options() -> None:
    with pytest.raises(ValueError, match="valid: estimator, aggregate_elements"):
        score_model(conv_net(), {"entropic": {"estimatr": "binary"}}, probe())


@pytest.mark.parametrize(
    ("kw", "valid"),
    [
        ({"input": "image"}, "noise, ones, batch"),
        ({"bn_mode": "off"}, "train, eval, identity"),
        ({"dtype": "half"}, "float32, float64"),
        ({"num_inits": 0}, ">= 1"),
    ],
)
def test_probe_rejects_bad_values_naming_valid_ones(kw: dict, valid: str) -> None:
    with pytest.raises(ValueError, match=valid) as err:
        Probe(**kw)
    assert "\n" not in str(err.value)


def test_probe_batch_input_needs_a_tensor_and_takes_its_shape() -> None:
    with pytest.raises(ValueError, match=r"probe\.batch"):
        Probe(input="batch")
    assert Probe(input="batch", batch=torch.zeros(2, 3, 5, 7)).input_shape == (3, 5, 7)


def test_metric_schemas_are_their_signatures() -> None:
    """``metric/<name>`` is the options schema made from the signature: same names, defaults."""
    for name in METRICS.names():
        if name not in ALL:
            continue  # registered by another test module
        schema = OmegaConf.structured(METRICS.get(name).options_schema())
        opts = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in METRICS.get(name).options().items()
        }
        assert OmegaConf.to_container(schema) == opts, name


def test_metric_schema_types_values_from_annotations() -> None:
    schema = OmegaConf.structured(METRICS.get("entropic").options_schema())
    with pytest.raises(ValidationError):
        schema.log = "abc"  # a bool option
    schema.width_normalise = None  # Optional[str]
    schema.hook = ["act", "norm"]  # a union OmegaConf cannot hold: Any
    with pytest.raises(ConfigAttributeError):
        schema.bogus = 1


def test_a_new_metric_gets_its_config_group_option(run_config) -> None:
    @register_metric("schema_probe_metric")
    def _metric(model, ctx, scale: float = 2.0, tags: tuple[str, ...] = ("a",)):
        return scale

    pick = "+metric@metric_options.schema_probe_metric=schema_probe_metric"
    cfg = run_config("score", [pick])  # no YAML file: the node comes from the signature
    assert OmegaConf.to_container(cfg.metric_options.schema_probe_metric) == {
        "scale": 2.0,
        "tags": ["a"],
    }


def test_probe_config_matches_probe_fields() -> None:
    cfg = yaml.safe_load((CONF / "probe" / "default.yaml").read_text())
    cfg.pop("_target_")
    cfg["seed"] = 0
    assert Probe(**cfg) == Probe()


def test_reinit_is_deterministic_and_follows_the_protocol() -> None:
    a, b = conv_net(), conv_net()
    reinit_(a, make_generator(0, 0, "weights"))
    reinit_(b, make_generator(0, 0, "weights"))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    big = nn.Linear(400, 300)
    reinit_(big, make_generator(0, 0, "weights"))
    assert big.weight.std().item() == pytest.approx(math.sqrt(2 / 300), rel=0.05)  # fan_out
    assert torch.all(big.bias == 0)
    assert torch.all(a[1].weight == 1) and torch.all(a[1].bias == 0)
    reinit_(big, make_generator(0, 0, "weights"), linear_init="trunc_normal")
    # timm's convention: std .02, cut at ±2 absolute (in effect untruncated)
    assert big.weight.std().item() == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize("name", ["entropic", "logsynflow", "naswot", "snip"])
def test_same_seed_same_score_different_seed_different(name: str) -> None:
    model = conv_net()
    s0 = score_model(model, [name], probe(seed=0))[name]
    assert score_model(model, [name], probe(seed=0))[name] == s0
    assert score_model(conv_net(), [name], probe(seed=0))[name] == s0  # a fresh build too
    assert score_model(model, [name], probe(seed=1))[name] != s0


def test_scores_do_not_depend_on_which_other_metrics_run() -> None:
    model = conv_net()
    alone = score_model(model, ["snip"], probe())["snip"]
    assert score_model(model, ["entropic", "zico", "snip"], probe())["snip"] == alone


def test_forward_only_metrics_run_under_inference_mode() -> None:
    model = conv_net()
    seen: list[tuple[bool, bool]] = []
    model.register_forward_hook(
        lambda m, i, o: seen.append((torch.is_inference_mode_enabled(), o.requires_grad))
    )
    for name in FORWARD_ONLY:
        seen.clear()
        score_model(model, [name], probe(num_inits=1))
        assert seen and all(inf and not grad for inf, grad in seen), name
    seen.clear()
    score_model(model, ["logsynflow"], probe(num_inits=1))
    assert seen == [(False, True)]


def test_model_is_restored_after_every_metric() -> None:
    model = conv_net()
    model[1].running_mean.fill_(0.5)
    model.train()
    model[4].eval()
    before = copy.deepcopy(model.state_dict())
    score_model(model, list(ALL), probe(num_inits=1), reinit=False)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # params, signs, BN stats
    assert all(p.dtype == torch.float32 and p.grad is None for p in model.parameters())
    assert model.training and not model[4].training and model[1].training
    assert "forward" not in vars(model[1])  # the identity BN forward is gone


def test_reinit_happens_in_place() -> None:
    model = conv_net()
    weight, data = model[0].weight, model[0].weight.detach().clone()
    score_model(model, ["params"], probe(num_inits=1))
    assert model[0].weight is weight and not torch.equal(weight, data)


def test_non_finite_init_gives_the_floor() -> None:
    @register_metric("_test_nan", floor=-7.0)
    def _nan(model: nn.Module, ctx, fail_on: int = 1) -> float:
        return float("nan") if ctx.init == fail_on else 1.0

    assert score_model(conv_net(), ["_test_nan"], probe(num_inits=2))["_test_nan"] == -7.0
    assert score_model(conv_net(), {"_test_nan": {"fail_on": 5}}, probe())["_test_nan"] == 1.0


def test_a_class_can_be_a_metric_with_options() -> None:
    @register_metric("_test_cls", per_init=False, floor=0.0)
    class Scaled:
        def __init__(self, scale: float = 2.0) -> None:
            self.scale = scale

        def __call__(self, model: nn.Module, ctx) -> float:
            return self.scale * ctx.input_shape[0]

    assert METRICS.get("_test_cls").options() == {"scale": 2.0}
    out = score_model(conv_net(), {"_test_cls": {}, "_test_cls/x": {"scale": 0.5}}, probe())
    assert out == {"_test_cls": 6.0, "_test_cls/x": 1.5}


def test_metrics_items_are_checked_against_the_schema(run_config) -> None:
    from esnas.scoring.run import metric_spec

    ok = run_config("score", ["metrics=[{entropic/g: {estimator: gaussian}},naswot]"])
    assert metric_spec(ok)["entropic/g"]["estimator"] == "gaussian"
    for bad, reason in [("{log: abc}", "not a valid bool"), ("{bogus: 1}", "'bogus' not in")]:
        cfg = run_config("score", [f"metrics=[{{entropic/x: {bad}}}]"])
        with pytest.raises(EsnasInputError, match=reason) as err:
            metric_spec(cfg)
        message = str(err.value)
        assert "\n" not in message and "valid options (defaults): estimator=" in message
