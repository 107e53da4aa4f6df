"""ESFormer family table: the searched genome at each budget beside timm's mobile references.

For each budget (xxs, xs, s) this runs ``esnas-search experiment=esformer_<budget>_search``
(the CPU-sized cyclic recipe of ``make search``; a finished run folder under ``runs_dir`` is
reused) and reports the answer's genome, params, MACs, Entropic Score, LogSynflow and search
time; then the params and MACs at 224 px of the registered ``esformer_*`` models and of
MobileViT / EdgeNeXt of similar cost, counted the same way (torch's FLOP counter, MACs =
FLOPs / 2). The searches run as ``esnas-search`` subprocesses scoring through the study's
``cache.path``; ``extra`` adds overrides to them.

Run: ``make reproduce-esformer-family`` (``esnas-study study=esformer_family ...``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from esnas.studies.base import register_study
from esnas.studies.common import results_path, study_command
from esnas.utils.atomic import write_text_atomic
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import RunContext, short_commit

BUDGETS = ("xxs", "xs", "s")
REFERENCES = {
    "xxs": ("mobilevit_xxs", "edgenext_xx_small"),
    "xs": ("mobilevit_xs", "edgenext_x_small"),
    "s": ("mobilevit_s", "edgenext_small"),
}


def search(budget: str, seed: int, runs: Path, cache: list[str], extra: list[str]) -> dict:
    """The ``best.json`` of a (finished or new) search at ``budget``; ``extra`` overrides get
    a run folder of their own, so a finished search is reused only for the same overrides."""
    run_dir = runs / run_name(budget, seed, extra)
    summary = run_dir / "summary.json"
    done = json.loads(summary.read_text()) if summary.exists() else {}
    if done.get("status") != "completed":
        cmd = [str(Path(sys.executable).parent / "esnas-search"),
               f"experiment=esformer_{budget}_search", f"seed={seed}", "logger=csv",
               "budget.seconds=null", f"hydra.run.dir={run_dir}", *cache, *extra]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        if proc.returncode == 2:  # the search's one-line input error: the study's input too
            lines = proc.stderr.strip().splitlines() or ["(no message)"]
            raise EsnasInputError(f"search {budget} (study.extra={extra}): {lines[-1]}")
        if proc.returncode:
            raise RuntimeError(f"search {budget} failed:\n{proc.stderr[-2000:]}")
    return json.loads((run_dir / "best.json").read_text())


def run_name(budget: str, seed: int, extra: list[str]) -> str:
    """``esformer_<budget>_s<seed>``, plus a hash of ``extra`` overrides when there are any."""
    name = f"esformer_{budget}_s{seed}"
    if extra:
        name += "_" + hashlib.sha1("\n".join(extra).encode()).hexdigest()[:8]
    return name


def attention_blocks(arch: str) -> int:
    from esnas.spaces.esformer import ESFormerGenome, ESFormerSpace

    return int(ESFormerSpace().traits(ESFormerGenome.parse(arch))["attention_blocks"])


def cost(name: str) -> tuple[float, float]:
    """(params M, MACs G) of a timm model at 224 px, 1000 classes."""
    import timm

    import esnas.models.esformer  # noqa: F401  (registers esformer_*)
    from esnas.train.evaluate import count_macs

    model = timm.create_model(name, num_classes=1000)
    params = sum(p.numel() for p in model.parameters())
    return params / 1e6, count_macs(model, (3, 224, 224)) / 1e9


def _cache_override(path: str | None) -> str:
    """``cache.path=...`` for the search subprocess: the study's own score cache."""
    return "cache.path=null" if path is None else f"cache.path={json.dumps(str(path))}"


@register_study("esformer_family")
def esformer_family(
    ctx: RunContext,
    budgets: Sequence[str] = BUDGETS,
    seed: int = 0,
    runs_dir: str = "logs/esformer_family",
    extra: Sequence[str] = (),
    out: str = "experiments/results/esformer_family",
) -> dict[str, float]:
    """Runs (or reuses) the search of each budget and writes ``<out>.md``; returns each
    searched genome's params (M) and MACs (G)."""
    unknown = [b for b in budgets if b not in BUDGETS]
    if unknown or not budgets:
        raise EsnasInputError(
            f"study.budgets {list(budgets)}: expected one or more of {', '.join(BUDGETS)}"
        )
    runs = results_path(ctx, runs_dir)
    path = results_path(ctx, out).with_suffix(".md")
    cache = [_cache_override(ctx.cfg.get("cache", {}).get("path"))]
    t0 = time.perf_counter()
    lines = [
        "# ESFormer family: searched genomes per budget, with timm references",
        "",
        f"Command: `{study_command()}` (`make "
        f"reproduce-esformer-family`; commit {short_commit()}, wall time {{wall}} min). "
        "Each search: `esnas-search experiment=esformer_<budget>_search "
        f"seed={seed} budget.seconds=null` (150 evaluations, probe batch 8 × 1 init at "
        "224 px, Entropic Score with the gaussian estimator, CPU, 2 cores shared); search "
        "time = summed un-cached scoring time. `esformer_<budget>` is the registered timm "
        "model (the searched genome), `esformer_<budget>_hand` the hand-picked genome it "
        "replaced. Params "
        "and MACs at 224 px, 1000 classes, MACs = torch FLOP counter / 2. No accuracy: "
        "these are untrained architectures (see `fmnist_compare.md` for a training stand-in).",
        "",
        "| budget | model | genome | attention blocks | params (M) | MACs (G) "
        "| Entropic Score | LogSynflow | search (min) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    figures: dict[str, float] = {}
    for budget in budgets:
        best = search(budget, seed, runs, cache, list(extra))
        scores = best["scores"]
        figures[f"params_m/{budget}"] = best["params"] / 1e6
        figures[f"macs_g/{budget}"] = best["macs"] / 1e9
        lines.append(
            f"| {budget} | searched (seed {seed}) | `{best['arch']}` | "
            f"{attention_blocks(best['arch'])} | {best['params'] / 1e6:.2f} | "
            f"{best['macs'] / 1e9:.3f} | "
            f"{scores.get('entropic', float('nan')):.3f} | "
            f"{scores.get('logsynflow', float('nan')):.4g} | "
            f"{best['search_seconds_uncached'] / 60:.1f} |"
        )
        for name in (f"esformer_{budget}", f"esformer_{budget}_hand", *REFERENCES[budget]):
            params, macs = cost(name)
            lines.append(f"| {budget} | {name} | | | {params:.2f} | {macs:.3f} | | | |")
        print(lines[-3 - len(REFERENCES[budget])], file=sys.stderr)  # the searched row
    wall = (time.perf_counter() - t0) / 60
    commits = sorted({
        json.loads((runs / run_name(b, seed, list(extra)) / "summary.json")
                   .read_text())["git"]["commit"][:7] for b in budgets
    })  # fmt: skip
    wall_text = f"{wall:.1f} min; the searches ran at commit {', '.join(commits)}"
    lines[2] = lines[2].replace("{wall} min", wall_text)
    write_text_atomic(path, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return figures
