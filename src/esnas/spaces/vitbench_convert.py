"""``python -m esnas.spaces.vitbench_convert --convert gt_autoformer.pth gt_autoformer_2.pth
gt_pit.pth``: rebuilds the packaged ViT-Bench-101 CSVs from the benchmark's ``gt_results`` files.

Why a module of its own: ``python -m esnas.spaces.vitbench`` would run that module a second time
as ``__main__`` and register its spaces twice. Why CSVs: the ``.pth`` files are torch zips of
plain lists of dicts; a CSV is read without torch's unpickler, diff-able, and names its columns.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from esnas.spaces.vitbench import ACCURACIES, AF_EXTRA, KINDS, columns, data_dir, genome_of
from esnas.utils.errors import EsnasInputError

SOURCE_KEYS: dict[str, str] = {
    "c100_base_acc": "c100_base",
    "c100_kd_acc": "c100_kd",
    "flower_base_acc": "flowers_base",
    "flower_kd_acc": "flowers_kd",
    "chaoyang_base_acc": "chaoyang_base",
    "chaoyang_kd_acc": "chaoyang_kd",
    "imagenet_super_acc": "imagenet_supernet",
}
"""The benchmark's result keys -> this project's column names."""
_FORMAT = "a ViT-Bench-101 gt_results .pth (a list of {'arch': {...}, '<dataset>_acc': ...})"


def read_pth(path: str | Path) -> tuple[str, list[dict[str, Any]]]:
    """The kind (``autoformer`` or ``pit``, from the ``arch`` keys) and rows of one file, each
    row the CSV's fields but ``arch`` (``source`` is the file's stem)."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise EsnasInputError(f"{path} is not {_FORMAT}")
    kinds = {k for k, fields in KINDS.items() if set(data[0].get("arch", {})) == set(fields)}
    if len(kinds) != 1:
        raise EsnasInputError(f"{path} is not {_FORMAT}")
    kind = kinds.pop()
    accs = (*ACCURACIES, *(AF_EXTRA if kind == "autoformer" else ()))
    rows = []
    for i, record in enumerate(data):
        names = {SOURCE_KEYS.get(k, k) for k in record if k != "arch"}
        if names != set(accs) or set(record.get("arch", {})) != set(KINDS[kind]):
            raise EsnasInputError(f"{path} row {i} has keys {sorted(record)}; not {_FORMAT}")
        row = {"source": Path(path).stem, "source_index": i, **record["arch"]}
        row.update(
            {SOURCE_KEYS[k]: _accuracy(v, path, i) for k, v in record.items() if k != "arch"}
        )
        rows.append(row)
    return kind, rows


def _accuracy(value: Any, path: str | Path, i: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EsnasInputError(f"{path} row {i}: accuracy {value!r} is not a finite number")
    return float(value)


def _cell(key: str, value: Any) -> str:
    """One CSV cell: accuracies by ``repr`` (they read back bit for bit), empty for missing;
    the raw config as JSON (``[3.5, 4.0]``); the rest as text."""
    if key in SOURCE_KEYS.values():
        return "" if value is None else repr(value)
    if key in ("arch", "source", "source_index"):
        return str(value)
    return json.dumps(value)


def convert(paths: Sequence[str | Path], out_dir: str | Path) -> dict[str, int]:
    """Writes ``<kind>.csv`` into ``out_dir`` for each kind among ``paths`` (rows in the order
    of the files given, then of their lists) and returns the rows written per kind.

    Every network is checked to lie in its space (its canonical string is the ``arch`` column)
    and to appear once; a file that is not a ViT-Bench-101 result list is an input error.
    """
    tables: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        kind, rows = read_pth(path)
        tables.setdefault(kind, []).extend(rows)
    counts = {}
    for kind, rows in tables.items():
        seen: set[str] = set()
        for row in rows:
            row["arch"] = genome_of(kind, row).arch_str
            if row["arch"] in seen:
                raise EsnasInputError(f"{kind} network {row['arch']} appears twice")
            seen.add(row["arch"])
        with (Path(out_dir) / f"{kind}.csv").open("w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns(kind))
            writer.writerows([_cell(k, row[k]) for k in columns(kind)] for row in rows)
        counts[kind] = len(rows)
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m esnas.spaces.vitbench_convert --convert PTH... [--out DIR]``."""
    parser = argparse.ArgumentParser(description="Convert ViT-Bench-101's .pth to esnas' CSVs.")
    parser.add_argument("--convert", required=True, nargs="+", metavar="PTH")
    parser.add_argument("--out", default=str(data_dir()), metavar="DIR")
    args = parser.parse_args(argv)
    for kind, n in convert(args.convert, args.out).items():
        print(f"wrote {n} rows to {Path(args.out) / f'{kind}.csv'}")


if __name__ == "__main__":
    main()
