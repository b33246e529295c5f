"""Allocation reports from /dev/kmsg as they are printed, for `memstall top` (root only).

`open_kmsg()` opens the device non-blocking and seeks to its end (SEEK_END on /dev/kmsg: 3.5+,
Documentation/ABI/testing/dev-kmsg), so only what the kernel prints from then on is shown,
not the ring buffer's history. Each `poll()` reads the records printed since the last one and
feeds them to the log scanner (parsers/kernlog), which returns an allocation stall, failure or
OOM report once it is complete: when the next unrelated line comes, or when a whole poll
interval passes without a record (the kernel prints a report within milliseconds, so a quiet
interval means it is done).
"""

from __future__ import annotations

import os
from typing import Callable

from memstall.model.kernlog import AllocEvent
from memstall.parsers.kernlog.scanner import Item, LogScanner
from memstall.sources.kernlog import KmsgStream

KMSG = "/dev/kmsg"


class KmsgEvents:
    """Complete allocation reports from a stream of /dev/kmsg records, one poll at a time."""

    def __init__(self, read: Callable[[], bytes], source: str = KMSG) -> None:
        self._read = read
        self._scanner = LogScanner(source)
        self._partial = b""

    def poll(self) -> list[AllocEvent]:
        """The reports completed since the last poll, oldest first."""
        data = self._read()
        items: list[Item] = []
        if data:
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                items += self._scanner.feed(line)
        else:  # a quiet interval: whatever was printed is complete
            if self._partial:
                items += self._scanner.feed(self._partial)
                self._partial = b""
            items += self._scanner.finish()
        return [item for item in items if isinstance(item, AllocEvent)]


def open_kmsg(path: str = KMSG) -> tuple[KmsgEvents | None, str]:
    """The reports printed from now on, or None and why not (not root, no such device)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        return None, f"{path}: {err.strerror} (kernel events need root)"
    try:
        os.lseek(fd, 0, os.SEEK_END)
    except OSError as err:  # not /dev/kmsg (a file given in tests is fine at its end too)
        os.close(fd)
        return None, f"{path}: {err.strerror}"
    stream = KmsgStream(fd)
    return KmsgEvents(stream.read, path), ""


__all__ = ["KMSG", "KmsgEvents", "open_kmsg"]
