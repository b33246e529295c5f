"""argparse value types shared by the sub-commands (not a sub-command itself)."""

from __future__ import annotations

import argparse
import datetime
import math

from memstall.duration import parse_duration
from memstall.errors import UsageError

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


def time_ms(text: str, flag: str, end_ms: int) -> int:
    """A point in a recording, in ms since the epoch: an ISO date/time (UTC unless it says), or
    a time before `end_ms` written `-2h` (any duration: -30s, -30m, -1d). For report's
    --from/--to and top's --at.

    >>> time_ms("2026-12-04T10:00:00", "--at", 0)
    1796378400000
    >>> time_ms("-30s", "--at", 1796378400000)
    1796378370000
    """
    if text.startswith("-"):
        return end_ms - int(parse_duration(text[1:], flag) * 1000)
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag} {text!r}: expected an ISO date/time such as 2026-12-04T10:00 "
            "or a time before the end such as -2h"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp() * 1000)
