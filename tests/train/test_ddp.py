"""2-process DDP on CPU (gloo) through the real console script, as a subprocess.

Why a subprocess of ``esnas-train``: Lightning's ``strategy=ddp`` re-runs the command line for
rank 1, which inside pytest would re-run pytest (DESIGN.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.train.helpers import FAST


@pytest.mark.slow  # two fresh interpreters + gloo: ~20-60 s on a busy 2-core machine
def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    overrides = [o for o in FAST if o != "trainer=cpu"]
    cmd = [
        str(Path(sys.executable).parent / "esnas-train"),
        *overrides,
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.precision=32-true",
        "trainer.sync_batchnorm=false",  # SyncBatchNorm needs CUDA; the GPU config keeps it
        "trainer.max_epochs=1",
        "data.batch_size=8",  # global: 4 per process
        f"hydra.run.dir={out}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    # 32 images, global batch 8 → 4 steps, each rank seeing half of every batch.
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["figures"]["global_step"] == 4
