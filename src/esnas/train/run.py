"""The training task behind ``esnas-train``: config → DataModule, module, Trainer → figures.

Importable and callable from tests (``train_task(RunContext(...))``); the console script only
wraps it in :func:`esnas.cli.app.hydra_entry`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, ProgressBar
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from esnas.train.arch import build_model, model_spec, spec_label
from esnas.train.data import ClassificationDataModule
from esnas.train.evaluate import count_macs
from esnas.train.export import export_weights, load_checkpoint
from esnas.train.module import ImageClassifier
from esnas.utils.console import get_logger
from esnas.utils.device import resolve_precision
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import RunContext

log = get_logger(__name__)

__all__ = ["build_module", "resolve_precision", "train_task"]

WEIGHTS_FILE = "weights.safetensors"


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def build_module(cfg: DictConfig, spec: Mapping[str, Any]) -> ImageClassifier:
    """The LightningModule for ``spec`` with the ``module`` recipe, every argument a plain dict."""
    recipe = _plain(cfg.module)
    return ImageClassifier(
        model=dict(spec),
        num_classes=int(cfg.data.num_classes),
        in_chans=int(cfg.data.get("in_chans", 3)),
        global_batch_size=int(cfg.data.batch_size),
        run_config=_plain(cfg),
        **recipe,
    )


def _check_resume(ckpt_path: str | None, spec: Mapping[str, Any]) -> None:
    """A resume checkpoint of another architecture fails in one line, before any training."""
    if not ckpt_path:
        return
    other = load_checkpoint(ckpt_path)["hyper_parameters"]["model"]
    keys = ("name", "genome")
    if any(other.get(k) != spec.get(k) for k in keys):
        raise EsnasInputError(
            f"ckpt_path {ckpt_path!r} holds a {spec_label(other)} model, not the configured "
            f"{spec_label(spec)}; resume with the same model=... as the run that wrote it"
        )


def _instantiate_all(node: DictConfig | None) -> list[Any]:
    """Every ``_target_`` entry of a dict-of-configs group (callbacks, loggers); ``None`` → []."""
    if not node:
        return []
    return [instantiate(c) for c in node.values() if c is not None and "_target_" in c]


def _finish_wandb(loggers: list[Logger], ctx: RunContext) -> None:
    """Finishes a W&B run the Lightning logger opened itself (the run logger closes its own)."""
    own = ctx.logger.run
    for lg in loggers:
        if isinstance(lg, WandbLogger) and lg._experiment is not None and lg._experiment is not own:
            lg._experiment.finish()


def _metric(trainer: L.Trainer, key: str) -> float | None:
    value = trainer.callback_metrics.get(key)
    return None if value is None else round(float(value), 6)


def _checkpoint_paths(trainer: L.Trainer) -> tuple[str | None, str | None]:
    """(best, last) checkpoint files: best from the monitored callback, last from the
    unmonitored one (its top-1 is the latest epoch); ``None`` where none was written."""
    ckpts = [c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)]
    best = next((c.best_model_path for c in ckpts if c.monitor), "")
    last = next((c.best_model_path for c in ckpts if not c.monitor), "")
    last = last or next((c.last_model_path for c in ckpts if c.last_model_path), "")

    def written(path: str) -> str | None:
        return path if path and Path(path).is_file() else None  # fast_dev_run writes none

    return written(best), written(last)


def _costs(spec: Mapping[str, Any], cfg: DictConfig) -> dict[str, int]:
    """MACs per image at the training resolution and at 224 px (a search's budget unit), on a
    fresh copy of the model, so ground-truth tables need no second pass."""
    # ESFormer with explicit attention matmuls: FlopCounterMode misses fused SDPA on CPU.
    explicit = {"fused_attn": False} if spec.get("genome") is not None else {}
    net = build_model(spec, int(cfg.data.num_classes), int(cfg.data.get("in_chans", 3)), **explicit)
    chans, size = int(cfg.data.get("in_chans", 3)), int(cfg.data.img_size)
    return {
        "macs": count_macs(net, (chans, size, size)),
        "macs_224": count_macs(net, (chans, 224, 224)),
    }


def train_task(ctx: RunContext) -> dict[str, Any]:
    """Trains the configured model with Lightning; returns accuracies, steps and file paths."""
    cfg = ctx.cfg
    # With logger=wandb, the WandbLogger joining the run logger's W&B run is the intent.
    warnings.filterwarnings("ignore", message="There is a wandb run already in progress")
    spec = model_spec(_plain(cfg.model))
    ckpt_path = cfg.get("ckpt_path")
    _check_resume(ckpt_path, spec)
    datamodule: ClassificationDataModule = instantiate(cfg.data)
    module = build_module(cfg, spec)
    callbacks = _instantiate_all(cfg.get("callbacks"))
    loggers = _instantiate_all(cfg.get("trainer_logger"))
    trainer_cfg = _plain(cfg.trainer)
    if trainer_cfg.get("enable_progress_bar") is False:  # Lightning rejects a bar callback then
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if not loggers:  # trainer_logger=none: nothing to monitor the LR into
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    trainer_cfg["precision"] = resolve_precision(trainer_cfg.get("precision", "auto"))
    trainer: L.Trainer = instantiate(
        trainer_cfg, callbacks=callbacks, logger=loggers or False, _convert_="all"
    )
    log.info("training %s on %s", spec_label(spec), type(datamodule).__name__)
    t0 = time.perf_counter()
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        fit_s = time.perf_counter() - t0
        figures: dict[str, Any] = {
            "model": spec_label(spec),
            "params": sum(p.numel() for p in module.net.parameters()),
            "global_step": int(trainer.global_step),
            "epochs": int(trainer.current_epoch),
            "fit_time_s": round(fit_s, 2),
            "lr": float(cfg.module.optimizer.lr),  # the peak LR as configured (a sweep's key)
            "val/acc1": _metric(trainer, "val/acc1"),
            "val/acc5": _metric(trainer, "val/acc5"),
            "val/acc1_best": _metric(trainer, "val/acc1_best"),
        }
        best, last = _checkpoint_paths(trainer)
        figures.update(best_ckpt=best, last_ckpt=last)
        if cfg.get("test", True) and not trainer.fast_dev_run:
            # The model selected on validation is the one tested and exported.
            trainer.test(module, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
            figures.update(
                {k: _metric(trainer, k) for k in ("test/acc1", "test/acc5", "test/loss")}
            )
        if cfg.get("export", True) and trainer.is_global_zero:
            path = export_weights(
                module.eval_net,
                Path(ctx.output_dir) / WEIGHTS_FILE,
                spec,
                int(cfg.data.num_classes),
            )
            figures["weights"] = str(path)
        figures.update(_costs(spec, cfg))
        for key, value in figures.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                ctx.logger.log({f"final/{key}": value})
        return figures
    finally:
        _finish_wandb(loggers, ctx)
