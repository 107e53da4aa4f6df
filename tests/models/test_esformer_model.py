"""ESFormer as a timm model family: entry points, the model API, features and local weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

import esnas.models.esformer  # noqa: F401  (registers the timm entry points)
from esnas.models.esformer import GENOMES, ESFormer, create_esformer, genome_dict
from esnas.models.esformer_blocks import ALL_OPS, create_block, parse_op

NAMES = tuple(f"esformer_{size}{kind}" for size in ("xxs", "xs", "s") for kind in ("", "_hand"))
X = torch.randn(2, 3, 64, 64)
TINY = dict(  # every block type once, smallest widths: cheap to build and run
    stem_width=16,
    head_dim=16,
    stages=[
        dict(width=16, expansion=2, blocks=["ir3", "se5"]),
        dict(width=32, expansion=2, blocks=["cx7", "ka"]),
        dict(width=64, expansion=2, blocks=["pl3", "sa"]),
        dict(width=96, expansion=2, blocks=["ka"]),
    ],
)


def test_entry_points_registered_with_cfgs() -> None:
    assert set(NAMES) <= set(timm.list_models("esformer*"))
    for name in NAMES:
        cfg = timm.models.get_pretrained_cfg(name).to_dict()
        assert cfg["input_size"] == (3, 224, 224) and cfg["num_classes"] == 1000
        assert (cfg["classifier"], cfg["first_conv"]) == ("head.fc", "stem.0.conv")
        assert cfg["mean"] == timm.data.IMAGENET_DEFAULT_MEAN


@torch.no_grad()
def test_create_model_forward_and_api() -> None:
    model = timm.create_model("esformer_xs", num_classes=10).eval()
    assert model(X).shape == (2, 10)
    feats = model.forward_features(X)
    assert feats.shape == (2, model.num_features, 2, 2)
    assert model.forward_head(feats, pre_logits=True).shape == (2, model.num_features)
    assert model.get_classifier().out_features == 10
    model.reset_classifier(5)
    assert model(X).shape == (2, 5)
    model.reset_classifier(0)
    assert model(X).shape == (2, model.num_features)
    assert model.no_weight_decay() == set()
    assert model.pretrained_cfg["first_conv"] == "stem.0.conv"
    first = model.get_submodule(model.pretrained_cfg["first_conv"])
    assert first.in_channels == 3


def test_features_only_four_stages() -> None:
    model = timm.create_model("esformer_xxs", features_only=True).eval()
    widths = [s["width"] for s in GENOMES["esformer_xxs"]["stages"]]
    assert model.feature_info.channels() == widths
    assert model.feature_info.reduction() == [4, 8, 16, 32]
    with torch.no_grad():
        outs = model(X)
    assert [tuple(o.shape[1:]) for o in outs] == [
        (w, 64 // r, 64 // r) for w, r in zip(widths, (4, 8, 16, 32), strict=True)
    ]


def test_pretrained_from_local_safetensors(tmp_path: Path) -> None:
    src = timm.create_model("esformer_xxs", num_classes=7)
    path = tmp_path / "esformer_xxs.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    overlay = dict(file=str(path), num_classes=7)  # the file's head size: keep its classifier
    loaded = timm.create_model(
        "esformer_xxs", pretrained=True, num_classes=7, pretrained_cfg_overlay=overlay
    )
    for k, v in src.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    # a head size unlike the cfg's keeps the backbone and drops the mismatched classifier
    other = timm.create_model(
        "esformer_xxs", pretrained=True, num_classes=3, pretrained_cfg_overlay=dict(file=str(path))
    )
    assert torch.equal(other.stem[0].conv.weight, src.stem[0].conv.weight)
    assert other.get_classifier().out_features == 3


def test_create_esformer_from_dict_or_object() -> None:
    class Genome:  # anything with to_dict works, so models never import the spaces
        def to_dict(self) -> dict:
            return TINY

    a = create_esformer(TINY, num_classes=4)
    b = create_esformer(Genome(), num_classes=4)
    assert isinstance(a, ESFormer) and a.pretrained_cfg["input_size"] == (3, 224, 224)
    assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters())
    with pytest.raises(ValueError, match="stages"):
        genome_dict({"stem_width": 16})


def test_every_op_trains_with_drop_path_and_checkpointing() -> None:
    model = ESFormer(TINY, num_classes=3, drop_path_rate=0.2)
    model.set_grad_checkpointing(True)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert {k for k in model.group_matcher()} == {"stem", "blocks"}


@torch.no_grad()
def test_fused_and_explicit_attention_agree() -> None:
    torch.manual_seed(0)
    fused = ESFormer(TINY, num_classes=3, fused_attn=True).eval()
    plain = ESFormer(TINY, num_classes=3, fused_attn=False).eval()
    plain.load_state_dict(fused.state_dict())
    x = torch.randn(2, 3, 96, 96)
    torch.testing.assert_close(fused(x), plain(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", ALL_OPS)
def test_blocks_keep_shape(op: str) -> None:
    block = create_block(op, 32, 2, 16).eval()
    x = torch.randn(1, 32, 7, 5)  # odd, non-square map: padding and KV downsampling
    with torch.no_grad():
        assert block(x).shape == x.shape
    with pytest.raises(ValueError, match="valid: ir3"):
        parse_op("ir4")


@torch.no_grad()
def test_forward_intermediates_matches_features_only_and_prunes() -> None:
    model = ESFormer(TINY, num_classes=10).eval()
    final, stages = model.forward_intermediates(X)
    assert torch.allclose(final, model.forward_features(X))
    assert [tuple(t.shape[1:3]) for t in stages] == [(16, 16), (32, 8), (64, 4), (96, 2)]
    last_two = model.forward_intermediates(X, indices=2, intermediates_only=True)
    assert [t.shape[1] for t in last_two] == [64, 96]
    early = model.forward_intermediates(X, indices=[1], stop_early=True, intermediates_only=True)
    assert torch.equal(early[0], stages[1])
    with pytest.raises(ValueError, match="valid: 'NCHW'"):
        model.forward_intermediates(X, output_fmt="NLC")
    assert model.prune_intermediate_layers([0, 1]) == [0, 1]
    assert len(model.stages) == 2 and model.num_features == 32
    assert model(X).shape == (2, 32)  # features of the last kept stage, pooled
    # timm's own wrapper builds on the same API
    wrapped = timm.create_model("esformer_xxs", features_only=True, feature_cls="getter")
    assert len(wrapped(X)) == 4


def test_the_family_is_the_searches_answer_and_names_its_command() -> None:
    from esnas.models.esformer import FAMILY_COMMIT, SEARCHED, parse_arch

    results = Path(__file__).resolve().parents[2] / "experiments" / "results"
    family = (results / "esformer_family.md").read_text()
    for size in ("xxs", "xs", "s"):
        name = f"esformer_{size}"
        assert f"`{SEARCHED[name]}`" in family  # the committed table shows the same genome
        assert GENOMES[name] == parse_arch(SEARCHED[name]) != GENOMES[f"{name}_hand"]
        doc = timm.models.model_entrypoint(name).__doc__ or ""
        assert f"experiment={name}_search seed=0" in doc and FAMILY_COMMIT in doc
