"""Result files of a search: best.json, best_arch.yaml, history.csv and two plots.

``best_arch.yaml`` is what ``esnas-train`` reads: the space's name and settings plus the
genome as its canonical string (and as a dict when the genome has ``to_dict``).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from esnas.search.fitness import fitness
from esnas.search.records import Individual, history_columns, history_rows
from esnas.utils.atomic import atomic_open, atomic_path, write_json_atomic, write_text_atomic

PHASE_COLOURS = {"init": "#999999", "topology": "#1f77b4", "size": "#d62728", "search": "#2ca02c"}


def write_best(
    out: Path,
    best: Individual,
    genome: Mapping[str, Any] | None,
    space_info: Mapping[str, Any],
    extra: Mapping[str, Any],
    search: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Writes ``best.json`` and ``best_arch.yaml`` (with ``search``: the run's W&B group,
    folder and seed, which esnas-train reads); returns their paths."""
    payload = {
        "arch": best.arch,
        "params": best.params,
        "macs": best.macs,
        "scores": best.scores,
        "fitness": extra.get("fitness_final", best.fitness),
        "fitness_at_evaluation": best.fitness,
        "index": best.index,
        "phase": best.phase,
        "space": dict(space_info),
        **extra,
    }
    best_json = out / "best.json"
    write_json_atomic(best_json, payload)
    arch_doc: dict[str, Any] = {"space": space_info.get("name"), "arch": best.arch}
    if genome is not None:
        arch_doc["genome"] = dict(genome)
    arch_doc["space_config"] = dict(space_info)
    if search:
        arch_doc["search"] = dict(search)
    best_yaml = out / "best_arch.yaml"
    header = "# Best architecture of an esnas search; esnas-train reads `space` and `arch`.\n"
    write_text_atomic(best_yaml, header + yaml.safe_dump(arch_doc, sort_keys=False))
    return best_json, best_yaml


def write_history(path: Path, history: Sequence[Individual], labels: Sequence[str]) -> Path:
    """The whole history as CSV (one row per evaluated architecture)."""
    with atomic_open(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(history_columns(labels))
        writer.writerows(history_rows(history, labels))
    return path


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # why: no display on servers, and tests must not open windows
    import matplotlib.pyplot as plt

    return plt


def pareto_front(macs: Sequence[float], fits: Sequence[float]) -> list[int]:
    """Indices not dominated by any other point (fewer MACs and higher fitness is better)."""
    order = sorted(range(len(macs)), key=lambda i: (macs[i], -fits[i]))
    front, best = [], float("-inf")
    for i in order:
        if fits[i] > best:
            front.append(i)
            best = fits[i]
    return front


def plot_pareto(
    path: Path, history: Sequence[Individual], metrics: Sequence[str], combine: str, best: int
) -> Path:
    """Fitness (over the whole history) against MACs, Pareto front and answer marked."""
    plt = _plt()
    fits = fitness(history, metrics, combine)
    macs = [r.macs / 1e6 for r in history]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for phase, colour in PHASE_COLOURS.items():
        idx = [i for i, r in enumerate(history) if r.phase == phase]
        if idx:
            ax.scatter(
                [macs[i] for i in idx],
                [fits[i] for i in idx],
                s=8,
                alpha=0.5,
                c=colour,
                label=phase,
            )
    front = pareto_front(macs, fits)
    ax.plot([macs[i] for i in front], [fits[i] for i in front], "k-", lw=1, label="Pareto front")
    ax.scatter(
        [macs[best]],
        [fits[best]],
        marker="*",
        s=160,
        c="gold",
        edgecolors="k",
        label="answer",
        zorder=5,
    )
    ax.set_xlabel("MMACs")
    ax.set_ylabel(f"fitness ({' + '.join(metrics)}, {combine})")
    return _save(fig, ax, path)


def _save(fig: Any, ax: Any, path: Path) -> Path:
    """Legend, grid, tight layout, PNG at 120 dpi; closes the figure."""
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    _plt().close(fig)
    return path


def plot_trajectory(
    path: Path,
    history: Sequence[Individual],
    phase_metrics: Mapping[str, Sequence[str]],
    combine: str,
) -> Path:
    """Best-so-far fitness of every phase's fitness over evaluations, phases shaded."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = [r.index for r in history]
    groups: dict[tuple[str, ...], list[str]] = {}  # metric combination -> phases using it
    for phase, metrics in phase_metrics.items():
        if metrics:
            groups.setdefault(tuple(metrics), []).append(phase)
    for metrics, phases in groups.items():
        fits, run, best = fitness(history, metrics, combine), [], float("-inf")
        for f in fits:
            best = max(best, f)
            run.append(best)
        ax.plot(
            xs,
            run,
            c=PHASE_COLOURS.get(phases[-1], "k"),
            label=f"{' + '.join(metrics)} ({', '.join(phases)})",
        )
    start = 0
    for i in range(1, len(history) + 1):  # shade each contiguous phase segment
        if i == len(history) or history[i].phase != history[start].phase:
            colour = PHASE_COLOURS.get(history[start].phase, "#cccccc")
            ax.axvspan(start - 0.5, i - 0.5, color=colour, alpha=0.08, lw=0)
            start = i
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"best fitness so far ({combine})")
    ax.set_title(
        "best-so-far fitness (normalised over the whole history); phases shaded", fontsize=9
    )
    return _save(fig, ax, path)
