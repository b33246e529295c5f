"""/proc/meminfo (and per-node meminfo) model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MemInfo:
    """`fields_kib` holds the `kB` lines, `counts` the unitless ones (HugePages_Total...)."""

    fields_kib: Mapping[str, int]
    counts: Mapping[str, int]
    skipped: tuple[tuple[int, str], ...] = ()
    """(line number, text) of `#` lines left out: the kernel never prints one, so a person
    annotated the file; the reader notes them (collect/reader.skipped_note)."""

    def kib(self, name: str) -> int | None:
        return self.fields_kib.get(name)

    def count(self, name: str) -> int | None:
        return self.counts.get(name)


@dataclass(frozen=True)
class HugePagePool:
    """One hugepage size of sys/kernel/mm/hugepages/hugepages-<size_kib>kB (2.6.27+).

    None: that file was not in the root (a sosreport may keep only some of them)."""

    size_kib: int
    nr_hugepages: int | None
    free_hugepages: int | None
