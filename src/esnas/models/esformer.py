"""ESFormer: a hybrid CNN-Transformer timm model family whose architecture is a genome.

The genome (see ``esnas.spaces.esformer``) fixes a conv stem, four stages at strides
4/8/16/32 whose blocks are picked per position (MBConv, MBConv+SE, ConvNeXt, pooling
MetaFormer, global attention, downsampled-KV attention) and a norm-pool-linear head. The
model only needs the genome as a plain dict, so this package never imports the spaces.

Example:
    >>> import timm, esnas.models.esformer  # registers the entry points
    >>> model = timm.create_model("esformer_xs", num_classes=10)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import ConvNormAct, NormMlpClassifierHead, trunc_normal_
from timm.models import build_model_with_cfg, checkpoint_seq, generate_default_cfgs, register_model
from timm.models._features import feature_take_indices  # timm's own models import it so
from torch import nn

from esnas.models.esformer_blocks import Attention, block_cost, conv_out, create_block
from esnas.utils.errors import EsnasInputError

__all__ = ["ARCH_FORMAT", "ESFormer", "create_esformer", "genome_dict", "parse_arch"]

NUM_STAGES = 4
_STAGE_RE = re.compile(r"^(\d+)e(\d+):([a-z0-9]+(?:,[a-z0-9]+)*)$")
ARCH_FORMAT = "s<stem>h<head_dim>|<width>e<expansion>:<op>,<op>,...| x4 stages, e.g. " + (
    "s16h32|32e4:ir3,ir3|64e3:se3,cx5|112e3:cx5,ka|192e3:cx7,sa"
)


def parse_arch(arch: str) -> dict[str, Any]:
    """A canonical ESFormer arch string → the genome's dict form; ``ValueError`` naming the
    format. The grammar lives here so that training can read a string without the space."""
    parts = str(arch).strip().split("|")
    head = re.fullmatch(r"s(\d+)h(\d+)", parts[0])
    stages = [_STAGE_RE.match(p) for p in parts[1:]]
    if head is None or len(stages) != NUM_STAGES or not all(stages):
        raise EsnasInputError(f"bad ESFormer arch string {arch!r}; format: {ARCH_FORMAT}")
    return {
        "stem_width": int(head[1]),
        "head_dim": int(head[2]),
        "stages": [
            {"width": int(m[1]), "expansion": int(m[2]), "blocks": m[3].split(",")} for m in stages
        ],
    }


def genome_dict(genome: Any) -> dict[str, Any]:
    """Returns the plain-dict form of a genome given as a dict or as an object with ``to_dict``.

    The dict form is ``{"stem_width": int, "head_dim": int, "stages": [{"width": int,
    "expansion": int, "blocks": [op, ...]}, ...4 stages]}``.
    """
    d = genome.to_dict() if hasattr(genome, "to_dict") else genome
    if not isinstance(d, Mapping) or len(d.get("stages", ())) != NUM_STAGES:
        raise EsnasInputError(
            "ESFormer genome must be a dict {stem_width, head_dim, stages: [4 x {width, "
            "expansion, blocks}]} or have .to_dict(); got " + type(genome).__name__
        )
    return dict(d)


class ESFormerStage(nn.Module):
    """One stage: an optional 2x2 stride-2 downsample (norm + conv), then the blocks."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        ops: list[str],
        expansion: int,
        head_dim: int,
        downsample: bool,
        drop_path: list[float],
        act_layer: type[nn.Module],
    ) -> None:
        super().__init__()
        self.grad_checkpointing = False
        if downsample:
            self.downsample = nn.Sequential(
                nn.BatchNorm2d(in_chs), nn.Conv2d(in_chs, out_chs, 2, stride=2)
            )
        else:
            self.downsample = nn.Identity()
        self.blocks = nn.Sequential(
            *[
                create_block(op, out_chs, expansion, head_dim, dp, act_layer=act_layer)
                for op, dp in zip(ops, drop_path, strict=True)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return checkpoint_seq(self.blocks, x)
        return self.blocks(x)

    @staticmethod
    def cost(
        in_chs: int,
        out_chs: int,
        ops: list[str],
        expansion: int,
        head_dim: int,
        downsample: bool,
        size: int,
    ) -> tuple[int, int, int]:
        """(params, MACs, output size) on a ``size``×``size`` input map."""
        params = macs = 0
        if downsample:  # BN, then a 2x2 stride-2 conv with bias
            size = conv_out(size, 2, 2, 0)
            params += 2 * in_chs + 4 * in_chs * out_chs + out_chs
            macs += size * size * 4 * in_chs * out_chs
        for op in ops:
            p, m = block_cost(op, out_chs, expansion, head_dim, size, size)
            params, macs = params + p, macs + m
        return params, macs, size


class ESFormer(nn.Module):
    """Hybrid CNN-Transformer built from an ESFormer genome, with the full timm model API.

    Args:
        genome: The architecture, as a genome object (with ``to_dict``) or its dict form.
        num_classes: Classifier outputs; 0 removes the classifier.
        in_chans: Input channels.
        global_pool: Head pooling type (timm ``SelectAdaptivePool2d`` name).
        drop_rate: Dropout before the classifier.
        drop_path_rate: Stochastic-depth rate, linearly increasing over all blocks.
        act_layer: Activation used throughout.
        fused_attn: Force fused SDPA on/off (``None``: timm's default). Off makes attention
            explicit matmuls, which ``FlopCounterMode`` can count on CPU.
    """

    def __init__(
        self,
        genome: Any,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        act_layer: type[nn.Module] = nn.GELU,
        fused_attn: bool | None = None,
    ) -> None:
        super().__init__()
        g = genome_dict(genome)
        self.genome = g
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        stages = g["stages"]
        widths = [int(s["width"]) for s in stages]
        stem = int(g["stem_width"])
        self.stem = nn.Sequential(
            ConvNormAct(in_chans, stem, 3, stride=2, act_layer=act_layer),
            ConvNormAct(stem, widths[0], 3, stride=2, act_layer=act_layer),
        )
        depths = [len(s["blocks"]) for s in stages]
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.feature_info = []
        blocks, prev, start = [], widths[0], 0
        for i, s in enumerate(stages):
            blocks.append(
                ESFormerStage(
                    prev,
                    widths[i],
                    list(s["blocks"]),
                    int(s["expansion"]),
                    int(g["head_dim"]),
                    downsample=i > 0,
                    drop_path=dpr[start : start + depths[i]],
                    act_layer=act_layer,
                )
            )
            prev, start = widths[i], start + depths[i]
            self.feature_info.append(
                dict(num_chs=widths[i], reduction=4 * 2**i, module=f"stages.{i}")
            )
        self.stages = nn.Sequential(*blocks)
        self.num_features = self.head_hidden_size = widths[-1]
        self.head = NormMlpClassifierHead(
            widths[-1], num_classes, pool_type=global_pool, drop_rate=drop_rate
        )
        self.apply(self._init_weights)
        if fused_attn is not None:
            for m in self.modules():
                if isinstance(m, Attention):
                    m.fused_attn = fused_attn

    @staticmethod
    def cost(
        genome: Any, resolution: int = 224, num_classes: int = 1000, in_chans: int = 3
    ) -> tuple[int, int]:
        """Analytic (params, MACs) of ``ESFormer(genome, num_classes, in_chans)`` on a
        ``resolution``² input, summed from each part's own ``cost``; equal to the built model's
        ``sum(p.numel())`` and ``FlopCounterMode`` flops / 2 (tests hold it)."""
        g = genome_dict(genome)
        stem, stages = int(g["stem_width"]), g["stages"]
        size = conv_out(resolution, 3, 2, 1)  # two bias-free stride-2 3x3 convs with BN
        params, macs = in_chans * 9 * stem + 2 * stem, size * size * in_chans * 9 * stem
        size, prev = conv_out(size, 3, 2, 1), int(stages[0]["width"])
        params, macs = params + stem * 9 * prev + 2 * prev, macs + size * size * stem * 9 * prev
        for i, s in enumerate(stages):
            width = int(s["width"])
            p, m, size = ESFormerStage.cost(
                prev, width, list(s["blocks"]), int(s["expansion"]), int(g["head_dim"]), i > 0, size
            )
            params, macs, prev = params + p, macs + m, width
        params += 2 * prev  # the head's LayerNorm
        if num_classes > 0:
            params, macs = params + prev * num_classes + num_classes, macs + prev * num_classes
        return params, macs

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """No position embeddings or tokens to exempt; timm already skips 1-d params."""
        return set()

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Parameter groups for layer-wise LR decay: stem, then stage (or block) index."""
        blocks = (
            r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.blocks\.(\d+)", None), (r"^stages\.(\d+)\.downsample", (0,))]
        )
        return dict(stem=r"^stem", blocks=blocks)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for s in self.stages:
            s.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replaces the classifier (e.g. for fine-tuning); ``num_classes=0`` removes it."""
        self.num_classes = num_classes
        self.head.reset(num_classes, global_pool)

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """timm's intermediate-features API: the outputs of the stages ``indices`` selects
        (the last n for an int, all for ``None``), plus the final features unless
        ``intermediates_only``. ``norm`` is accepted for the API and changes nothing: the
        only norm is the head's, applied after pooling."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt={output_fmt!r} is invalid; valid: 'NCHW'")
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        stages = self.stages[: max_index + 1] if stop_early else self.stages
        intermediates = []
        x = self.stem(x)
        for i, stage in enumerate(stages):
            x = stage(x)
            if i in take_indices:
                intermediates.append(x)
        return intermediates if intermediates_only else (x, intermediates)

    def prune_intermediate_layers(
        self, indices: int | list[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Drops the stages after the last one ``indices`` needs (and the classifier);
        returns the kept indices."""
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        prune_end = max_index < len(self.stages) - 1
        self.stages = self.stages[: max_index + 1]
        if prune_end:
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
            pool = self.head.global_pool.pool_type  # the head is sized for the last stage
            self.head = NormMlpClassifierHead(self.num_features, 0, pool_type=pool)
            self.num_classes = 0
        elif prune_head:
            self.reset_classifier(0, "")
        return take_indices

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _cfg(**kwargs: Any) -> dict[str, Any]:
    return {
        "url": "",
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (7, 7),
        "crop_pct": 0.9,
        "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "stem.0.conv",
        "classifier": "head.fc",
        "license": "apache-2.0",
        **kwargs,
    }


default_cfgs = generate_default_cfgs(
    {f"esformer_{size}{kind}": _cfg() for size in ("xxs", "xs", "s") for kind in ("", "_hand")}
)


def create_esformer(
    genome: Any, pretrained: bool = False, variant: str = "esformer", **kwargs: Any
) -> ESFormer:
    """Builds an ESFormer for any genome through timm's builder (features_only, pretrained).

    A searched genome has no registered variant, so it gets the family's default cfg
    (ImageNet input and normalisation); pass ``pretrained_cfg_overlay=dict(file=...)`` with
    ``pretrained=True`` to load local weights.
    """
    if not kwargs.get("pretrained_cfg") and variant not in default_cfgs:
        kwargs["pretrained_cfg"] = _cfg(architecture=variant)
    return build_model_with_cfg(
        ESFormer,
        variant,
        pretrained,
        genome=genome_dict(genome),
        feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
        **kwargs,
    )


def _stages(*specs: tuple[int, int, str]) -> list[dict[str, Any]]:
    """Compact stage specs ``(width, expansion, "op,op,...")`` → the genome's stage dicts."""
    return [dict(width=w, expansion=e, blocks=ops.split(",")) for w, e, ops in specs]


# The family: the answers of the committed searches at 224 px (experiments/results/
# esformer_family.md, `make reproduce-esformer-family`), one per budget:
#   esnas-search experiment=esformer_<size>_search seed=0 budget.seconds=null torch_threads=1
# (the cyclic search, 150 evaluations, gaussian Entropic Score: the recipe's defaults, chosen on
# the ESFormer stand-in ground truth; see the README), at commit FAMILY_COMMIT.
FAMILY_COMMIT = "4a63f82"
SEARCHED: dict[str, str] = {
    "esformer_xxs": "s32h32|24e6:ir5,se7|32e4:ir7,ka,pl7,ka|64e4:cx7,se3,se7,se5,ir3,ir3"
    "|128e6:sa,ir3",
    "esformer_xs": "s24h64|48e4:se7,se3,ir7|96e4:cx3,ir7|112e3:se5,pl3,ir7,cx3,se5,se3,ir3"
    "|224e6:ir7",
    "esformer_s": "s32h16|48e6:se3,se3|96e3:se5,se7,ir5,cx3|192e6:ir5,ir3,se5,se5,cx7,ir7,se3"
    "|96e3:pl3,se3,pl7,se5",
}
# Hand-picked genomes at the same budgets (conv early, attention late, as EdgeNeXt / MobileViT
# do): the family before the search replaced it, kept for comparison as esformer_<size>_hand.
HAND_PICKED: dict[str, dict[str, Any]] = {
    "esformer_xxs_hand": dict(stem_width=16, head_dim=16, stages=_stages(
        (24, 4, "ir3,ir3,ir3"), (48, 4, "ir3,ir5,cx5,cx5"),
        (96, 3, "cx5,cx5,cx7,cx7,ka,ka"), (160, 3, "cx7,sa"))),
    "esformer_xs_hand": dict(stem_width=16, head_dim=32, stages=_stages(
        (48, 3, "ir3,ir3,ir3"), (64, 4, "se3,se5,cx5,cx5"),
        (112, 4, "cx5,cx5,cx7,cx7,ka,ka,sa"), (192, 4, "cx7,sa"))),
    "esformer_s_hand": dict(stem_width=24, head_dim=32, stages=_stages(
        (64, 4, "ir3,ir3,ir3"), (96, 4, "se3,se5,cx5,cx5"),
        (160, 4, "cx5,cx5,cx7,cx7,cx7,ka,ka,ka,sa"), (256, 4, "cx7,sa,sa"))),
}  # fmt: skip
GENOMES: dict[str, dict[str, Any]] = {
    **{name: parse_arch(arch) for name, arch in SEARCHED.items()},
    **HAND_PICKED,
}


@register_model
def esformer_xxs(pretrained: bool = False, **kwargs: Any) -> ESFormer:
    """ESFormer-XXS: the search's answer at the EdgeNeXt-XXS / MobileViT-XXS budget
    (<= 0.26 GMACs, <= 1.3M params at 224 px, 1000 classes).

    Found by ``esnas-search experiment=esformer_xxs_search seed=0 budget.seconds=null
    torch_threads=1`` at commit 4a63f82 (``make reproduce-esformer-family``;
    ``experiments/results/esformer_family.md``). The hand-picked genome it replaced is
    ``esformer_xxs_hand``.
    """
    return create_esformer(GENOMES["esformer_xxs"], pretrained, "esformer_xxs", **kwargs)


@register_model
def esformer_xxs_hand(pretrained: bool = False, **kwargs: Any) -> ESFormer:
    """ESFormer-XXS as hand-picked before the search replaced it (for comparison)."""
    return create_esformer(GENOMES["esformer_xxs_hand"], pretrained, "esformer_xxs_hand", **kwargs)


@register_model
def esformer_xs(pretrained: bool = False, **kwargs: Any) -> ESFormer:
    """ESFormer-XS: the search's answer at the EdgeNeXt-XS / MobileViT-XS budget
    (<= 0.6 GMACs, <= 2.6M params at 224 px, 1000 classes).

    Found by ``esnas-search experiment=esformer_xs_search seed=0 budget.seconds=null
    torch_threads=1`` at commit 4a63f82 (``make reproduce-esformer-family``;
    ``experiments/results/esformer_family.md``). The hand-picked genome it replaced is
    ``esformer_xs_hand``.
    """
    return create_esformer(GENOMES["esformer_xs"], pretrained, "esformer_xs", **kwargs)


@register_model
def esformer_xs_hand(pretrained: bool = False, **kwargs: Any) -> ESFormer:
    """ESFormer-XS as hand-picked before the search replaced it (for comparison)."""
    return create_esformer(GENOMES["esformer_xs_hand"], pretrained, "esformer_xs_hand", **kwargs)


@register_model
def esformer_s(pretrained: bool = False, **kwargs: Any) -> ESFormer:
    """ESFormer-S: the search's answer at the EdgeNeXt-S / MobileViT-S budget
    (<= 1.3 GMACs, <= 5.6M params at 224 px, 1000 classes).

    Found by ``esnas-search experiment=esformer_s_search seed=0 budget.seconds=null
    torch_threads=1`` at commit 4a63f82 (``make reproduce-esformer-family``;
    ``experiments/results/esformer_family.md``). The hand-picked genome it replaced is
    ``esformer_s_hand``.
    """
    return create_esformer(GENOMES["esformer_s"], pretrained, "esformer_s", **kwargs)


@register_model
def esformer_s_hand(pretrained: bool = False, **kwargs: Any) -> ESFormer:
    """ESFormer-S as hand-picked before the search replaced it (for comparison)."""
    return create_esformer(GENOMES["esformer_s_hand"], pretrained, "esformer_s_hand", **kwargs)
