"""Read a time range back: samples as named values and as SystemStates, and the timeline
(findings, sysctl changes, log events, tune markers).

Rows decode run by run: a delta row needs the run's previous row, so a range that starts
in the middle of a run starts decoding at the keyframe before it. A delta row whose base is
missing (cut by retention) is skipped, not guessed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from memstall.model.buddy import BuddyInfo, ZoneFreeAreas
from memstall.model.kthreads import KThreadStat
from memstall.model.meminfo import MemInfo
from memstall.model.pressure import Pressure, PressureLine
from memstall.model.state import SystemState
from memstall.model.vmstat import VmStat
from memstall.model.zones import Zone, ZoneInfo
from memstall.store.codec import CodecError, decode
from memstall.store.db import Db, StoreError, translated
from memstall.store.writer import Event, Marker, TraceInterval


@dataclass(frozen=True)
class Run:
    id: int
    started_ms: int
    kind: str
    source: str
    host: str | None
    kernel_release: str | None
    page_size: int
    user_hz: int | None
    interval_seconds: float | None


@dataclass(frozen=True)
class Point:
    """One decoded sample."""

    t_ms: int
    run: int
    values: Mapping[str, int]


@dataclass(frozen=True)
class FindingSpan:
    key: str
    severity: str
    subject: str
    first_ms: int
    last_ms: int
    summary: str
    evidence: Mapping[str, object]


@dataclass(frozen=True)
class History:
    """Everything stored between two times."""

    from_ms: int
    to_ms: int
    runs: Mapping[int, Run]
    points: tuple[Point, ...]
    findings: tuple[FindingSpan, ...]
    sysctls: tuple[tuple[int, str, str], ...]
    events: tuple[Event, ...]
    markers: tuple[Marker, ...]
    skipped_rows: int = 0
    notes: tuple[str, ...] = field(default=())


def _layouts(db: Db) -> dict[int, tuple[str, ...]]:
    return {i: tuple(json.loads(n)) for i, n in db.conn.execute("SELECT id, names FROM layouts")}


def _rows(db: Db, from_ms: int, to_ms: int) -> list[tuple[int, int, int, int, bytes]]:
    c = db.conn
    runs = [
        r
        for (r,) in c.execute("SELECT DISTINCT run FROM samples WHERE t_ms BETWEEN ? AND ?", (from_ms, to_ms))
    ]
    rows: list[tuple[int, int, int, int, bytes]] = []
    for run in runs:
        start = c.execute(
            "SELECT max(t_ms) FROM samples WHERE run = ? AND kf = 1 AND t_ms <= ?", (run, from_ms)
        ).fetchone()[0]
        rows.extend(
            c.execute(
                "SELECT t_ms, run, layout, kf, data FROM samples WHERE run = ? AND t_ms BETWEEN ? AND ?"
                " ORDER BY t_ms",
                (run, from_ms if start is None else start, to_ms),
            )
        )
    return rows


def _decoded(layouts: dict[int, tuple[str, ...]], prev: dict[int, tuple[int, list[int]]], run: int,
             layout: int, data: bytes) -> tuple[tuple[str, ...] | None, list[int] | None]:
    """One row's (names, values), delta-decoded against the run's previous row (kept in
    `prev`); (names, None) for a row that does not decode, which also breaks the run's chain."""
    names = layouts.get(layout)
    base = prev.get(run)
    try:
        if names is None:
            raise CodecError(f"unknown layout {layout}")
        values = decode(bytes(data), len(names), base[1] if base and base[0] == layout else None)
    except CodecError:
        prev.pop(run, None)
        return names, None
    prev[run] = (layout, values)
    return names, values


def _points(db: Db, from_ms: int, to_ms: int, every: int = 1) -> tuple[list[Point], int]:
    """The decoded samples of the range; with `every` > 1, every `every`-th of each run
    (all rows are still decoded, a delta needs the row before it)."""
    layouts = _layouts(db)
    prev: dict[int, tuple[int, list[int]]] = {}
    seen: dict[int, int] = {}
    points: list[Point] = []
    skipped = 0
    for t, run, layout, _kf, data in _rows(db, from_ms, to_ms):
        names, values = _decoded(layouts, prev, run, layout, data)
        if names is None or values is None:
            skipped += 1
            continue
        if t >= from_ms:
            seen[run] = seen.get(run, -1) + 1
            if seen[run] % every == 0:
                points.append(Point(t, run, dict(zip(names, values))))
    points.sort(key=lambda p: p.t_ms)
    return points, skipped


def iter_points(db: Db, from_ms: int, to_ms: int) -> Iterator[Point]:
    """Every sample of the range in time order, decoded one at a time (memory does not grow
    with the range). A row that does not decode is left out (`History.skipped_rows` counts them)."""
    c = db.conn
    starts: dict[int, int] = {}
    for (run,) in c.execute(
        "SELECT DISTINCT run FROM samples WHERE t_ms BETWEEN ? AND ?", (from_ms, to_ms)
    ).fetchall():
        kf = c.execute(
            "SELECT max(t_ms) FROM samples WHERE run = ? AND kf = 1 AND t_ms <= ?", (run, from_ms)
        ).fetchone()[0]
        starts[run] = from_ms if kf is None else int(kf)
    if not starts:
        return
    layouts = _layouts(db)
    prev: dict[int, tuple[int, list[int]]] = {}
    rows = c.execute(
        "SELECT t_ms, run, layout, data FROM samples WHERE t_ms BETWEEN ? AND ? ORDER BY t_ms",
        (min(starts.values()), to_ms),
    )
    for t, run, layout, data in rows:
        if run not in starts or t < starts[run]:
            continue
        names, values = _decoded(layouts, prev, run, layout, data)
        if names is None or values is None:
            continue
        if t >= from_ms:
            yield Point(t, run, dict(zip(names, values)))


def count_points(db: Db, from_ms: int, to_ms: int) -> int:
    return int(
        db.conn.execute(
            "SELECT count(*) FROM samples WHERE t_ms BETWEEN ? AND ?", (from_ms, to_ms)
        ).fetchone()[0]
    )


def bounds(db: Db) -> tuple[int, int] | None:
    """The first and last time of a sample, a log event or a tune marker; None when empty."""
    parts = " UNION ALL ".join(
        f"SELECT min(t_ms) t FROM {t} UNION ALL SELECT max(t_ms) FROM {t}"
        for t in ("samples", "events", "markers")
    )
    with translated(db.path):
        lo, hi = db.conn.execute(f"SELECT min(t), max(t) FROM ({parts})").fetchone()
    return None if lo is None else (int(lo), int(hi))


MAX_POINTS = 10_000
"""read_history keeps at most about this many samples (24 h at 10 s fits): a longer range
keeps every k-th sample of each run, so memory stays bounded (about 30 kB a sample)."""


def read_history(db: Db, from_ms: int, to_ms: int, max_points: int = MAX_POINTS) -> History:
    """Everything between from_ms and to_ms (inclusive); see MAX_POINTS. `max_points=0`:
    no samples (the report reads them one at a time with `iter_points`)."""
    with translated(db.path):
        c = db.conn
        stored = int(
            c.execute("SELECT count(*) FROM samples WHERE t_ms BETWEEN ? AND ?", (from_ms, to_ms)).fetchone()[
                0
            ]
        )
        every = max(1, -(-stored // max_points)) if max_points else 0
        runs = {
            r[0]: Run(*r)
            for r in c.execute(
                "SELECT id, started_ms, kind, source, host, kernel_release,"
                " page_size, user_hz, interval_seconds FROM runs"
            )
        }
        points, skipped = _points(db, from_ms, to_ms, every) if every else ([], 0)
        findings = tuple(
            FindingSpan(k, s, subj, f, la, summ, json.loads(ev))
            for k, s, subj, f, la, summ, ev in c.execute(
                "SELECT key, severity, subject, first_ms, last_ms, summary, evidence FROM findings"
                " WHERE last_ms >= ? AND first_ms <= ? ORDER BY first_ms, key, subject",
                (from_ms, to_ms),
            )
        )
        sysctls = tuple(
            (int(t), n, v)
            for t, n, v in c.execute(
                "SELECT t_ms, name, value FROM sysctls WHERE t_ms <= ? ORDER BY t_ms, name", (to_ms,)
            )
        )
        events = tuple(
            Event(*r)
            for r in c.execute(
                "SELECT t_ms, kind, alloc_order, gfp, comm, stall_ms, host, origin FROM events"
                " WHERE t_ms BETWEEN ? AND ? ORDER BY t_ms",
                (from_ms, to_ms),
            )
        )
        markers = tuple(
            Marker(t, tx, a, text, tuple(tuple(x) for x in json.loads(ch)))
            for t, tx, a, text, ch in c.execute(
                "SELECT t_ms, tx_id, action, text, changes FROM markers WHERE t_ms BETWEEN ? AND ?"
                " ORDER BY t_ms",
                (from_ms, to_ms),
            )
        )
    notes: tuple[str, ...] = (
        (f"{skipped} stored samples could not be decoded and were left out",) if skipped else ()
    )
    if every > 1:
        notes += (
            f"{stored} samples in this period: every {every}th is shown (rates are averages over "
            f"{every} samples; a shorter --from/--to shows each one)",
        )
    return History(from_ms, to_ms, runs, tuple(points), findings, sysctls, events, markers, skipped, notes)


def _zones(v: Mapping[str, int]) -> tuple[BuddyInfo | None, ZoneInfo | None]:
    blocks: dict[tuple[int, str], dict[int, int]] = {}
    fields: dict[tuple[int, str], dict[str, int]] = {}
    for name, value in v.items():
        kind, _, rest = name.partition(".")
        if kind == "b":
            node, zone_order = rest.split(".", 1)
            zone, order = zone_order.rsplit(".", 1)
            blocks.setdefault((int(node), zone), {})[int(order)] = value
        elif kind == "z":
            node, zone_field = rest.split(".", 1)
            zone, fld = zone_field.rsplit(".", 1)
            fields.setdefault((int(node), zone), {})[fld] = value
    buddy = (
        BuddyInfo(tuple(ZoneFreeAreas(n, z, tuple(o[k] for k in sorted(o))) for (n, z), o in blocks.items()))
        if blocks
        else None
    )
    zones = tuple(
        Zone(
            n,
            z,
            f.get("free_pages", 0),
            f.get("min_pages", 0),
            f.get("low_pages", 0),
            f.get("high_pages", 0),
            f.get("managed_pages", 0),
            f.get("managed_pages", 0),
            f.get("managed_pages"),
            boost_pages=f.get("boost_pages"),
        )
        for (n, z), f in fields.items()
    )
    return buddy, (ZoneInfo(zones) if zones else None)


def state_of(point: Point, run: Run) -> SystemState:
    """The SystemState a point holds: the recorded parts only (see store/codec.py)."""
    v = point.values
    buddy, zoneinfo = _zones(v)
    vm = {k[2:]: x for k, x in v.items() if k.startswith("v.")}
    kib = {k[2:-4]: x for k, x in v.items() if k.startswith("m.") and k.endswith("_kib")}
    counts = {k[2:]: x for k, x in v.items() if k.startswith("m.") and not k.endswith("_kib")}
    psi = None
    if "p.some_us" in v:
        full = (
            PressureLine(v.get("p.full_avg10_c", 0) / 100, 0.0, 0.0, v["p.full_us"])
            if "p.full_us" in v
            else None
        )
        psi = Pressure(PressureLine(v.get("p.some_avg10_c", 0) / 100, 0.0, 0.0, v["p.some_us"]), full)
    kthreads = tuple(
        KThreadStat(v.get(f"k.{comm}.pid", 0), comm, "S", ticks, 0, 0)
        for comm, ticks in ((k[2:-6], x) for k, x in v.items() if k.startswith("k.") and k.endswith(".ticks"))
    )
    uptime = v.get("u.uptime_ms")
    return SystemState(
        source=f"{run.source}@{point.t_ms}",
        page_size=run.page_size,
        kernel_release=run.kernel_release,
        uptime_seconds=None if uptime is None else uptime / 1000,
        buddyinfo=buddy,
        zoneinfo=zoneinfo,
        vmstat=VmStat(vm) if vm else None,
        meminfo=MemInfo(kib, counts) if kib or counts else None,
        psi_memory=psi,
        kthreads=kthreads,
        clock_ticks_per_second=run.user_hz,
        notes=("rebuilt from a memstall record database: only the recorded values",),
    )


__all__ = [
    "MAX_POINTS",
    "FindingSpan",
    "History",
    "Point",
    "Run",
    "StoreError",
    "bounds",
    "read_history",
    "state_of",
]


def read_trace(db: Db, from_ms: int, to_ms: int) -> list[TraceInterval]:
    """The `record --trace` intervals ending in [from_ms, to_ms], oldest first (schema 3+)."""
    kinds: dict[tuple[int, int], dict[str, tuple[int, float]]] = {}
    with translated(db.path):
        for t_ms, run, kind, stalls, seconds in db.conn.execute(
                "SELECT t_ms, run, kind, stalls, stall_seconds FROM trace_totals"
                " WHERE t_ms BETWEEN ? AND ?", (from_ms, to_ms)):
            kinds.setdefault((run, t_ms), {})[kind] = (int(stalls), float(seconds))
        rows = db.conn.execute(
            "SELECT t_ms, run, interval_ms, method, events, lost_events FROM trace_intervals"
            " WHERE t_ms BETWEEN ? AND ? ORDER BY t_ms, run", (from_ms, to_ms)).fetchall()
    return [TraceInterval(t, interval, method, events, lost, kinds.get((run, t), {}))
            for t, run, interval, method, events, lost in rows]
