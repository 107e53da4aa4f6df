"""``esnas-study``: run a registered study (a result table) by name, e.g.
``esnas-study study=nb201_probe_study study.cells=200``."""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from esnas.cli.app import hydra_entry
from esnas.studies import STUDIES
from esnas.utils.task import RunContext


def study_task(ctx: RunContext) -> dict[str, Any]:
    """Runs the study ``study.name`` with the rest of ``study`` as its options."""
    options = OmegaConf.to_container(ctx.cfg.study, resolve=True)
    assert isinstance(options, dict)
    return dict(STUDIES.get(str(options.pop("name"))).run(ctx, options))


main = hydra_entry("study", "study", study_task)

if __name__ == "__main__":
    main()
