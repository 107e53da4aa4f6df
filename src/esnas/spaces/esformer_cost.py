"""Analytic params/MACs of an ESFormer genome: closed forms per layer, no torch, ~µs per genome.

Why analytic: the search evaluates costs of thousands of candidates (rejection sampling,
constraint checks) and building a model takes ~100 ms. The formulas mirror
``esnas.models.esformer_blocks`` layer by layer.

MACs are defined as ``torch.utils.flop_counter.FlopCounterMode`` flops / 2: convolutions,
linear layers and attention matmuls (q·kᵀ and attn·v) only; biases, norms, activations,
pooling, softmax and residual additions count zero. Params are ``sum(p.numel())`` of the
built model (BN running stats are buffers, not params).
"""

from __future__ import annotations

from collections.abc import Sequence

KV_STRIDE = 2  # keep equal to esnas.models.esformer_blocks.KV_STRIDE (checked by the tests)


def _make_div8(v: float) -> int:
    """timm ``make_divisible(v, 8)``: nearest multiple of 8, never below 90 % of ``v``."""
    new_v = max(8, int(v + 4) // 8 * 8)
    return new_v + 8 if new_v < 0.9 * v else new_v


def _conv_out(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


def block_cost(op: str, c: int, e: int, head_dim: int, h: int, w: int) -> tuple[int, int]:
    """(params, MACs) of one block ``op`` at width ``c``, expansion ``e`` on an h×w map."""
    n = h * w
    hid = c * e
    kind = op[:2]
    if kind in ("ir", "se"):
        k = int(op[2:])
        params = c * hid + 2 * hid + hid * k * k + 2 * hid + hid * c + 2 * c
        macs = n * (c * hid + hid * k * k + hid * c)
        if kind == "se":
            rd = _make_div8(c * 0.25)
            params += hid * rd + rd + rd * hid + hid
            macs += 2 * hid * rd
        return params, macs
    mlp_params = c * hid + hid + hid * c + c
    mlp_macs = 2 * n * c * hid
    if kind == "cx":
        k = int(op[2:])
        return c * k * k + c + 2 * c + mlp_params, n * c * k * k + mlp_macs
    if kind == "pl":
        return 4 * c + mlp_params, mlp_macs
    heads = max(1, c // head_dim)
    a = heads * head_dim  # attention inner width
    params = 4 * c + mlp_params + a * c + c  # two LayerNorms, MLP, output projection
    macs = mlp_macs + n * a * c
    if kind == "sa":
        params += 3 * a * c + 3 * a
        macs += 3 * n * c * a + 2 * n * n * a
        return params, macs
    # ka: queries from every token, keys/values from a stride-2 depthwise 3x3 of the map
    m = _conv_out(h, 3, KV_STRIDE, 1) * _conv_out(w, 3, KV_STRIDE, 1)
    params += c * a + a + 9 * c + 2 * c + 2 * a * c + 2 * a
    macs += n * c * a + m * 9 * c + 2 * m * c * a + 2 * n * m * a
    return params, macs


def esformer_cost(
    stem_width: int,
    head_dim: int,
    widths: Sequence[int],
    expansions: Sequence[int],
    blocks: Sequence[Sequence[str]],
    resolution: int = 224,
    num_classes: int = 1000,
    in_chans: int = 3,
) -> tuple[int, int]:
    """(params, MACs) of the whole ESFormer at ``resolution``×``resolution`` input."""
    s, c1 = stem_width, widths[0]
    h = _conv_out(resolution, 3, 2, 1)
    params = in_chans * 9 * s + 2 * s
    macs = h * h * in_chans * 9 * s
    h = _conv_out(h, 3, 2, 1)
    params += s * 9 * c1 + 2 * c1
    macs += h * h * s * 9 * c1
    prev = c1
    for i, (c, e, ops) in enumerate(zip(widths, expansions, blocks, strict=True)):
        if i > 0:  # BN + 2x2 stride-2 conv with bias
            h = _conv_out(h, 2, 2, 0)
            params += 2 * prev + 4 * prev * c + c
            macs += h * h * 4 * prev * c
        for op in ops:
            p, m = block_cost(op, c, e, head_dim, h, h)
            params += p
            macs += m
        prev = c
    params += 2 * prev  # head LayerNorm
    if num_classes > 0:
        params += prev * num_classes + num_classes
        macs += prev * num_classes
    return params, macs
