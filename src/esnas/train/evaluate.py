"""The evaluation task behind ``esnas-eval``: accuracy, throughput, params and MACs of weights.

Reads a Lightning checkpoint (its model spec, class count and data config come with it) or
exported safetensors (spec from the file's metadata, data from the config), so a trained
model is judged on the same validation set and transforms it was selected on.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from esnas.train.arch import build_model, model_spec, spec_label
from esnas.train.export import (
    build_from_weights,
    load_checkpoint,
    load_into,
    net_state_from_checkpoint,
)
from esnas.train.module import accuracy_metrics
from esnas.utils.console import get_logger
from esnas.utils.device import resolve_device, resolve_precision
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import RunContext

log = get_logger(__name__)

__all__ = ["count_macs", "eval_task", "evaluate_accuracy", "measure_throughput"]

SPLITS = ("val", "test")


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _autocast(device: torch.device, precision: str) -> Any:
    enabled = str(resolve_precision(precision, device)).startswith("bf16")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


@torch.inference_mode()
def evaluate_accuracy(
    net: nn.Module, loader: DataLoader, num_classes: int, device: torch.device, precision: str
) -> dict[str, float]:
    """Top-1/top-5 accuracy and mean cross-entropy of ``net`` over ``loader``."""
    metrics = accuracy_metrics(num_classes, "").to(device)
    loss_sum, n = 0.0, 0
    net.eval()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        with _autocast(device, precision):
            logits = net(x).float()
        loss_sum += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        n += len(y)
        metrics.update(logits, y)
    out = {k: round(float(v), 6) for k, v in metrics.compute().items()}
    out["loss"] = round(loss_sum / max(1, n), 6)
    out["num_images"] = n
    return out


@torch.inference_mode()
def measure_throughput(
    net: nn.Module,
    input_shape: tuple[int, int, int],
    batch_size: int,
    device: torch.device,
    precision: str,
    warmup: int = 2,
    iters: int = 5,
) -> float:
    """Inference images per second at ``batch_size`` (median of ``iters`` timed batches)."""
    net.eval()
    x = torch.randn(batch_size, *input_shape, device=device)
    times = []
    for i in range(warmup + iters):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with _autocast(device, precision):
            net(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    return round(batch_size / times[len(times) // 2], 2)


def count_macs(net: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """MACs of one image (``FlopCounterMode`` FLOPs / 2, the convention of the search space)."""
    counter = FlopCounterMode(display=False)
    p = next(net.parameters())
    with torch.no_grad(), counter:
        net.eval()(torch.zeros(1, *input_shape, device=p.device, dtype=p.dtype))
    return int(counter.get_total_flops() // 2)


def _from_checkpoint(cfg: Any, path: str) -> tuple[nn.Module, dict, dict, int]:
    ckpt = load_checkpoint(path)
    hp = ckpt["hyper_parameters"]
    spec = model_spec(_plain(cfg.model)) if cfg.get("model") else dict(hp["model"])
    num_classes = int(hp["num_classes"])
    net = build_model(spec, num_classes, int(hp.get("in_chans", 3)))
    use_ema = bool(cfg.get("use_ema", True)) and (hp.get("ema") or {}).get("eval", True)
    load_into(net, net_state_from_checkpoint(ckpt, ema=use_ema), spec, f"checkpoint {path!r}")
    data_cfg = _plain(cfg.data) if cfg.get("data") else (hp.get("run_config") or {}).get("data")
    if not data_cfg:
        raise EsnasInputError(f"checkpoint {path!r} stores no data config; set data=...")
    return net, spec, data_cfg, num_classes


def _from_weights(cfg: Any, path: str) -> tuple[nn.Module, dict, dict, int]:
    if not cfg.get("data"):
        raise EsnasInputError("esnas-eval weights=... needs data=... (e.g. data=fashion_mnist)")
    data_cfg = _plain(cfg.data)
    spec = model_spec(_plain(cfg.model)) if cfg.get("model") else None
    net, spec = build_from_weights(path, spec, int(data_cfg["num_classes"]))
    return net, spec, data_cfg, int(data_cfg["num_classes"])


def eval_task(ctx: RunContext) -> dict[str, Any]:
    """Evaluates ``ckpt_path`` or ``weights``: top-1/top-5, img/s, params and MACs."""
    cfg = ctx.cfg
    ckpt, weights = cfg.get("ckpt_path"), cfg.get("weights")
    if bool(ckpt) == bool(weights):
        raise EsnasInputError(
            "set exactly one of ckpt_path=<lightning .ckpt> and weights=<exported .safetensors>"
        )
    split = cfg.get("split", "val")
    if split not in SPLITS:
        raise EsnasInputError(f"split={split!r} is invalid; valid: {', '.join(SPLITS)}")
    net, spec, data_cfg, num_classes = (
        _from_checkpoint(cfg, ckpt) if ckpt else _from_weights(cfg, weights)
    )
    data_cfg = dict(data_cfg)
    if cfg.get("batch_size"):
        data_cfg["batch_size"] = data_cfg["eval_batch_size"] = int(cfg.batch_size)
    data_cfg["num_workers"] = int(cfg.get("num_workers", data_cfg.get("num_workers", 0)))
    datamodule = instantiate(data_cfg)
    datamodule.setup("validate" if split == "val" else "test")
    loader = datamodule.val_dataloader() if split == "val" else datamodule.test_dataloader()
    device = torch.device(resolve_device(cfg.get("device", "auto")))
    precision = str(cfg.get("precision", "auto"))
    net = net.to(device)
    if cfg.get("channels_last", False):
        net = net.to(memory_format=torch.channels_last)
    shape = (int(data_cfg.get("in_chans", 3)), int(data_cfg["img_size"]), int(data_cfg["img_size"]))
    acc = evaluate_accuracy(net, loader, num_classes, device, precision)
    tp = cfg.get("throughput") or {}
    figures: dict[str, Any] = {
        "model": spec_label(spec),
        "source": str(ckpt or weights),
        "split": split,
        f"{split}/acc1": acc["acc1"],
        f"{split}/acc5": acc.get("acc5"),
        f"{split}/loss": acc["loss"],
        "num_images": acc["num_images"],
        "params": sum(p.numel() for p in net.parameters()),
        "macs": count_macs(net, shape),
        "resolution": shape[-1],
        "device": str(device),
    }
    if tp.get("enabled", True):
        bs = int(tp.get("batch_size", 64))
        figures["throughput_img_s"] = measure_throughput(
            net, shape, bs, device, precision, int(tp.get("warmup", 2)), int(tp.get("iters", 5))
        )
        figures["throughput_batch_size"] = bs
    log.info("%s", figures)
    return figures
