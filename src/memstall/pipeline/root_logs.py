"""The kernel logs a root holds (specs.ROOT_KERNEL_LOGS), read for `diagnose --root`.

A captured root (a copied tree, a tarball, a sosreport) often holds the kernel's own account
of its stalls: syslog files with their rotations, a sosreport's journal and dmesg output.
Each is read as a stream (`Source.open_stream`: never whole in memory; a rotated `.gz` is
decompressed as it is read) through the same scanner as `--log`, oldest file first, and
only the last Mem-Info is kept. `--log FILE` adds files of its own, read after the root's.

The same report is often in several files (kern.log and syslog, the journal and dmesg): an
event already seen (same kind, task, pid, order, mask, stall and kill line) is counted once.
What was read, and what was skipped and why, is said in the notes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from memstall import specs
from memstall.collect_log import scan_last_dump
from memstall.errors import SourceUnavailable
from memstall.model.kernlog import AllocEvent, MemInfoDump
from memstall.sources import Source
from memstall.sources.kernlog import LogReader

MAX_ROOT_LOG_BYTES = 1 << 30
"""A root's log larger than this (as stored, compressed or not) is skipped and said: reading
it is slow (no grep prefilter inside a root). `--log FILE` reads it whatever its size."""

_ROTATION = re.compile(r"^[.-](\d+)")
_DATEEXT_DIGITS = 8  # logrotate dateext: messages-20240101


def _age_key(rel: str, pattern: str) -> tuple[int, int]:
    """Oldest first within one family: `kern.log.3.gz`, `.2.gz`, `.1`, then `kern.log`;
    dateext suffixes (`messages-20240101`) by date; other names (journalctl_*) by name."""
    base = pattern.rstrip("*")
    suffix = rel[len(base):] if rel.startswith(base) else rel
    m = _ROTATION.match(suffix)
    if not suffix or m is None:
        return (1, 0)
    n = int(m.group(1))
    return (0, n if len(m.group(1)) >= _DATEEXT_DIGITS else -n)


def root_log_paths(source: Source) -> list[str]:
    """The kernel logs of a root, family by family (specs.ROOT_KERNEL_LOGS), oldest first."""
    out: list[str] = []
    for pattern in specs.ROOT_KERNEL_LOGS:
        keyed = sorted((*_age_key(rel, pattern), rel) for rel in source.glob(pattern))
        out.extend(rel for _, _, rel in keyed)
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class LogsRead:
    """The allocation reports of several logs, their last Mem-Info, and what was read."""

    events: tuple[AllocEvent, ...]
    dump: MemInfoDump | None
    read: tuple[str, ...]
    """One line per file read: `var/log/kern.log.1 (2 reports)`."""
    skipped: tuple[str, ...]
    """One line per file not read: `var/log/syslog: permission denied`."""
    duplicates: int

    @property
    def notes(self) -> tuple[str, ...]:
        notes = []
        if self.read:
            notes.append("kernel logs read: " + ", ".join(self.read))
        if self.duplicates:
            notes.append(f"{self.duplicates} report{'s' if self.duplicates != 1 else ''} found in "
                         "more than one log counted once")
        notes.extend(f"kernel log skipped: {why}" for why in self.skipped)
        return tuple(notes)


def _event_key(e: AllocEvent) -> tuple[object, ...] | None:
    """What makes two reports the same one, printed twice; None when too little is known."""
    if e.pid is None:
        return None
    return (e.kind, e.comm, e.pid, e.order, e.gfp_mode, e.stall_ms, e.killed)


class _Collector:
    def __init__(self) -> None:
        self.events: list[AllocEvent] = []
        self.dump: MemInfoDump | None = None
        self.read: list[str] = []
        self.skipped: list[str] = []
        self.duplicates = 0
        self._seen: set[tuple[object, ...]] = set()

    def add(self, label: str, items: Sequence[AllocEvent | MemInfoDump]) -> None:
        new = 0
        for item in items:
            dump = item.mem_info if isinstance(item, AllocEvent) else item
            if dump is not None:
                self.dump = dump  # files come oldest first: the last dump read is the newest
            if not isinstance(item, AllocEvent):
                continue
            key = _event_key(item)
            if key is not None and key in self._seen:
                self.duplicates += 1
                continue
            if key is not None:
                self._seen.add(key)
            self.events.append(item)
            new += 1
        self.read.append(f"{label} ({new} report{'' if new == 1 else 's'})")

    def result(self) -> LogsRead:
        events = tuple(e if e.mem_info is None or e.mem_info is self.dump else _drop_dump(e)
                       for e in self.events)
        return LogsRead(events, self.dump, tuple(self.read), tuple(self.skipped), self.duplicates)


def _drop_dump(e: AllocEvent) -> AllocEvent:
    return replace(e, mem_info=None)


def _read_root_log(source: Source, rel: str, into: _Collector) -> None:
    try:
        stream, size = source.open_stream(rel)
    except SourceUnavailable as err:
        into.skipped.append(f"{rel}: {err.reason}")
        return
    if size > MAX_ROOT_LOG_BYTES:
        stream.close()
        into.skipped.append(f"{rel}: larger than {MAX_ROOT_LOG_BYTES >> 30} GiB ({size >> 20} MiB); "
                            "give it with --log to read it")
        return
    try:
        into.add(rel, scan_last_dump(LogReader(rel, stream)))
    except SourceUnavailable as err:  # a corrupt .gz, a read error: this file only
        into.skipped.append(f"{rel}: {err.reason}")


def read_logs(source: Source | None, extra: Sequence[str] = ()) -> LogsRead:
    """The logs a root holds (none for a live root: its logs are not a capture's), then the
    `extra` files given with --log. A file of the root that cannot be read is skipped and
    said; an `extra` file that cannot be read is an error (the user named it)."""
    into = _Collector()
    if source is not None:
        for rel in root_log_paths(source):
            _read_root_log(source, rel, into)
    for path in extra:
        reader = LogReader(path)
        into.add(reader.label, scan_last_dump(reader))
    return into.result()


__all__ = ["MAX_ROOT_LOG_BYTES", "LogsRead", "read_logs", "root_log_paths"]
