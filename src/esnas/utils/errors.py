"""The one error type for bad user input, so that the CLIs can tell it from a bug.

Why a type of its own: the entry points print bad input (a config value, an arch string, a
file that is not what it should be) as one line with exit status 2, and must not hide a real
bug under that line. Raise :class:`EsnasInputError` wherever input is checked; anything else
keeps its traceback. It is a ``ValueError``, so ``except ValueError`` in user code still works.
"""

from __future__ import annotations


class EsnasInputError(ValueError):
    """Bad input from a user: a config value, a name, an arch string or a file's content.

    Its message is one line that names what is valid.
    """


def as_number(
    name: str,
    value: object,
    kind: type[int] | type[float] = int,
    minimum: float | None = None,
    optional: bool = False,
) -> int | float | None:
    """``value`` as an ``int`` or ``float`` of at least ``minimum``, else a one-line
    :class:`EsnasInputError` naming the key (``probe.batch_size=abc``, a negative budget):
    config values come in as strings and numbers alike. ``optional``: ``None`` passes."""
    if value is None and optional:
        return None
    what = f"an {kind.__name__}" if kind is int else f"a {kind.__name__}"
    valid = what if minimum is None else f"{what} >= {minimum:g}"
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float)):
            raise TypeError  # True is not a batch size, 2.5 is not an int
        number = kind(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise EsnasInputError(f"{name}={value!r} is invalid; valid: {valid}") from None
    if minimum is not None and number < minimum:
        raise EsnasInputError(f"{name}={value!r} is invalid; valid: {valid}")
    return number
