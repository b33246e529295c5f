"""Kernel-log allocation reports: stall warnings, allocation failures, OOM headers, Mem-Info.

Everything here is what the log *printed*: a node the line did not name is `None` (the
4.9-era KERN_CONT breakage drops `Node 0 `), hex GFP modes stay as printed (lower case),
`gfp_flags` is `None` when the kernel printed hex only (<= 4.5). Decoding and inference
happen in `analysis/` (log_state.py, log_summary.py), never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from memstall.model.oom import OomDetails

KINDS = ("stall", "failure", "oom")

_T = TypeVar("_T")


def assemble(cls: type[_T], values: dict[str, Any]) -> _T:
    """`cls(**values)` for a frozen dataclass of this module, at half the cost.

    A frozen dataclass's generated `__init__` sets each field through `object.__setattr__`
    (about 0.12 us a field on CPython 3.11), which the Mem-Info parser pays for every zone
    and buddy line of every dump. This fills the instance's `__dict__` at once instead: the
    instance is the same (eq, hash and repr read the fields, and assignment still raises
    FrozenInstanceError), but no default is applied, so `values` must name every field, in
    field order. tests/test_kernlog_meminfo_fast.py checks it against `cls(**values)`.
    """
    obj: _T = object.__new__(cls)
    obj.__dict__.update(values)
    return obj


@dataclass(frozen=True)
class MemInfoZone:
    """One zone line: `[Node N ]<Zone> free:NkB boost:.. min:NkB low:NkB high:NkB ...`.

    `fields_kb` holds every `key:NkB` pair as printed (`reserved_highatomic` is printed
    with a capital `KB` on 5.x/6.x; it is still kB). `fields` holds unit-less pairs
    (`pages_scanned`). `node` is None when the line carried no `Node N` prefix.
    """

    node: int | None
    zone: str
    fields_kb: Mapping[str, int]
    fields: Mapping[str, int] = field(default_factory=dict)
    all_unreclaimable: bool | None = None
    lowmem_reserve: tuple[int, ...] | None = None
    """The `lowmem_reserve[]:` (pre-2.6.11 `protections[]:`) line printed after this zone, pages."""
    complete: bool = True
    """False when the line was cut (excerpt boundary, truncated token)."""

    def _kb(self, key: str) -> int | None:
        return self.fields_kb.get(key)

    @property
    def free_kb(self) -> int | None:
        return self._kb("free")

    @property
    def min_kb(self) -> int | None:
        return self._kb("min")

    @property
    def low_kb(self) -> int | None:
        return self._kb("low")

    @property
    def high_kb(self) -> int | None:
        return self._kb("high")

    @property
    def boost_kb(self) -> int | None:
        return self._kb("boost")

    @property
    def managed_kb(self) -> int | None:
        return self._kb("managed")

    @property
    def present_kb(self) -> int | None:
        return self._kb("present")


@dataclass(frozen=True)
class BuddyLine:
    """`[Node N ]<Zone>: 1*4kB (U) 0*8kB ... = NkB`, or `<Zone>: empty`.

    `counts[k]` free blocks of `base_kb << k` kB; `types[k]` the migrate-type letters
    printed after order k ('' when none). `adds_up` is None when the total is missing.
    """

    node: int | None
    zone: str
    base_kb: int | None
    counts: tuple[int, ...] | None
    types: tuple[str, ...]
    total_kb: int | None
    adds_up: bool | None
    empty: bool = False

    @property
    def sizes_kb(self) -> tuple[int, ...]:
        if self.base_kb is None or self.counts is None:
            return ()
        return tuple(self.base_kb << k for k in range(len(self.counts)))


@dataclass(frozen=True)
class HugepagesLine:
    """`Node N hugepages_total=T hugepages_free=F hugepages_surp=S hugepages_size=NkB`."""

    node: int
    total: int
    free: int
    surp: int
    size_kb: int


@dataclass(frozen=True)
class MemInfoDump:
    """One show_mem()/show_free_areas() dump, as printed.

    `summary_pages`: the global counters after `Mem-Info:` (pages). `nodes_kb`: the 4.8+
    per-node lines (kB). `partial` is True when the dump was cut (excerpt boundary, an
    Oops inside show_mem, end of file) or its lines were interleaved with other output.
    """

    summary_pages: Mapping[str, int]
    nodes_kb: Mapping[int, Mapping[str, int]]
    zones: tuple[MemInfoZone, ...]
    buddy: tuple[BuddyLine, ...]
    hugepages: tuple[HugepagesLine, ...]
    lowmem_reserve: tuple[tuple[int, ...], ...]
    total_pagecache_pages: int | None
    pages_ram: int | None
    pages_reserved: int | None
    pages_highmem: int | None
    pages_cma_reserved: int | None
    swap_cache_pages: int | None
    free_swap_kb: int | None
    total_swap_kb: int | None
    partial: bool
    source: str
    line_no: int
    interleaved: bool = False
    """Call-trace text was found between the dump's own tokens (other CPUs printing)."""


@dataclass(frozen=True)
class DumpText:
    """A report's Mem-Info dump as printed, not parsed yet.

    Parsing a dump is the larger part of the scan of reports back to back, so a reader that may
    not need every event's dump asks the scanner to keep the lines instead (`LogScanner`'s
    defer_dumps): `memstall logs` parses only the dumps it prints, `diagnose --log` only the last
    one. `parsers.kernlog.parse_dump_text` parses one, with the same result as parsing it at once."""

    lines: tuple[str, ...]
    source: str
    line_no: int
    complete: bool


@dataclass(frozen=True)
class AllocEvent:
    """One allocation report: its header, the task line, call trace and Mem-Info."""

    kind: str
    """'stall' (4.9-4.14 only), 'failure' or 'oom'."""
    time: str | None
    """The header's stamp as printed: dmesg uptime, `dmesg -T` date, syslog or ISO time."""
    uptime_s: float | None
    host: str | None
    comm: str | None
    pid: int | None
    cpu: int | None
    order: int | None
    gfp_mode: str | None
    gfp_flags: tuple[str, ...] | None
    stall_ms: int | None
    kernel_version: str | None
    nodemask: str | None
    cpuset: str | None
    mems_allowed: str | None
    oom_score_adj: int | None
    call_trace: tuple[str, ...]
    mem_info: MemInfoDump | None
    source: str
    line_no: int
    uid: int | None = None
    killed: str | None = None
    """`Killed process N (comm) ...` that closed an OOM report, as printed."""
    oom_adj: int | None = None
    """The legacy OOM adjustment of an OOM header (-17..15): `oomkilladj=` up to 2.6.35,
    `oom_adj=` beside `oom_score_adj=` in 2.6.36-3.6."""
    memcg: bool | None = None
    """For an OOM report: True when a memory cgroup hit its limit (`mem_cgroup_out_of_memory`
    in the trace, `Memory cgroup out of memory`/`memory: usage` lines, CONSTRAINT_MEMCG), not
    the machine running out of pages; False when none of that was printed. None otherwise."""
    oom: OomDetails | None = None
    """For an OOM report: the kill, task table and memory-cgroup lines it printed (model/oom.py)."""
    mem_info_text: DumpText | None = None
    """The report's dump, unparsed, when the scanner was asked to defer it (then `mem_info`
    is None); never both."""

    @property
    def has_mem_info(self) -> bool:
        """The report printed a Mem-Info dump (parsed or deferred)."""
        return self.mem_info is not None or self.mem_info_text is not None


@dataclass(frozen=True)
class LogScan:
    """The whole result of a scan (non-streaming API)."""

    events: tuple[AllocEvent, ...]
    standalone_mem_info: tuple[MemInfoDump, ...]
    skipped_lines: int
    skipped_reasons: Mapping[str, int]
