"""A tiny run-logger protocol with W&B, disk (CSV) and no-op backends.

Search and scoring code log through :class:`RunLogger` only, so tests run with the disk
backend and no W&B at all, and a user switches with ``logger=wandb|csv|none``. A new backend
registers itself (``@LOGGERS.register("mine")``) and is selected with ``logger=mine``.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from esnas.utils.atomic import atomic_open, write_json_atomic, write_text_atomic
from esnas.utils.console import get_logger
from esnas.utils.registry import Registry

log = get_logger(__name__)


class RunLogger:
    """Base backend: every call is a no-op, so subclasses override only what they store."""

    #: The backend's own run object, where it has one (the W&B run), else ``None``.
    run: Any = None

    def __init__(self, output_dir: str | os.PathLike, job_type: str = "run", **_: Any) -> None:
        self.output_dir = Path(output_dir)
        self.job_type = job_type

    def log(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Scalars at ``step`` (e.g. per-generation best fitness)."""

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A table, e.g. a search history."""

    def log_image(self, name: str, path: str | os.PathLike) -> None:
        """A PNG already written to disk (plots are always files first)."""

    def log_artifact(self, path: str | os.PathLike, name: str, type: str) -> None:
        """A file to version and hand to another job (e.g. the best genome to training)."""

    def log_summary(self, figures: Mapping[str, Any]) -> None:
        """The run's final figures."""

    def close(self, exit_code: int = 0) -> None:
        """Finishes the run; always called, also after an exception (``exit_code != 0``)."""


LOGGERS: Registry[type[RunLogger]] = Registry("run logger")


@LOGGERS.register("none")
class NullRunLogger(RunLogger):
    """``logger=none``: records nothing beyond the run folder's summary.json."""


@LOGGERS.register("csv")
class DiskRunLogger(RunLogger):
    """``logger=csv``: scalars to ``metrics.csv`` (long format, crash-safe appends), tables
    to ``tables/<name>.csv``, and an index of images and artifacts in ``artifacts.json``."""

    def __init__(self, output_dir: str | os.PathLike, job_type: str = "run", **kw: Any) -> None:
        super().__init__(output_dir, job_type, **kw)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._metrics_path = self.output_dir / "metrics.csv"
        self._artifacts: list[dict[str, str]] = []
        if not self._metrics_path.exists():
            self._metrics_path.write_text("step,key,value\n")

    def log(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        with self._metrics_path.open("a", newline="") as f:
            writer = csv.writer(f)
            for key, value in metrics.items():
                writer.writerow(["" if step is None else step, key, value])

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        path = self.output_dir / "tables" / f"{name}.csv"
        path.parent.mkdir(exist_ok=True)
        with atomic_open(path, newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            writer.writerows(rows)

    def log_image(self, name: str, path: str | os.PathLike) -> None:
        self._artifacts.append({"name": name, "type": "image", "path": str(path)})

    def log_artifact(self, path: str | os.PathLike, name: str, type: str) -> None:
        self._artifacts.append({"name": name, "type": type, "path": str(path)})

    def close(self, exit_code: int = 0) -> None:
        if self._artifacts:
            index = self.output_dir / "artifacts.json"
            write_json_atomic(index, self._artifacts)


WANDB_ID_FILE = "wandb_run_id"


@LOGGERS.register("wandb")
class WandbRunLogger(RunLogger):
    """``logger=wandb``: one W&B run per job, offline by default, always finished.

    The run's files go under ``<output_dir>/wandb``; ``wandb sync <that dir>/offline-run-*``
    uploads them later. ``WANDB_MODE`` in the environment wins over ``offline`` (tests set it).
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        job_type: str = "run",
        run_config: Mapping[str, Any] | None = None,
        project: str = "esnas",
        entity: str | None = None,
        group: str | None = None,
        name: str | None = None,
        tags: Sequence[str] = (),
        offline: bool = True,
        **kw: Any,
    ) -> None:
        import wandb  # imported here: it costs ~1 s and the other backends never need it

        super().__init__(output_dir, job_type, **kw)
        self._wandb = wandb
        self.output_dir.mkdir(parents=True, exist_ok=True)
        # A rerun into the same folder (a resumed search or training) continues its W&B run.
        id_file = self.output_dir / WANDB_ID_FILE
        run_id = id_file.read_text().strip() if id_file.is_file() else None
        self.run = wandb.init(
            id=run_id or None,
            resume="allow" if run_id else None,
            project=project,
            entity=entity,
            group=group,
            job_type=job_type,
            name=name,
            tags=list(tags),
            config=dict(run_config or {}),
            dir=str(self.output_dir),
            mode=os.environ.get("WANDB_MODE") or ("offline" if offline else "online"),
            reinit="finish_previous",  # a multirun job never appends to the previous job's run
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
        )
        if not run_id and self.run.id:
            write_text_atomic(id_file, f"{self.run.id}\n")

    def log(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.run.log(dict(metrics), step=step)

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.run.log({name: self._wandb.Table(columns=list(columns), data=[list(r) for r in rows])})

    def log_image(self, name: str, path: str | os.PathLike) -> None:
        self.run.log({name: self._wandb.Image(str(path))})

    def log_artifact(self, path: str | os.PathLike, name: str, type: str) -> None:
        artifact = self._wandb.Artifact(name=name, type=type)
        artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def log_summary(self, figures: Mapping[str, Any]) -> None:
        for key, value in figures.items():
            self.run.summary[key] = value

    def close(self, exit_code: int = 0) -> None:
        self.run.finish(exit_code=exit_code)
