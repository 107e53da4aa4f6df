"""Builds the ``main()`` of each entry point around :func:`esnas.utils.task.run_task`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import hydra
from hydra.errors import InstantiationException, OverrideParseException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from esnas.cli.configstore import register_configs
from esnas.utils.config import ConfigChoiceError, check_group_choices, config_dir
from esnas.utils.errors import EsnasInputError
from esnas.utils.task import RunContext, run_task

Task = Callable[[RunContext], Mapping[str, Any] | None]


def is_input_error(err: BaseException) -> bool:
    """Whether ``err`` is the user's doing, to be shown as one line rather than a traceback.

    That is a value esnas rejected (:class:`EsnasInputError`, unknown names included), a missing
    or mistyped config key (OmegaConf), or Hydra failing to instantiate a ``_target_`` because
    of one of those, a target that does not exist, or a call that rejects the config's
    arguments. A ``TypeError`` raised *inside* a constructor, or any other error, is a bug
    and keeps its traceback.
    """
    if isinstance(err, EsnasInputError | OmegaConfBaseException):
        return True
    if not isinstance(err, InstantiationException):
        return False
    cause = err.__cause__
    if cause is None or str(err).startswith("Error locating target"):
        return True  # Hydra's own checks of the node, or a _target_ that does not import
    if isinstance(cause, TypeError) and cause.__traceback__ is not None:
        return cause.__traceback__.tb_next is None  # raised by the call itself: bad arguments
    return is_input_error(cause)


def one_line(err: BaseException) -> str:
    """The message of a config error on one line (Hydra's instantiate errors span several)."""
    text = " ".join(part.strip() for part in str(err).splitlines() if part.strip())
    return text or type(err).__name__


def malformed_override(err: OverrideParseException) -> str:
    """Hydra's grammar error as one line, with the usual cause: an unquoted special value."""
    first = str(err).splitlines()[0].split(": ", 1)[-1]
    return (
        f"malformed override {first!r}; quote values holding | ~ ( ) or spaces, e.g. "
        "'sample.archs=[\"|nor_conv_3x3~0|...\"]' (grammar: "
        "https://hydra.cc/docs/advanced/override_grammar/basic)"
    )


def hydra_entry(config_name: str, job_type: str, task: Task) -> Callable[[], Any]:
    """A console-script ``main`` that composes ``conf/<config_name>.yaml`` and runs ``task``.

    Bad group choices (``space=typo``) fail before Hydra starts, and bad input the task
    rejects (:func:`is_input_error`) fails after it, each with one line and exit status 2
    (``HYDRA_FULL_ERROR=1`` shows the traceback instead). Any other error is a bug and
    keeps its traceback.
    """

    @hydra.main(version_base="1.3", config_path=str(config_dir()), config_name=config_name)
    def _hydra_main(cfg: DictConfig) -> Any:
        try:
            figures = run_task(cfg, job_type, task)
        except Exception as err:
            if not is_input_error(err) or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            # Bad input (an unknown metric, a malformed arch string): one line, no traceback;
            # summary.json keeps the traceback for the curious.
            print(f"esnas-{config_name}: error: {one_line(err)}", file=sys.stderr)
            raise SystemExit(2) from None
        return figures.get(cfg.get("optimized_metric")) if cfg.get("optimized_metric") else None

    def main() -> Any:
        # Before Hydra composes: the config nodes made from the registries, including parts
        # registered after this module was imported (a plugin, the README's examples).
        register_configs(config_name)
        try:
            check_group_choices(sys.argv[1:])
        except ConfigChoiceError as err:
            print(f"esnas-{config_name}: error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        except OverrideParseException as err:
            print(f"esnas-{config_name}: error: {malformed_override(err)}", file=sys.stderr)
            raise SystemExit(2) from None
        return _hydra_main()

    main.__doc__ = f"esnas-{config_name}: {task.__doc__ or ''}".strip()
    return main
