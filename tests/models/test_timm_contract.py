"""timm's own model contract, on every model ``timm.list_models("esformer*")`` lists.

The checks follow timm's ``tests/test_models.py`` (default cfgs, classifier reset, features,
backward), so a new ESFormer entry point is held to what timm holds its own models to.
"""

from __future__ import annotations

import pytest
import timm
import torch

import esnas.models.esformer  # noqa: F401  # registers the entry points

MODELS = timm.list_models("esformer*")
REQUIRED_CFG = ("input_size", "pool_size", "num_classes", "first_conv", "classifier", "mean")


def test_the_family_is_listed() -> None:
    assert len(MODELS) >= 6 and "esformer_xs" in MODELS


@pytest.mark.parametrize("name", MODELS)
@torch.no_grad()
def test_default_cfg_matches_the_model(name: str) -> None:
    model = timm.create_model(name).eval()
    cfg = model.pretrained_cfg
    assert all(cfg.get(key) is not None for key in REQUIRED_CFG), cfg
    x = torch.randn(1, *cfg["input_size"])
    features = model.forward_features(x)
    assert features.dim() == 4 and tuple(features.shape[-2:]) == tuple(cfg["pool_size"])
    assert features.shape[1] == model.num_features
    assert model.forward_head(features).shape == (1, cfg["num_classes"])
    assert model.forward_head(features, pre_logits=True).shape == (1, model.num_features)
    state = model.state_dict()
    assert f"{cfg['classifier']}.weight" in state and f"{cfg['first_conv']}.weight" in state
    assert state[f"{cfg['first_conv']}.weight"].shape[1] == cfg["input_size"][0]
    model.reset_classifier(0)
    assert model(x).shape == (1, model.num_features)
    model.reset_classifier(0, "")  # no pooling either: the unpooled map
    out = model(x)
    assert out.dim() == 4 and out.shape[1] == model.num_features


@pytest.mark.parametrize("name", MODELS)
def test_features_only_and_backward(name: str) -> None:
    x = torch.randn(2, 3, 64, 64)
    model = timm.create_model(name, num_classes=10, drop_path_rate=0.1).train()
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    backbone = timm.create_model(name, features_only=True).eval()
    with torch.no_grad():
        maps = backbone(x)
    info = backbone.feature_info
    assert [m.shape[1] for m in maps] == info.channels()
    assert [64 // m.shape[-1] for m in maps] == info.reduction()
