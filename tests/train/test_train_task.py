"""esnas-train end to end on synthetic data: fast_dev_run, resume, export, eval agreement."""

from __future__ import annotations

from pathlib import Path

import pytest
import safetensors.torch
import timm
import torch

from esnas.cli.eval import evaluate
from esnas.cli.train import train
from esnas.utils.task import run_task
from tests.train.helpers import FAST, GOOD_ARCH, make_image_folder


def test_fast_dev_run_through_the_entry_function(run_config) -> None:
    cfg = run_config("train", [*FAST, "+trainer.fast_dev_run=true"])
    figures = run_task(cfg, "train", train)
    assert figures["global_step"] == 1
    assert figures["model"] == "esformer_xxs"
    assert Path(figures["weights"]).is_file()


def test_fast_dev_run_of_a_searched_genome(run_config, tmp_path: Path) -> None:
    arch = tmp_path / "best_arch.yaml"
    arch.write_text(GOOD_ARCH)
    overrides = [*FAST, "model=from_search", f"model.arch_file={arch}", "trainer_logger=none"]
    cfg = run_config("train", [*overrides, "+trainer.fast_dev_run=true"])
    figures = run_task(cfg, "train", train)
    assert figures["model"].startswith("esformer:s16h16|")
    state = safetensors.torch.load_file(figures["weights"])
    assert "head.fc.weight" in state and state["head.fc.weight"].shape == (10, 160)


def test_resume_continues_steps_and_eval_reproduces_val_acc(run_config, tmp_path: Path) -> None:
    first = run_task(run_config("train", [*FAST, "trainer.max_epochs=1"]), "train", train)
    last = Path(first["last_ckpt"])
    assert first["global_step"] == 4  # 32 images / batch 8
    ckpt = torch.load(last, map_location="cpu", weights_only=True)  # torch's safe default
    assert ckpt["hyper_parameters"]["model"]["name"] == "esformer_xxs"
    assert ckpt["global_step"] == 4

    resumed = run_config("train", [*FAST, "trainer.max_epochs=2", f"ckpt_path={last}"])
    second = run_task(resumed, "train", train)
    assert second["global_step"] == 8  # continued, not restarted

    # esnas-eval on the final checkpoint sees the same accuracy training logged last.
    ev = run_task(
        run_config("eval", ["logger=none", f"ckpt_path={second['last_ckpt']}"]), "eval", evaluate
    )
    assert ev["val/acc1"] == pytest.approx(second["val/acc1"], abs=1e-6)
    assert ev["params"] == second["params"] and ev["macs"] > 0 and ev["throughput_img_s"] > 0

    # The exported safetensors load through plain timm, to the same outputs as the EMA net.
    net = timm.create_model(
        "esformer_xxs",
        pretrained=True,
        pretrained_cfg_overlay=dict(file=second["weights"], num_classes=10),
        num_classes=10,
    ).eval()
    ev_w = run_task(
        run_config("eval", ["logger=none", "data=synthetic", f"weights={second['weights']}"]),
        "eval",
        evaluate,
    )
    assert ev_w["val/acc1"] == pytest.approx(ev["val/acc1"], abs=1e-6)
    assert sum(p.numel() for p in net.parameters()) == ev["params"]


def test_image_folder_fixture_trains(run_config, tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "imagenet")
    overrides = [
        *FAST,
        "data=imagenet",
        f"data.root={root}",
        "data.num_classes=2",
        "data.img_size=32",
        "data.batch_size=4",
        "data.eval_batch_size=4",
        "data.num_workers=0",
        "data.pin_memory=false",
        "module.mixup.mixup_alpha=0.8",  # the ImageNet recipe's Mixup/CutMix path
        "module.mixup.cutmix_alpha=1.0",
        "trainer.max_epochs=1",
    ]
    overrides.remove("module.mixup=null")
    figures = run_task(run_config("train", overrides), "train", train)
    assert figures["global_step"] == 3  # 12 training images / 4
    assert figures["val/acc5"] is None  # 2 classes: no top-5
    assert 0.0 <= figures["test/acc1"] <= 1.0


def test_training_a_searched_genome_joins_its_search_wandb_group(run_config, tmp_path) -> None:
    from esnas.utils.config import search_group

    arch = tmp_path / "best_arch.yaml"
    arch.write_text(GOOD_ARCH + "\nsearch:\n  group: xs-search-7\n")
    cfg = run_config("train", ["logger=wandb", "model=from_search", f"model.arch_file={arch}"])
    assert cfg.logger.group == "xs-search-7"
    assert run_config("train", ["logger=wandb"]).logger.group == "train"
    assert search_group(str(tmp_path / "missing.yaml"), "train") == "train"
    assert search_group("wandb:me/esnas/best-arch-esformer:latest", "train") == "train"


@pytest.mark.slow
def test_compiled_training_exports_uncompiled_weights_timm_loads(run_config) -> None:
    """``module.compile=true`` compiles the inner net only; the export still has plain keys."""
    cfg = run_config("train", [*FAST, "module.compile=true", "+trainer.fast_dev_run=true"])
    figures = run_task(cfg, "train", train)
    state = safetensors.torch.load_file(figures["weights"])
    assert not any("_orig_mod" in k for k in state)
    classes = state["head.fc.weight"].shape[0]
    model = timm.create_model(
        "esformer_xxs",
        pretrained=True,
        num_classes=classes,
        pretrained_cfg_overlay={"file": figures["weights"], "num_classes": classes},
    )
    assert torch.equal(model.state_dict()["head.fc.weight"], state["head.fc.weight"])


def test_a_genome_trains_from_its_arch_string(run_config) -> None:
    arch = "s16h16|24e4:ir3|48e4:cx5|96e3:ka|160e3:sa"
    overrides = [*FAST, "model=genome", f'model.arch="{arch}"', "trainer_logger=none"]
    figures = run_task(
        run_config("train", [*overrides, "+trainer.fast_dev_run=true"]), "train", train
    )
    assert figures["model"] == f"esformer:{arch}"
    assert 0 < figures["macs"] < figures["macs_224"]  # 32 px training, 224 px budget unit
    state = safetensors.torch.load_file(figures["weights"])
    assert state["head.fc.weight"].shape == (10, 160)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (['model.arch="s16h16|24e4:ir3"'], "bad ESFormer arch string"),
        (['model.arch="s16h16|24e4:zz9|48e4:cx5|96e3:ka|160e3:sa"'], "not a valid ESFormer"),
        (["model.name=esformer_xxs", 'model.arch="s16h16|24e4:ir3|48e4:cx5|96e3:ka|160e3:sa"'],
         "exactly one of model.name"),
    ],
)  # fmt: skip
def test_a_bad_arch_string_fails_before_training(run_config, overrides, match) -> None:
    with pytest.raises(ValueError, match=match):
        run_task(run_config("train", [*FAST, "model=genome", *overrides]), "train", train)


def test_the_bench_experiment_trains_row_i_of_the_committed_genome_list(run_config) -> None:
    import csv

    from tests.conftest import REPO_ROOT

    with open(REPO_ROOT / "experiments/results/esformer_bench_genomes.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 100 and len({r["arch"] for r in rows}) == len(rows)
    assert all(int(r["cost_macs"]) <= 2.6e8 and int(r["cost_params"]) <= 1.3e6 for r in rows)
    cfg = run_config("train", ["experiment=esformer_bench_fmnist", "bench.index=7"])
    assert cfg.model.arch == rows[7]["arch"] and cfg.skip_completed is True
    with pytest.raises(ValueError, match=r"valid: 0\.\.\d+"):
        _ = run_config("train", ["experiment=esformer_bench_fmnist", "bench.index=9999"]).model.arch


def test_skip_completed_reruns_nothing_already_done(run_config) -> None:
    calls: list[int] = []

    def job(ctx):
        calls.append(1)
        return {"acc": 0.5}

    cfg = run_config("train", ["logger=none", "skip_completed=true"])
    assert run_task(cfg, "train", job) == {"acc": 0.5}
    assert run_task(cfg, "train", job) == {"acc": 0.5} and len(calls) == 1
    changed = run_config("train", ["logger=none", "skip_completed=true", "seed=3"])
    run_task(changed, "train", job)  # another config in the same folder runs
    assert len(calls) == 2
