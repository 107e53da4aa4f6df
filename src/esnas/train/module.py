"""A thin LightningModule around any timm classifier, so one recipe trains ESFormers and baselines.

The network is a plain ``nn.Module`` (``self.net``) built from a model spec
(:mod:`esnas.train.arch`); everything the module is constructed with is a plain dict, so
``save_hyperparameters`` puts no custom class into the checkpoint and checkpoints load with
torch's default ``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from timm.utils import ModelEmaV3
from torch import nn
from torchmetrics import MaxMetric, MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from esnas.train.arch import build_model
from esnas.train.optim import build_optimizer

__all__ = ["ImageClassifier", "accuracy_metrics"]


def accuracy_metrics(num_classes: int, prefix: str) -> MetricCollection:
    """Top-1 (and top-5 when there are at least 5 classes) micro accuracy under ``prefix``."""
    metrics = {"acc1": MulticlassAccuracy(num_classes, top_k=1, average="micro")}
    if num_classes >= 5:
        metrics["acc5"] = MulticlassAccuracy(num_classes, top_k=5, average="micro")
    return MetricCollection(metrics, prefix=prefix)


class ImageClassifier(L.LightningModule):
    """Image classification with label smoothing, optional Mixup/CutMix and EMA of weights.

    Args:
        model: Model spec (see :func:`esnas.train.arch.model_spec`).
        num_classes: Classifier outputs.
        optimizer: Optimizer config (``_target_``, ``lr``, ``weight_decay``, ...).
        scheduler: Scheduler config called as ``fn(optimizer, total_steps, steps_per_epoch)``
            (``None``: constant LR). Stepped every optimizer step.
        label_smoothing: Label smoothing of the training loss (also fed to Mixup).
        mixup: timm ``Mixup`` kwargs (``mixup_alpha``, ``cutmix_alpha``, ...); ``None`` or
            both alphas 0 disables it.
        ema: ``{"decay": float, "warmup": bool, "eval": bool}``; ``None`` disables EMA.
            With ``eval`` (default) validation, test and export use the EMA weights.
        lr_base_batch_size: If set, the LR scales by ``global_batch_size / lr_base_batch_size``
            (DeiT: 5e-4 per 512).
        global_batch_size: Batch size summed over devices, for the LR scaling.
        in_chans: Input channels.
        channels_last: Keep weights and inputs in channels-last memory format.
        compile: ``torch.compile`` the inner network (never the LightningModule).
        run_config: The run's resolved config, stored for provenance.
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        num_classes: int,
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        label_smoothing: float = 0.0,
        mixup: Mapping[str, Any] | None = None,
        ema: Mapping[str, Any] | None = None,
        lr_base_batch_size: int | None = None,
        global_batch_size: int | None = None,
        in_chans: int = 3,
        channels_last: bool = False,
        compile: bool = False,
        run_config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = build_model(model, num_classes, in_chans)
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.ema = None
        if ema is not None:
            self.ema = ModelEmaV3(
                self.net, decay=float(ema.get("decay", 0.9998)), use_warmup=bool(ema.get("warmup"))
            )
            # Left in train mode like the rest, or Lightning warns at every fit; it is only ever
            # run inside validation/test, where Lightning switches everything to eval mode.
            self.ema.module.train()
            self.ema.module.requires_grad_(False)  # never optimised; DDP must not wait for grads
        mix = dict(mixup or {})
        self.mixup = None
        if mix.get("mixup_alpha", 0) > 0 or mix.get("cutmix_alpha", 0) > 0:
            self.mixup = Mixup(**mix, label_smoothing=label_smoothing, num_classes=num_classes)
        self.train_loss_fn: nn.Module = (
            SoftTargetCrossEntropy()
            if self.mixup
            else nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        )
        self.train_loss, self.val_loss, self.test_loss = MeanMetric(), MeanMetric(), MeanMetric()
        self.train_metrics = accuracy_metrics(num_classes, "train/")
        self.val_metrics = accuracy_metrics(num_classes, "val/")
        self.test_metrics = accuracy_metrics(num_classes, "test/")
        self.val_acc1_best = MaxMetric()
        self.val_acc1_best.persistent(True)  # survives a resume from last.ckpt
        self._compiled = False

    # -- networks -------------------------------------------------------------------------
    @property
    def eval_net(self) -> nn.Module:
        """The network validation, test and export use: the EMA copy when it is enabled."""
        if self.ema is not None and (self.hparams.ema or {}).get("eval", True):
            return self.ema.module
        return self.net

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.hparams.channels_last else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the evaluation network (EMA when enabled)."""
        return self.eval_net(self._prep(x))

    def setup(self, stage: str) -> None:
        if self.hparams.compile and not self._compiled:
            # In place: state_dict keys stay those of the plain network (no `_orig_mod.`).
            self.net.compile()
            self._compiled = True

    # -- steps ----------------------------------------------------------------------------
    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> Any:
        x, y = batch
        if self.mixup is not None:
            x, target = self.mixup(x, y)
        else:
            target = y
        logits = self.net(self._prep(x))
        loss = self.train_loss_fn(logits, target)
        self.train_loss(loss.detach())
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True)
        self.log("train/loss_step", loss.detach(), on_step=True, prog_bar=True)
        if self.mixup is None:  # accuracy against mixed targets would mean nothing
            self.train_metrics(logits.detach(), y)
            self.log_dict(self.train_metrics, on_step=False, on_epoch=True)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update(self.net, step=self.global_step)

    def _eval_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> None:
        x, y = batch
        logits = self(x)
        loss_metric = self.val_loss if stage == "val" else self.test_loss
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        loss_metric(F.cross_entropy(logits, y))
        metrics(logits, y)
        self.log(f"{stage}/loss", loss_metric, on_epoch=True, prog_bar=stage == "val")
        self.log_dict(metrics, on_epoch=True, prog_bar=stage == "val")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:  # 2 batches of an untrained net are no "best"
            return
        self.val_acc1_best(self.val_metrics["acc1"].compute())
        self.log("val/acc1_best", self.val_acc1_best.compute(), prog_bar=True)

    # -- optimisation ---------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        hp = self.hparams
        opt_cfg = dict(hp.optimizer)
        if hp.lr_base_batch_size and hp.global_batch_size:
            opt_cfg["lr"] = float(opt_cfg["lr"]) * hp.global_batch_size / hp.lr_base_batch_size
        optimizer = build_optimizer(self.net, opt_cfg)
        if not hp.scheduler:
            return optimizer
        total = int(self.trainer.estimated_stepping_batches)
        epochs = (
            self.trainer.max_epochs
            if self.trainer.max_epochs and self.trainer.max_epochs > 0
            else 1
        )
        sched_cfg = {**dict(hp.scheduler), "_partial_": True}
        scheduler = instantiate(sched_cfg)(
            optimizer, total_steps=total, steps_per_epoch=total / epochs
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
