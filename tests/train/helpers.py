"""Shared overrides for the training tests: tiny, CPU-only, no W&B, no progress bar."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from PIL import Image

# Synthetic 32 px data, 4 steps of 8 images per epoch, no loggers but CSV.
FAST = [
    "data=synthetic",
    "trainer=cpu",
    "logger=none",
    "trainer_logger=csv",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.log_every_n_steps=1",
    "~callbacks.progress_bar",
    "module.mixup=null",
    "module.ema.decay=0.9",
    "module.channels_last=false",
]

# A small valid search output (best_arch.yaml): one block per stage.
GOOD_ARCH = """space: esformer
arch: s16h16|24e4:ir3|48e4:cx5|96e3:ka|160e3:sa
genome:
  stem_width: 16
  head_dim: 16
  stages:
  - {width: 24, expansion: 4, blocks: [ir3]}
  - {width: 48, expansion: 4, blocks: [cx5]}
  - {width: 96, expansion: 3, blocks: [ka]}
  - {width: 160, expansion: 3, blocks: [sa]}
"""


def make_image_folder(root: Path, classes: int = 2, train: int = 6, val: int = 4) -> Path:
    """Writes ``root/{train,val}/class_<i>/<n>.png`` (16x16 RGB, one colour per class)."""
    for split, n in (("train", train), ("val", val)):
        for c in range(classes):
            folder = root / split / f"class_{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                colour = (255 * c // max(1, classes - 1), 40 * i % 255, 128)
                Image.new("RGB", (16, 16), colour).save(folder / f"{i}.png")
    return root


class KillAtEpoch(L.Callback):
    """Stands in for a crash: raises when epoch ``epoch`` starts (its predecessors are saved)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError(f"killed at the start of epoch {self.epoch}")
