"""Aggregates a Hydra multirun sweep from its job folders: one table, mean ± std over seeds.

Why: a sweep (phase-length grid × seeds, strategies × budgets, ...) leaves one
``summary.json`` per job; the results table must come from those files alone, without a W&B
connection. Jobs are grouped by the override values that differ between them, except the
replicate key (``seed``), and every figure is reduced to mean ± std over the group.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esnas.utils.atomic import atomic_open, atomic_path, write_text_atomic
from esnas.utils.commands import command_key, rerun_command
from esnas.utils.errors import EsnasInputError

SUMMARY = "summary.json"
DEFAULT_FIGURES = ("best_fitness", "best_params", "best_macs", "wall_time_s")


@dataclass(frozen=True)
class Job:
    """One job of a sweep: its folder, override values and numeric figures."""

    path: Path
    status: str
    overrides: dict[str, str]
    figures: dict[str, float]
    commit: str = "unknown"  # short hash, "+dirty" when the tree had local changes
    started_at: str | None = None  # ISO time
    wall_time_s: float = 0.0
    resumed: bool = False  # continued a checkpoint: wall_time_s is the resume's only


@dataclass
class SweepTable:
    """Groups (keyed by the swept values) with per-figure values over replicates."""

    keys: list[str]
    figures: list[str]
    groups: dict[tuple[str, ...], dict[str, list[float]]]
    failed: list[Job]
    done: list[Job]


def _overrides(items: Iterable[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if sep:
            out[key.lstrip("+~")] = value
    return out


def commit_label(summary: dict[str, Any]) -> str:
    """A job's commit as 8 hex digits, ``+dirty`` when the tree had local changes."""
    git = summary.get("git") or {}
    return str(git.get("commit") or "unknown")[:8] + ("+dirty" if git.get("dirty") else "")


def load_jobs(roots: Sequence[str | Path]) -> list[Job]:
    """Every ``summary.json`` under ``roots`` (a sweep folder, or single run folders)."""
    jobs = []
    for root in map(Path, roots):
        if not root.exists():
            raise EsnasInputError(f"{root} does not exist; give a multirun folder or run folders")
        for path in sorted(root.rglob(SUMMARY)):
            data = json.loads(path.read_text())
            numeric = {
                k: float(v)
                for k, v in (data.get("figures") or {}).items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
            commit = commit_label(data)
            jobs.append(
                Job(
                    path.parent,
                    data.get("status", "?"),
                    _overrides(data.get("overrides", [])),
                    numeric,
                    commit,
                    data.get("started_at"),
                    float(data.get("wall_time_s") or 0.0),
                    (data.get("figures") or {}).get("resumed") is True,
                )
            )
    if not jobs:
        raise EsnasInputError(
            f"no {SUMMARY} under {', '.join(map(str, roots))}; is it a run folder?"
        )
    return jobs


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a ``write_rows`` CSV (``[]`` when the file does not exist)."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_rows(
    roots: Sequence[str | Path], path: Path, figures: Sequence[str] | None, update: bool = False
) -> int:
    """One CSV row per completed job: its overrides, ``figures`` (default: all), commit, wall
    time and ``command``, the exact command line that reruns that job; returns the row count.

    Why rows and not a table of means: a ground-truth benchmark is the list of trained genomes
    itself, and each row must say how to retrain it. With ``update`` the rows already in
    ``path`` stay, except those a job under ``roots`` reran (same ``command``): the committed
    file is the benchmark, run folders are scratch that need not outlive the machine.
    """
    rows: list[dict[str, Any]] = []
    for root in map(Path, roots):
        for summary in sorted(root.rglob(SUMMARY)):
            data = json.loads(summary.read_text())
            if data.get("status") != "completed":
                continue
            figs = data.get("figures") or {}
            overrides = [str(o) for o in data.get("overrides", [])]
            rows.append(
                {
                    **_overrides(overrides),
                    **{k: v for k, v in figs.items() if figures is None or k in figures},
                    "commit": commit_label(data),
                    "wall_time_s": data.get("wall_time_s"),
                    "command": rerun_command(data.get("job_type", "train"), overrides),
                }
            )
    if not rows:
        raise EsnasInputError(f"no completed {SUMMARY} under {', '.join(map(str, roots))}")
    if update:
        rerun = {command_key(r["command"]) for r in rows}
        kept = [r for r in read_rows(path) if command_key(r.get("command", "")) not in rerun]
        rows = sorted([*kept, *rows], key=lambda r: _natural_key(command_key(r["command"])))
    columns = list(dict.fromkeys(k for row in rows for k in row))
    columns = [c for c in columns if c not in ("commit", "wall_time_s", "command")]
    columns += ["commit", "wall_time_s", "command"]
    with atomic_open(path, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def _natural_key(key: tuple[str, ...]) -> tuple:
    """Orders ``name=value`` words by name, then numbers by value (``i=9`` before ``i=10``)."""
    out = []
    for word in key:
        name, _, value = word.partition("=")
        out.append((name, 0, float(value), "") if _is_number(value) else (name, 1, 0.0, value))
    return tuple(out)


def seed_agreement(path: Path, key: str, figure: str, replicate: str = "seed") -> dict[str, float]:
    """How far a rows CSV's labels can be trusted: the spread of ``figure`` over the items
    named by ``key``, its std between ``replicate`` values of the same item, and the Spearman
    rho between the first two replicates (the ceiling any training-free metric can reach)."""
    from scipy.stats import spearmanr

    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get(figure) not in (None, "")]
    if not rows or key not in rows[0] or replicate not in rows[0]:
        raise EsnasInputError(f"{path} needs columns {key!r}, {replicate!r} and {figure!r}")
    by_item: dict[str, dict[str, float]] = {}
    for r in rows:
        by_item.setdefault(r[key], {})[r[replicate]] = float(r[figure])
    seeds = sorted({r[replicate] for r in rows}, key=lambda v: (len(v), v))
    first = [v[min(v, key=seeds.index)] for v in by_item.values()]  # lowest seed per item
    pairs = (
        [v for v in by_item.values() if all(s in v for s in seeds[:2])] if len(seeds) > 1 else []
    )
    out = {
        "items": len(by_item),
        "mean": statistics.fmean(first),
        "std": statistics.pstdev(first),
        "min": min(first),
        "max": max(first),
        "pairs": len(pairs),
    }
    if len(pairs) >= 3:
        a, b = ([p[s] for p in pairs] for s in seeds[:2])
        # mean over items of the sample std of the two seeds' values (|a - b| / sqrt 2)
        out["seed_std"] = statistics.fmean(statistics.stdev(xy) for xy in zip(a, b, strict=True))
        out["seed_rho"] = float(spearmanr(a, b).statistic)
    return out


def tabulate(
    jobs: Sequence[Job], figures: Sequence[str] | None = None, replicate: str = "seed"
) -> SweepTable:
    """Groups completed jobs by the overrides that vary (except ``replicate``)."""
    done = [j for j in jobs if j.status == "completed"]
    failed = [j for j in jobs if j.status != "completed"]
    if not done:
        raise EsnasInputError(f"none of the {len(jobs)} jobs completed; see their {SUMMARY}")
    all_keys = list(dict.fromkeys(k for j in done for k in j.overrides))
    keys = [k for k in all_keys if k != replicate and len({j.overrides.get(k) for j in done}) > 1]
    shared = [f for f in done[0].figures if all(f in j.figures for j in done)]
    if figures is None:
        figures = [f for f in shared if f in DEFAULT_FIGURES or f.startswith("best_test_acc/")]
        figures = sorted(figures, key=lambda f: not f.startswith("best_test_acc/")) or shared
    missing = [f for f in figures if f not in shared]
    if missing:
        raise EsnasInputError(f"figures {missing} are not in every job; valid: {', '.join(shared)}")
    groups: dict[tuple[str, ...], dict[str, list[float]]] = {}
    for job in done:
        group = groups.setdefault(tuple(job.overrides.get(k, "") for k in keys), {})
        for f in figures:
            group.setdefault(f, []).append(job.figures[f])
    ordered = dict(sorted(groups.items(), key=_natural))
    return SweepTable(keys, list(figures), ordered, failed, done)


def _natural(item: tuple[tuple[str, ...], Any]) -> tuple:
    return tuple((0, float(v), "") if _is_number(v) else (1, 0.0, v) for v in item[0])


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _fmt(value: float, like: float | None = None) -> str:
    """Two decimals for values in [1, 1e5), scientific above, 4 significant digits below;
    ``like`` picks the format from another value (a std printed like its mean)."""
    ref = abs(value if like is None else like)
    if ref >= 1e5:
        return f"{value:.3e}"
    return f"{value:.2f}" if ref >= 1 else f"{value:.4g}"


def provenance(jobs: Sequence[Job]) -> str:
    """Which commit(s) the jobs ran at, when, and their summed wall time: a results file
    says how it was made even when the sweep ran elsewhere."""
    commits = ", ".join(sorted({j.commit for j in jobs}))
    starts = sorted(j.started_at for j in jobs if j.started_at)
    when = f" from {starts[0]} to {starts[-1]} (job starts)" if starts else ""
    total = sum(j.wall_time_s for j in jobs) / 60
    resumed = sum(j.resumed for j in jobs)
    note = f" ({resumed} resumed a checkpoint and count only the resume)" if resumed else ""
    return (
        f"{len(jobs)} job(s) at commit {commits}{when}; summed job wall time {total:.1f} min{note}."
    )


def write_markdown(
    table: SweepTable, path: Path, title: str, command: str, protocol: str | None = None
) -> None:
    n = {len(next(iter(g.values()))) for g in table.groups.values()}
    lines = [
        f"# {title}",
        "",
        *([protocol, ""] if protocol else []),
        f"Report: `{command}`. Each row: mean ± std over {'/'.join(map(str, sorted(n)))} "
        f"replicate(s) of the swept values; {len(table.failed)} failed job(s) left out. "
        + provenance(table.done),
        "",
        "| " + " | ".join([*table.keys, *table.figures, "n"]) + " |",
        "|" + "---|" * len(table.keys) + "---:|" * (len(table.figures) + 1),
    ]
    for values, group in table.groups.items():
        cells = []
        for f in table.figures:
            m, s = mean_std(group[f])
            cells.append(f"{_fmt(m)} ± {_fmt(s, like=m)}")
        count = len(next(iter(group.values())))
        lines.append("| " + " | ".join([*values, *cells, str(count)]) + " |")
    for job in table.failed:
        lines.append(f"\nLeft out: `{job.path}` (status {job.status})")
    write_text_atomic(path, "\n".join(lines) + "\n")


def write_csv(table: SweepTable, path: Path) -> None:
    with atomic_open(path, newline="") as f:
        writer = csv.writer(f)
        header = [*table.keys]
        for fig in table.figures:
            header += [f"{fig}_mean", f"{fig}_std"]
        writer.writerow([*header, "n"])
        for values, group in table.groups.items():
            row: list[Any] = [*values]
            for fig in table.figures:
                row += list(mean_std(group[fig]))
            writer.writerow([*row, len(next(iter(group.values())))])


def plot(table: SweepTable, figure: str, path: Path) -> bool:
    """A heatmap (two swept keys) or an error-bar plot (one key) of ``figure``'s mean;
    returns False when the sweep has another shape."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(table.keys) not in (1, 2):
        return False
    stats = {k: mean_std(g[figure]) for k, g in table.groups.items()}
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if len(table.keys) == 1:
        labels = [k[0] for k in stats]
        means, stds = zip(*stats.values(), strict=True)
        ax.errorbar(range(len(labels)), means, yerr=stds, marker="o", capsize=4)
        ax.set_xticks(range(len(labels)), labels)
        ax.set(xlabel=table.keys[0], ylabel=figure)
    else:
        rows = list(dict.fromkeys(k[0] for k in stats))
        cols = list(dict.fromkeys(k[1] for k in stats))
        grid = [[stats.get((r, c), (math.nan, 0.0))[0] for c in cols] for r in rows]
        image = ax.imshow(grid, cmap="viridis", aspect="auto")
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                if (r, c) in stats:
                    m, s = stats[(r, c)]
                    ax.text(j, i, f"{_fmt(m)}\n±{_fmt(s, like=m)}", ha="center", va="center",
                            color="white", fontsize=8)  # fmt: skip
        ax.set_xticks(range(len(cols)), cols)
        ax.set_yticks(range(len(rows)), rows)
        ax.set(xlabel=table.keys[1], ylabel=table.keys[0])
        fig.colorbar(image, ax=ax, label=f"{figure} (mean)")
    ax.set_title(f"{figure}: mean over replicates")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    return True
