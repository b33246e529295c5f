"""Durations on the command line: `10s`, `500ms`, `5m`, `1h`, `14d`, or a bare number of seconds."""

from __future__ import annotations

import re

from memstall.errors import UsageError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "": 1.0}


def parse_duration(text: str, flag: str) -> float:
    """'10s', '500ms', '5m', '14d', '2.5' (seconds) -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*(ms|s|m|h|d|)\s*", text)
    if not m:
        raise UsageError(f"{flag} {text!r}: expected a duration such as 10s, 500ms, 5m, 14d")
    return float(m.group(1)) * _UNITS[m.group(2)]


__all__ = ["parse_duration"]
