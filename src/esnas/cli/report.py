"""``esnas-report``: a sweep's job folders in, a markdown table, a CSV and a plot out.

    esnas-report logs/search/multiruns/<date>_<time>
    esnas-report <sweep> --figures best_test_acc/cifar10 best_fitness --out experiments/results/x

Reads only the jobs' ``summary.json`` (no W&B connection). The plot is a heatmap of the
first figure's mean when two keys are swept (a phase-length grid), an error-bar plot when one
is; writes ``<out>.md``, ``<out>.csv`` and ``<out>.png``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from esnas.report import (
    load_jobs,
    plot,
    seed_agreement,
    tabulate,
    write_csv,
    write_markdown,
    write_rows,
)
from esnas.utils.errors import EsnasInputError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="esnas-report", description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="*", help="multirun folders (or run folders)")
    parser.add_argument(
        "--figures",
        nargs="+",
        help="summary figures to report (default: ground-truth accuracies, best_fitness, "
        "params, MACs, wall time)",
    )
    parser.add_argument("--replicate", default="seed", help="override averaged over (seed)")
    parser.add_argument("--out", help="output path without suffix (default: <first sweep>/report)")
    parser.add_argument("--title", help="the markdown title (default: Sweep report)")
    parser.add_argument(
        "--protocol",
        help="text put under the title: the sweep's command and how it was run (@FILE: read it)",
    )
    parser.add_argument(
        "--rows",
        help="write one CSV row per completed job (overrides, figures, commit, the command that "
        "reruns it) to this file instead of a table of means",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --rows: keep the file's rows that no job under the sweeps reran",
    )
    parser.add_argument(
        "--agreement",
        metavar="KEY[:FIGURE]",
        help="with --rows: spread of FIGURE (test/acc1) over KEY's items, its std between "
        "replicates and the replicates' Spearman rho (the ceiling of any proxy)",
    )
    parser.add_argument(
        "--correlate",
        action="append",
        metavar="SETTING=CSV[,CSV...]",
        help="esnas-score CSVs (one per probe seed) of one setting, ranked against --truth; "
        "CSV@i/k keeps every k-th row from the i-th; repeat for more settings",
    )
    parser.add_argument("--truth", help="with --correlate: a --rows CSV of trained labels")
    parser.add_argument("--key", default="model", help="--truth column joined to 'arch' (model)")
    parser.add_argument(
        "--figure",
        nargs="+",
        default=["test/acc1"],
        metavar="[SETTING=]COLUMN",
        help="--truth label column (test/acc1), or one per --correlate setting",
    )
    parser.add_argument(
        "--combine", nargs="+", default=[], metavar="A+B", help="rank combinations of scores"
    )
    parser.add_argument("--trait", help="with --correlate: show each score's rho with this trait")
    parser.add_argument(
        "--validate",
        metavar="ANSWERS.csv",
        help="a search sweep's --rows (best_arch per strategy x seed); with --trained (the "
        "answers' trainings), --truth (random genomes' labels) and --group (strategy column)",
    )
    parser.add_argument("--trained", help="with --validate: --rows of the answers' trainings")
    parser.add_argument(
        "--group", help="with --validate: the answers' strategy column; with --compare: the model"
    )
    parser.add_argument("--baselines", help="with --validate: --rows of named models' trainings")
    parser.add_argument(
        "--compare",
        metavar="ROWS.csv",
        help="--rows of named models' trainings with an LR sweep on seed 0: per model (--group, "
        "default model.name) the LR chosen on validation and --figure at it over all seeds",
    )
    args = parser.parse_args(argv)
    command = shlex.join(["esnas-report", *(argv if argv is not None else sys.argv[1:])])
    if args.protocol and args.protocol.startswith("@"):
        path = Path(args.protocol[1:])
        if not path.is_file():
            print(f"esnas-report: error: --protocol {args.protocol}: no such file", file=sys.stderr)
            return 2
        args.protocol = path.read_text().strip()
    if args.correlate:
        return _correlate(args, command)
    if args.validate:
        return _validate(args, command)
    if args.compare:
        return _compare(args, command)
    if not args.sweeps:
        parser.error("give sweep folders, or --correlate SETTING=CSV --truth ROWS.csv")
    if args.rows:
        try:
            n = write_rows(args.sweeps, Path(args.rows), args.figures, args.update)
        except EsnasInputError as err:
            print(f"esnas-report: error: {err}", file=sys.stderr)
            return 2
        print(f"wrote {n} rows to {args.rows}")
        if args.agreement:
            key, _, figure = args.agreement.partition(":")
            stats = seed_agreement(Path(args.rows), key, figure or "test/acc1", args.replicate)
            print(", ".join(f"{k} {v:.4g}" for k, v in stats.items()))
        return 0
    try:
        table = tabulate(load_jobs(args.sweeps), args.figures, args.replicate)
    except EsnasInputError as err:
        print(f"esnas-report: error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(args.sweeps[0]) / "report"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_markdown(
        table, out.with_suffix(".md"), args.title or "Sweep report", command, args.protocol
    )
    write_csv(table, out.with_suffix(".csv"))
    plotted = plot(table, table.figures[0], out.with_suffix(".png"))
    print(out.with_suffix(".md").read_text())
    print(f"wrote {out}.md, {out}.csv" + (f", {out}.png" if plotted else ""))
    return 0


def _require_rows(flag: str, path: str | None) -> None:
    """A one-line ``ValueError`` unless ``path`` is an existing file (a ``--rows`` CSV)."""
    if not path or not Path(path).exists():
        raise EsnasInputError(f"{flag} {path!r} is invalid; valid: an esnas-report --rows CSV")


def _figures(items: list[str]) -> str | dict[str, str]:
    """``["test/acc1"]`` -> one column; ``["cifar10=c10_test", ...]`` -> one per setting."""
    if len(items) == 1 and "=" not in items[0]:
        return items[0]
    pairs = [item.partition("=") for item in items]
    bad = [item for item, (_, sep, col) in zip(items, pairs, strict=True) if not sep or not col]
    if bad:
        raise EsnasInputError(
            f"--figure {bad[0]!r} is invalid; valid: COLUMN, or SETTING=COLUMN items"
        )
    return {setting: col for setting, _, col in pairs}


def _correlate(args: argparse.Namespace, command: str) -> int:
    from esnas.correlation import csv_path, write_report

    try:
        settings = {}
        for item in args.correlate:
            setting, sep, paths = item.partition("=")
            if not sep or not paths:
                raise EsnasInputError(
                    f"--correlate {item!r} is invalid; valid: SETTING=CSV[,CSV...]"
                )
            settings[setting] = [Path(p) for p in paths.split(",")]
            missing = [str(p) for p in settings[setting] if not csv_path(p).exists()]
            if missing:
                raise EsnasInputError(f"--correlate {setting}: no file {', '.join(missing)}")
        _require_rows("--truth", args.truth)
        out = Path(args.out or "correlation")
        text = write_report(
            settings, Path(args.truth), out, key=args.key, figure=_figures(args.figure),
            replicate=args.replicate, combos=args.combine, trait=args.trait,
            command=command, protocol=args.protocol,
            **({"title": args.title} if args.title else {}),
        )  # fmt: skip
    except EsnasInputError as err:
        print(f"esnas-report: error: {err}", file=sys.stderr)
        return 2
    print(text)
    print(f"wrote {out}.md, {out}.csv, {out}.png")
    return 0


def _validate(args: argparse.Namespace, command: str) -> int:
    from esnas.validation import write_report

    try:
        named = {"--validate": args.validate, "--trained": args.trained, "--truth": args.truth}
        named |= {"--baselines": args.baselines} if args.baselines else {}
        for flag, path in named.items():
            _require_rows(flag, path)
        if not args.group:
            raise EsnasInputError("--validate needs --group, the answers' strategy column")
        figure = _figures(args.figure)
        if not isinstance(figure, str):
            raise EsnasInputError("--validate takes one --figure COLUMN, not SETTING=COLUMN items")
        out = Path(args.out or "validation")
        text = write_report(
            Path(args.validate), Path(args.trained), Path(args.truth), out, group=args.group,
            baselines=Path(args.baselines) if args.baselines else None, figure=figure,
            command=command, protocol=args.protocol,
            **({"title": args.title} if args.title else {}),
        )  # fmt: skip
    except EsnasInputError as err:
        print(f"esnas-report: error: {err}", file=sys.stderr)
        return 2
    print(text)
    print(f"wrote {out}.md")
    return 0


def _compare(args: argparse.Namespace, command: str) -> int:
    from esnas.comparison import write_report

    try:
        _require_rows("--compare", args.compare)
        figure = _figures(args.figure)
        if not isinstance(figure, str):
            raise EsnasInputError("--compare takes one --figure COLUMN, not SETTING=COLUMN items")
        out = Path(args.out or "comparison")
        text = write_report(
            Path(args.compare), out, group=args.group or "model.name", figure=figure,
            command=command, protocol=args.protocol,
            **({"title": args.title} if args.title else {}),
        )  # fmt: skip
    except EsnasInputError as err:
        print(f"esnas-report: error: {err}", file=sys.stderr)
        return 2
    print(text)
    print(f"wrote {out}.md, {out}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
