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
