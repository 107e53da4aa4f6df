"""How well training-free scores rank a trained ground truth (a ``write_rows`` CSV).

Why its own module: the NB201 tables compare scores with a benchmark's published accuracies;
the ESFormer stand-in has no benchmark but the rows we trained ourselves, with a seed-to-seed
ceiling of its own. This joins ``esnas-score`` CSVs (one per setting and probe seed) with
those rows by canonical arch string and reports Spearman rho / Kendall tau per score column,
per rank combination of columns, and per structural trait (``trait/<name>``), so a metric's
bias toward a trait (e.g. against attention blocks) shows beside how the labels depend on it.
"""

from __future__ import annotations

import csv
import math
import re
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from esnas.search.fitness import COMBINERS, parse_combination
from esnas.utils.atomic import atomic_open, atomic_path, write_text_atomic
from esnas.utils.errors import EsnasInputError
from esnas.utils.floor import FLOOR
from esnas.utils.task import short_commit

NOT_SCORES = ("arch", "index", "build_seconds")


@dataclass
class Correlation:
    """One score's agreement with the labels in one setting, over probe seeds."""

    rho: list[float] = field(default_factory=list)
    tau: list[float] = field(default_factory=list)
    trait_rho: dict[str, list[float]] = field(default_factory=dict)
    pick: list[float] = field(default_factory=list)  # the label of the score's argmax genome
    n: int = 0

    @staticmethod
    def cell(values: list[float]) -> str:
        if not values:
            return "–"
        if len(values) == 1:
            return f"{values[0]:.3f}"
        return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def labels_of(truth: Path, key: str, figure: str, replicate: str = "seed") -> dict[str, float]:
    """``{key value: figure}`` from the lowest replicate of each item (seed 0), the labels the
    seed-to-seed ceiling is measured on."""
    with truth.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get(figure) not in (None, "")]
    if not rows or key not in rows[0]:
        raise EsnasInputError(f"{truth} needs columns {key!r} and {figure!r}")
    best: dict[str, tuple[float, float]] = {}
    for r in rows:
        rep = _number(truth, replicate, r.get(replicate) or 0)
        if r[key] not in best or rep < best[r[key]][0]:
            best[r[key]] = (rep, _number(truth, figure, r[figure]))
    return {_arch(k): v for k, (_, v) in best.items()}


def _arch(model: str) -> str:
    """``esformer:<arch>`` (a trained model's name) -> ``<arch>`` (the space's string)."""
    return re.sub(r"^[a-z][a-z0-9_]*:", "", model)


SHARD = re.compile(r"^(?P<path>.+)@(?P<i>\d+)/(?P<k>\d+)$")


def csv_path(spec: Path | str) -> Path:
    """The file of a score CSV spec: ``scores.csv``, or ``scores.csv@i/k`` (a shard of it)."""
    m = SHARD.match(str(spec))
    return Path(m["path"]) if m else Path(spec)


def _columns(spec: Path) -> dict[str, dict[str, float]]:
    """Score columns of an ``esnas-score`` CSV: ``{column: {arch: value}}``. ``<csv>@i/k``
    keeps every k-th row from the i-th (disjoint halves of one sample: ``@0/2``, ``@1/2``)."""
    m, path = SHARD.match(str(spec)), csv_path(spec)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if m:
        i, k = int(m["i"]), int(m["k"])
        if not 0 <= i < k:
            raise EsnasInputError(f"{spec} is invalid; valid: <csv>@i/k with 0 <= i < k")
        rows = rows[i::k]
    if not rows or "arch" not in rows[0]:
        raise EsnasInputError(f"{path} is not an esnas-score CSV (no 'arch' column)")
    names = [c for c in rows[0] if c not in NOT_SCORES and not c.endswith("_seconds")]
    return {
        c: {r["arch"]: _number(path, c, r[c]) for r in rows if r[c] not in ("", None)}
        for c in names
    }


def _number(path: Path, column: str, value: object) -> float:
    """A CSV cell as a float, else a one-line error naming the file and column."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EsnasInputError(
            f"{path}: column {column!r} holds {value!r}; valid: numbers (or empty)"
        ) from None


def _valid(v: float) -> bool:
    return math.isfinite(v) and v > FLOOR


def _rank_combination(columns: Sequence[dict[str, float]], combine: str) -> dict[str, float]:
    archs = sorted(set.intersection(*(set(c) for c in columns)))
    values = COMBINERS.get(combine)([[c[a] for a in archs] for c in columns])
    return dict(zip(archs, values, strict=True))


def correlations(
    settings: Mapping[str, Sequence[Path]],
    labels: Mapping[str, float] | Mapping[str, Mapping[str, float]],
    combos: Sequence[str] = (),
    combine: str = "rank",
) -> dict[str, dict[str, Correlation]]:
    """``{score: {setting: Correlation}}`` over every score column, every combination
    (``a+b``, ``a+b@log_rank`` or a composition such as ``az_nas``) and every trait column of
    the settings' CSVs (each CSV one probe seed). ``labels``: ``{arch: label}``, or one such
    mapping per setting (NB201: each dataset its own accuracies)."""
    if not any(isinstance(v, Mapping) for v in labels.values()):
        labels = {s: labels for s in settings}
    from scipy.stats import ConstantInputWarning

    out: dict[str, dict[str, Correlation]] = {}
    with warnings.catch_warnings():  # a constant column gives NaN, dropped below
        warnings.simplefilter("ignore", ConstantInputWarning)
        _fill(out, settings, labels, combos, combine)
    for corr in (c for row in out.values() for c in row.values()):
        corr.rho = [v for v in corr.rho if math.isfinite(v)]
        corr.tau = [v for v in corr.tau if math.isfinite(v)]
        for trait, rhos in corr.trait_rho.items():  # a constant score: NaN, dropped too
            corr.trait_rho[trait] = [v for v in rhos if math.isfinite(v)]
    return out


def _fill(
    out: dict[str, dict[str, Correlation]],
    settings: Mapping[str, Sequence[Path]],
    by_setting: Mapping[str, Mapping[str, float]],
    combos: Sequence[str],
    combine: str,
) -> None:
    from scipy.stats import kendalltau, spearmanr

    for setting, paths in settings.items():
        labels = by_setting[setting]
        for path in paths:
            columns = _columns(path)
            for combo in combos:
                parts, agg = parse_combination(combo, combine)
                if all(p in columns for p in parts):
                    columns[combo] = _rank_combination([columns[p] for p in parts], agg)
            traits = {c: v for c, v in columns.items() if c.startswith("trait/")}
            for name, col in columns.items():
                archs = [a for a in col if a in labels and _valid(col[a])]
                if len(archs) < 3:
                    continue
                xs, ys = [col[a] for a in archs], [labels[a] for a in archs]
                corr = out.setdefault(name, {}).setdefault(setting, Correlation())
                corr.rho.append(float(spearmanr(xs, ys).statistic))
                corr.tau.append(float(kendalltau(xs, ys).statistic))
                corr.pick.append(labels[max(archs, key=col.__getitem__)])
                corr.n = len(archs)
                for trait, tcol in traits.items():
                    rho = spearmanr(xs, [tcol[a] for a in archs]).statistic
                    corr.trait_rho.setdefault(trait, []).append(float(rho))


def markdown_table(
    table: Mapping[str, Mapping[str, Correlation]], settings: Sequence[str], trait: str | None
) -> list[str]:
    """Rows = scores (best first by the first setting's rho), columns = rho / tau per setting
    and the label of each score's top genome (what a perfect optimiser of it would pick) and,
    with ``trait``, each score's rho with that trait."""
    head = ["score"]
    for s in settings:
        head += [f"ρ {s}", f"τ {s}", f"pick {s}"] + ([f"ρ with {trait} ({s})"] if trait else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def order(name: str) -> float:
        rho = table[name].get(settings[0], Correlation()).rho
        return -statistics.fmean(rho) if rho else math.inf

    for name in sorted(table, key=order):
        cells = [f"`{name}`"]
        for s in settings:
            c = table[name].get(s, Correlation())
            cells += [Correlation.cell(c.rho), Correlation.cell(c.tau), _pick(c.pick)]
            if trait:
                cells.append(Correlation.cell(c.trait_rho.get(f"trait/{trait}", [])))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _pick(values: list[float]) -> str:
    if not values:
        return "–"
    mean = statistics.fmean(values)
    digits = 2 if abs(mean) >= 1.5 else 4  # accuracies in % or as fractions
    spread = f" ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else ""
    return f"{mean:.{digits}f}{spread}"


def plot_correlations(
    table: Mapping[str, Mapping[str, Correlation]],
    settings: Sequence[str],
    ceiling: float | None,
    path: Path,
) -> None:
    """Horizontal bars of each score's rho per setting, the seed-to-seed ceiling as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in table if not n.startswith("trait/")]
    names.sort(key=lambda n: statistics.fmean(table[n].get(settings[0], Correlation()).rho or [0]))
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(names) * len(settings) + 1.5))
    height = 0.8 / len(settings)
    for j, s in enumerate(settings):
        rhos = [table[n].get(s, Correlation()).rho or [0.0] for n in names]
        means = [statistics.fmean(r) for r in rhos]
        errs = [statistics.stdev(r) if len(r) > 1 else 0.0 for r in rhos]
        ys = [i + j * height for i in range(len(names))]
        ax.barh(ys, means, height=height, xerr=errs, label=s)
    if ceiling is not None:
        ax.axvline(ceiling, color="k", ls="--", lw=1, label=f"seed-to-seed ceiling {ceiling:.2f}")
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(names))], names, fontsize=7)
    ax.set_xlabel("Spearman ρ with trained test top-1")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def scoring_minutes(settings: Mapping[str, Sequence[Path]]) -> float:
    total = 0.0
    for path in {csv_path(p) for paths in settings.values() for p in paths}:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                total += sum(float(v) for k, v in row.items() if k.endswith("seconds") and v)
    return total / 60


def write_report(
    settings: Mapping[str, Sequence[Path]],
    truth: Path,
    out: Path,
    *,
    key: str = "model",
    figure: str | Mapping[str, str] = "test/acc1",
    replicate: str = "seed",
    combos: Sequence[str] = (),
    trait: str | None = None,
    title: str = "Training-free scores against a trained ground truth",
    command: str = "",
    protocol: str | None = None,
) -> str:
    """Writes ``<out>.md`` (table, ceiling, protocol, command), ``<out>.csv`` and ``<out>.png``;
    returns the markdown. ``figure``: one label column, or one per setting (``{setting:
    column}``); a truth without a ``replicate`` column (a benchmark's table) has no ceiling."""
    from esnas.report import seed_agreement

    names = list(settings)
    figures = dict(figure) if isinstance(figure, Mapping) else {s: figure for s in names}
    unnamed = [s for s in names if s not in figures]
    if unnamed:
        raise EsnasInputError(
            f"no --figure for setting(s) {', '.join(unnamed)}; give SETTING=COLUMN"
        )
    by_setting = {s: labels_of(truth, key, figures[s], replicate) for s in names}
    table = correlations(settings, by_setting, combos)
    if not table:
        raise EsnasInputError(f"no score column shares >= 3 archs with {truth}'s {key!r} column")
    with truth.open(newline="") as f:
        replicated = replicate in next(csv.reader(f), [])
    figure = figures[names[0]]
    labels = by_setting[names[0]]
    agreement = seed_agreement(truth, key, figure, replicate) if replicated else {}
    ceiling = agreement.get("seed_rho")
    described = (
        ", ".join(f"`{figures[s]}` ({s})" for s in names)
        if len(set(figures.values())) > 1
        else f"`{figure}`"
    )
    seeds = {s: len(p) for s, p in settings.items()}
    lines = [f"# {title}", ""]
    if protocol:
        lines += [protocol, ""]
    lines += [
        f"Labels: {described} of {len(labels)} genomes in `{truth.name}` (lowest `{replicate}` "
        f"of each). Ceiling: the seed-to-seed Spearman ρ of those labels over "
        f"{agreement['pairs']} genomes trained twice = **{ceiling:.3f}**"
        if ceiling is not None
        else f"Labels: {described} of the genomes in `{truth.name}` (no seed pairs: no ceiling).",
        "",
        "Probe seeds per setting: "
        + ", ".join(f"{s}: {n}" for s, n in seeds.items())
        + " (a cell with ± is the mean ± std over them). "
        + ("Combinations: `a+b` adds ranks in [0, 1] (`rank`), `a+b@agg` uses aggregator "
           "`agg` (`log_rank`: AZ-NAS's Σ log(rank/n)); `az_nas` = AZ-NAS's four components "
           "with `log_rank`. `pick`: the label of the genome the score ranks first (mean over "
           "probe seeds). " if combos else "")
        + (f"`ρ with {trait}`: each score's Spearman ρ with the trait; the `trait/{trait}` row's "
           "own ρ is how the labels depend on it." if trait else ""),
        "",
        *markdown_table(table, names, trait),
        "",
        f"Scoring cost: {scoring_minutes(settings):.0f} CPU-min (the score CSVs' `*_seconds`, "
        f"one thread). Written at commit {short_commit()}.",
        "",
        f"Command: `{command}`" if command else "",
    ]  # fmt: skip
    text = "\n".join(lines).rstrip() + "\n"
    write_text_atomic(out.with_suffix(".md"), text)
    with atomic_open(out.with_suffix(".csv"), newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["score", "setting", "n", "rho_mean", "rho_std", "tau_mean", "seeds"])
        for name, row in table.items():
            for s, c in row.items():
                std = statistics.stdev(c.rho) if len(c.rho) > 1 else 0.0
                rho = statistics.fmean(c.rho) if c.rho else math.nan
                tau = statistics.fmean(c.tau) if c.tau else math.nan
                writer.writerow(
                    [name, s, c.n, f"{rho:.4f}", f"{std:.4f}", f"{tau:.4f}", len(c.rho)]
                )
    plot_correlations(table, names, ceiling, out.with_suffix(".png"))
    return text
