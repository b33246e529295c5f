"""Which allocation reports of a kernel log to keep: by host, kind and time.

`logs --host/--kind/--since/--until` and any later command that reads logs (record, report)
filter the same way. Times are compared in the form the log gives them: uptime seconds
(`[ 1234.5]`) against a number, wall-clock stamps (dmesg -T, syslog, journalctl short-iso,
ISO) against a date/time.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Union

from memstall.errors import UsageError
from memstall.model.kernlog import AllocEvent

Bound = Union[float, datetime]
"""A --since/--until bound: uptime seconds, or a wall-clock date/time."""


def parse_bound(text: str, flag: str) -> Bound:
    """Uptime seconds or an ISO date/time; `flag` names the option in the error message."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):  # nan would let every event through, inf none
            return seconds
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected uptime seconds or an ISO date/time "
                         "such as 2017-08-11T16:51") from None


def wall_time(event: AllocEvent, year: int) -> datetime | None:
    """The event's wall-clock stamp as a datetime (`year` for syslog, which prints none)."""
    t = event.time
    if t is None:
        return None
    words = " ".join(t.split())
    for text, fmt in ((words, "%a %b %d %H:%M:%S %Y"),  # dmesg -T
                      (f"{year} {words}", "%Y %b %d %H:%M:%S")):  # syslog: no year printed
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    iso = t.replace(",", ".")
    if len(iso) > 5 and iso[-5] in "+-" and iso[-3] != ":":  # journalctl short-iso +0300
        iso = iso[:-2] + ":" + iso[-2:]
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        return None


def in_time_range(event: AllocEvent, since: Bound | None, until: Bound | None) -> bool:
    """True when the event lies within [since, until]; an event without a comparable time
    is left out as soon as a bound is given."""
    for given, after in ((since, True), (until, False)):
        if given is None:
            continue
        bound: Any = given
        if isinstance(given, float):
            value: Any = event.uptime_s
        else:
            value = wall_time(event, given.year)
            if value is not None and (value.tzinfo is None) != (given.tzinfo is None):
                # a stamp without a zone (syslog, dmesg -T) against one with: wall clock both
                value, bound = value.replace(tzinfo=None), given.replace(tzinfo=None)
        if value is None or (value < bound if after else value > bound):
            return False
    return True


@dataclass(frozen=True)
class EventFilter:
    """Hosts and kinds to keep (empty: all) and a time range (None: open)."""

    hosts: Collection[str] = ()
    kinds: Collection[str] = ()
    since: Bound | None = None
    until: Bound | None = None

    @property
    def active(self) -> bool:
        """True when anything is filtered: a Mem-Info dump without a report (no host, kind
        or time of its own) is then left out."""
        return bool(self.hosts or self.kinds) or self.since is not None or self.until is not None

    def wants(self, event: AllocEvent) -> bool:
        if self.hosts and event.host not in self.hosts:
            return False
        if self.kinds and event.kind not in self.kinds:
            return False
        return in_time_range(event, self.since, self.until)


__all__ = ["Bound", "EventFilter", "in_time_range", "parse_bound", "wall_time"]
