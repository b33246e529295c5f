"""argparse value types shared by the sub-commands (not a sub-command itself)."""

from __future__ import annotations

import argparse
import math

MAX_SECONDS = 7 * 24 * 3600.0
"""The longest interval a flag accepts: a week. `float()` reads 'nan', 'inf' and 1e308, and
each made a command sleep forever or crash (issue 9); nothing here needs more than a week."""


def seconds(text: str) -> float:
    """A finite number of seconds from 0 to a week, for --interval and friends.

    >>> seconds("2.5")
    2.5
    >>> seconds("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 'nan' is not a number of seconds from 0 to 604800
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to {MAX_SECONDS:.0f}")
    return value
