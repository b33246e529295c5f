"""A sample as a flat row of integers, and that row packed small.

`flatten(state)` turns the parts of a SystemState the recorder keeps into named integers
(names below); `encode`/`decode` pack one row, either whole (a keyframe) or as the change
from the previous row of the same run (a bitmap of the values that changed, then their
zigzag varint deltas), raw-deflated when that is smaller. At a 1 s interval most values do
not change between two samples, so a delta row of a two-node host is a few dozen bytes
(benchmarks/record_size.py). Pure: no I/O.

Names (each an int; units in the name where they have one):

    u.uptime_ms                          proc/uptime, for rates
    b.<node>.<zone>.<order>              free blocks of 2**order pages (proc/buddyinfo)
    z.<node>.<zone>.<field>_pages        free, min, low, high, boost, managed (proc/zoneinfo)
    v.<name>                             proc/vmstat counters memstall uses (VMSTAT_PREFIXES)
    m.<name>_kib / m.<name>              proc/meminfo kB fields / counts (MEMINFO_KEPT)
    p.some_us p.full_us                  PSI memory totals; p.some_avg10_c...: avg10 x 100
    k.<comm>.ticks k.<comm>.pid          kswapdN/kcompactdN CPU (utime + stime) and pid
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

from memstall.model.state import SystemState

VMSTAT_PREFIXES = (
    "allocstall",
    "pgscan_",
    "pgsteal_",
    "compact_",
    "kswapd_",
    "pageoutrun",
    "thp_fault",
    "thp_collapse",
    "pgmajfault",
    "oom_kill",
    "workingset_refault",
    "drop_pagecache",
    "drop_slab",
    "nr_free_pages",
    "pgalloc_",
    "pgfree",
)
"""The vmstat names the rules and the report read (a name starting with one of these)."""
MEMINFO_KEPT = (
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SwapCached",
    "Active(file)",
    "Inactive(file)",
    "Active(anon)",
    "Inactive(anon)",
    "Unevictable",
    "Mlocked",
    "SwapTotal",
    "SwapFree",
    "Dirty",
    "Writeback",
    "AnonPages",
    "Mapped",
    "Shmem",
    "KReclaimable",
    "Slab",
    "SReclaimable",
    "SUnreclaim",
    "KernelStack",
    "PageTables",
    "AnonHugePages",
    "Hugepagesize",
    "Hugetlb",
    "CommitLimit",
    "Committed_AS",
    "HugePages_Total",
    "HugePages_Free",
    "HugePages_Rsvd",
    "HugePages_Surp",
)
ZONE_FIELDS = ("free", "min", "low", "high", "boost", "managed")
FULL, DELTA, FULL_Z, DELTA_Z = 0, 1, 2, 3
"""First byte of a packed row: whole or delta, plain or raw-deflated."""


class CodecError(ValueError):
    """A packed row that does not decode (a damaged database)."""


def _zones(state: SystemState, out: dict[str, int]) -> None:
    if state.buddyinfo is not None:
        for fa in state.buddyinfo.zones:
            for order, n in enumerate(fa.free_blocks):
                out[f"b.{fa.node}.{fa.zone}.{order}"] = n
    if state.zoneinfo is not None:
        for z in state.zoneinfo.zones:
            values = (z.free_pages, z.min_pages, z.low_pages, z.high_pages, z.boost_pages, z.managed_pages)
            for name, value in zip(ZONE_FIELDS, values):
                if value is not None:
                    out[f"z.{z.node}.{z.zone}.{name}_pages"] = value


def _counters(state: SystemState, out: dict[str, int]) -> None:
    if state.vmstat is not None:
        for name, value in state.vmstat.counters.items():
            if name.startswith(VMSTAT_PREFIXES):
                out[f"v.{name}"] = value
    if state.meminfo is not None:
        for name in MEMINFO_KEPT:
            kib = state.meminfo.kib(name)
            count = state.meminfo.count(name)
            if kib is not None:
                out[f"m.{name}_kib"] = kib
            elif count is not None:
                out[f"m.{name}"] = count
    psi = state.psi_memory
    if psi is not None:
        out["p.some_us"] = psi.some.total_us
        out["p.some_avg10_c"] = round(psi.some.avg10 * 100)
        if psi.full is not None:
            out["p.full_us"] = psi.full.total_us
            out["p.full_avg10_c"] = round(psi.full.avg10 * 100)
    for k in state.kthreads:
        out[f"k.{k.comm}.ticks"] = k.cpu_ticks
        out[f"k.{k.comm}.pid"] = k.pid


def flatten(state: SystemState) -> dict[str, int]:
    """The recorded values of one state, by name (insertion order: the layout's order)."""
    out: dict[str, int] = {}
    if state.uptime_seconds is not None:
        out["u.uptime_ms"] = round(state.uptime_seconds * 1000)
    _zones(state, out)
    _counters(state, out)
    return out


def _varint(value: int, out: bytearray) -> None:
    n = (value << 1) ^ (value >> 63) if -(1 << 63) <= value < (1 << 63) else None
    if n is None:
        raise CodecError(f"value {value} does not fit in 64 bits")
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _read_varints(data: bytes, pos: int, count: int) -> list[int]:
    values: list[int] = []
    try:
        for _ in range(count):
            n = shift = 0
            while True:
                byte = data[pos]
                pos += 1
                n |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            values.append((n >> 1) ^ -(n & 1))
    except IndexError:
        raise CodecError("row ends inside a value") from None
    if pos != len(data):
        raise CodecError(f"{len(data) - pos} bytes left after the last value")
    return values


def encode(values: Sequence[int], previous: Sequence[int] | None) -> bytes:
    """One row: whole when `previous` is None, else the change from `previous` (same layout)."""
    body = bytearray()
    if previous is None:
        kind = FULL
        for v in values:
            _varint(v, body)
    else:
        kind = DELTA
        bitmap = bytearray((len(values) + 7) // 8)
        changed = bytearray()
        for i, (v, p) in enumerate(zip(values, previous)):
            if v != p:
                bitmap[i >> 3] |= 1 << (i & 7)
                _varint(v - p, changed)
        body = bitmap + changed
    packed = b""
    if len(body) > 48:  # raw deflate (no zlib header): compressobj, as compress(wbits=) is 3.11+
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = z.compress(bytes(body)) + z.flush()
    if packed and len(packed) < len(body):
        return bytes((kind + 2,)) + packed
    return bytes((kind,)) + bytes(body)


def is_keyframe(data: bytes) -> bool:
    return bool(data) and data[0] in (FULL, FULL_Z)


def decode(data: bytes, count: int, previous: Sequence[int] | None) -> list[int]:
    """The values of a row of `count` values; a delta row needs the previous row's values."""
    if not data or data[0] not in (FULL, DELTA, FULL_Z, DELTA_Z):
        raise CodecError("unknown row kind")
    kind, body = data[0], data[1:]
    if kind >= FULL_Z:
        try:
            body = zlib.decompress(body, wbits=-15)
        except zlib.error as err:
            raise CodecError(f"damaged row: {err}") from None
        kind -= 2
    if kind == FULL:
        return _read_varints(body, 0, count)
    if previous is None or len(previous) != count:
        raise CodecError("a delta row without the row before it")
    width = (count + 7) // 8
    bitmap = body[:width]
    if len(bitmap) != width:
        raise CodecError("row ends inside its bitmap")
    changed = [i for i in range(count) if bitmap[i >> 3] >> (i & 7) & 1]
    deltas = _read_varints(body, width, len(changed))
    out = list(previous)
    for i, d in zip(changed, deltas):
        out[i] += d
    return out


def values_of(names: Sequence[str], flat: Mapping[str, int]) -> list[int]:
    return [flat[n] for n in names]


__all__ = [
    "MEMINFO_KEPT",
    "VMSTAT_PREFIXES",
    "CodecError",
    "decode",
    "encode",
    "flatten",
    "is_keyframe",
    "values_of",
]
