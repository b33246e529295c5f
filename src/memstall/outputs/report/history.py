"""The page for a stored time range: findings, tune transactions with before/after tables,
per zone free against watermarks and the order heat maps, then rates and PSI, the kernel
log's reports and the sysctl changes. Every time chart shares the same axis and carries
the tune markers and the log events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from memstall.outputs.report.compare import WINDOW_MS, Comparison, comparisons
from memstall.outputs.report.page import page, table
from memstall.outputs.report.series import (
    Band,
    Grid,
    Timeline,
    chart,
    columns_for,
)
from memstall.outputs.report.svg import (
    LEFT,
    PLOT_H,
    PLOT_W,
    TOP,
    H,
    W,
    esc,
    fmt,
    heat_map,
    line_chart,
    marks,
)
from memstall.store import History, Marker, Point, TraceInterval

MAX_EVENT_ROWS = MAX_TABLE_ROWS = 500


def _r(v: float | None) -> float | int | None:
    """4 significant digits, and no '.0' for whole numbers (most values are page counts)."""
    if v is None:
        return None
    x = float(f"{v:.4g}")
    return int(x) if x.is_integer() and abs(x) < 1e15 else x


def _geometry(tl: Timeline) -> dict[str, object]:
    return {
        "t0": tl.from_ms,
        "t1": tl.to_ms,
        "n": tl.columns,
        "w": W,
        "h": H,
        "left": LEFT,
        "top": TOP,
        "pw": PLOT_W,
        "ph": PLOT_H,
    }


def line_data(tl: Timeline, bands: Sequence[Band]) -> dict[str, object]:
    return {
        **_geometry(tl),
        # min and max only where they differ from the mean somewhere (else [], read as the mean)
        "s": [[b.label, *_spread(b)] for b in bands],
    }


def _spread(b: Band) -> list[list[float | int | None]]:
    mean = [_r(v) for v in b.mean]
    lo, hi = [_r(v) for v in b.lo], [_r(v) for v in b.hi]
    return [[] if lo == mean else lo, mean, [] if hi == mean else hi]


def _heat_data(tl: Timeline, g: Grid) -> dict[str, object]:
    return {
        **_geometry(tl),
        "what": g.label,
        "rows": list(g.rows),
        "cells": [[_r(v) for v in row] for row in g.cells],
    }


def _iso(t_ms: int) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t_ms / 1000)) + " UTC"


def _settings(m: Marker) -> str:
    return ", ".join(f"{k} {b} → {a}" for k, b, a in m.changes if a is not None) or "none"


def _comparison(c: Comparison) -> str:
    m = c.marker
    head = (
        f'<h3>{esc(m.action)} {esc(m.tx_id)} at {esc(_iso(m.t_ms))}</h3><p class="note">{esc(m.text)}; '
        f"the transaction's settings: {esc(_settings(m))}. "
        f"Compared: {c.samples[0]} samples from {esc(_iso(c.before_ms[0]))} with {c.samples[1]} samples "
        f"until {esc(_iso(c.after_ms[1]))}. Beyond noise: the change exceeds twice the "
        "standard deviation of the samples before.</p>"
    )
    rows = [
        (
            r.measure,
            None if r.before is None else fmt(r.before),
            None if r.after is None else fmt(r.after),
            None if r.change_pct is None else f"{r.change_pct:+.1f} %",
            None if r.noise is None else f"±{fmt(r.noise)}",
            ("html", '<span class="yes">yes</span>')
            if r.beyond_noise
            else ("no" if r.beyond_noise is False else "too few samples"),
        )
        for r in c.rows
    ]
    return head + table(
        ("measure", "before", "after", "change", "noise (2σ)", "beyond noise"), rows, (1, 2, 3, 4)
    )


def render_history(
    h: History, title: str, points: Iterable[Point] | None = None, count: int | None = None,
    trace: Sequence[TraceInterval] = (),
) -> str:
    """The whole page for History `h` (see module docstring). `points`: the samples to draw,
    read one at a time (store.iter_points; `count` of them), instead of `h.points`; `trace`:
    the `record --trace` intervals of the period (a section only when there are some)."""
    n = len(h.points) if points is None or count is None else count
    tl = Timeline(h.from_ms, h.to_ms, columns_for(n))
    charts = chart(h.points if points is None else points, h.runs, tl, [m.t_ms for m in h.markers], WINDOW_MS)
    s = charts.near_markers()
    overlay = marks(
        tl,
        [(m.t_ms, f"tune {m.action} {m.tx_id}: {m.text}") for m in h.markers],
        [(e.t_ms, f"{e.kind} order {e.order} {e.comm or '?'} {e.gfp or ''}") for e in h.events],
    )
    data: dict[str, object] = {}
    parts = [f"<h1>{esc(title)}</h1>", _summary(h, charts.samples, charts.runs)]
    parts.append(
        "<h2>Findings</h2>"
        + (
            table(
                ("severity", "finding", "subject", "first", "last", "summary"),
                [
                    (
                        ("html", f'<span class="sev-{esc(f.severity)}">{esc(f.severity)}</span>'),
                        f.key,
                        f.subject,
                        _iso(f.first_ms),
                        _iso(f.last_ms),
                        f.summary,
                    )
                    for f in h.findings
                ],
            )
            if h.findings
            else "<p>No finding was active in this period.</p>"
        )
    )
    comps = comparisons(s, h.markers)
    parts.append(
        "<h2>Tune transactions</h2>"
        + (
            "".join(_comparison(c) for c in comps)
            if comps
            else "<p>No tune apply or rollback in this period.</p>"
        )
    )
    for node, zone in charts.zones:
        cid = f"z{node}-{zone}"
        bands = charts.zone_bands(node, zone)
        blocks, frag = charts.order_grids(node, zone)
        parts.append(f"<h2>Node {node}, zone {esc(zone)}</h2><h3>Free pages against the watermarks</h3>")
        if any(b.has_data for b in bands):
            parts.append(line_chart(cid + "-free", tl, bands, "pages", overlay))
            data[cid + "-free"] = line_data(tl, bands)
        if blocks.rows:
            parts.append(
                "<h3>Free blocks by order</h3>" + heat_map(cid + "-blocks", tl, blocks, False, overlay)
            )
            parts.append(
                "<h3>Fragmentation index by order</h3>" + heat_map(cid + "-frag", tl, frag, True, overlay)
            )
            data[cid + "-blocks"] = _heat_data(tl, blocks)
            data[cid + "-frag"] = _heat_data(tl, frag)
    parts.append("<h2>Reclaim, compaction, kswapd and pressure</h2>")
    for k, (ctitle, unit, rbands) in enumerate(charts.rate_bands()):
        if any(b.has_data for b in rbands):
            parts.append(
                f"<h3>{esc(ctitle)}</h3>"
                + line_chart(f"rate{k}", tl, rbands, unit, overlay, 1.0 if unit == "share of time" else None)
            )
            data[f"rate{k}"] = line_data(tl, rbands)
    parts.append(_traced(trace) + _events(h) + _sysctls(h))
    return page(title, "".join(parts), data)


def _traced(trace: Sequence[TraceInterval]) -> str:
    """`record --trace`: the period's stalls by kind, then the intervals that had any."""
    if not trace:
        return ""
    totals: dict[str, list[float]] = {}
    for t in trace:
        for kind, (n, sec) in t.by_kind.items():
            acc = totals.setdefault(kind, [0, 0.0])
            acc[0] += n
            acc[1] += sec
    traced_s = sum(t.interval_ms for t in trace) / 1000
    rows = [(k, int(n), round(sec * 1000, 3), round(sec / traced_s, 6) if traced_s else None)
            for k, (n, sec) in sorted(totals.items())]
    busy = [(_iso(t.t_ms), t.method, t.events, t.lost_events, k, n, round(sec * 1000, 3))
            for t in trace for k, (n, sec) in sorted(t.by_kind.items()) if n]
    lost = sum(t.lost_events for t in trace)
    return (
        f"<h2>Traced stalls (record --trace)</h2><p>{traced_s:g} s traced in {len(trace)} intervals, "
        f"{lost} events lost.</p>"
        + (table(("kind", "stalls", "stall ms", "share of wall time"), rows, (1, 2, 3)) if rows
           else "<p>No direct reclaim, memcg reclaim or compaction stall was traced.</p>")
        + (table(("interval end", "method", "events", "lost", "kind", "stalls", "stall ms"),
                 busy[:MAX_TABLE_ROWS], (2, 3, 5, 6)) if busy else "")
    )


def _summary(h: History, samples: int, runs: set[int]) -> str:
    hosts = sorted({r.host for i, r in h.runs.items() if i in runs and r.host})
    kernels = sorted({r.kernel_release for i, r in h.runs.items() if i in runs and r.kernel_release})
    text = (
        f"{_iso(h.from_ms)} to {_iso(h.to_ms)}: {samples} samples, {len(h.events)} log reports, "
        f"{len(h.markers)} tune markers. Host: {', '.join(hosts) or 'not recorded'}; kernel: "
        f"{', '.join(kernels) or 'unknown'}. Charts show per column the mean (line) and the min-max range "
        "(band); dashed purple lines are tune transactions, red triangles kernel-log reports. Times are UTC."
    )
    notes = "".join(f'<p class="note">note: {esc(n)}</p>' for n in h.notes)
    return f'<p class="meta">{esc(text)}</p>{notes}'


def _events(h: History) -> str:
    if not h.events:
        return "<h2>Kernel-log allocation reports</h2><p>None in this period.</p>"
    rows = [
        (_iso(e.t_ms), e.kind, e.order, e.gfp, e.comm, e.stall_ms, e.host, e.origin)
        for e in h.events[:MAX_EVENT_ROWS]
    ]
    more = (
        f'<p class="note">{len(h.events) - MAX_EVENT_ROWS} more not listed.</p>'
        if len(h.events) > MAX_EVENT_ROWS
        else ""
    )
    return (
        "<h2>Kernel-log allocation reports</h2>"
        + table(("time", "kind", "order", "gfp", "process", "stall ms", "host", "from"), rows, (2, 5))
        + more
    )


def _sysctls(h: History) -> str:
    """Each stored value that replaced an earlier one, within the period."""
    last: dict[str, str] = {}
    changes = []
    for t, name, value in h.sysctls:
        old = last.get(name)
        if old is not None and t >= h.from_ms:
            changes.append((_iso(t), f"vm.{name}", old, value))
        last[name] = value
    if not changes:
        return "<h2>Sysctl changes</h2><p>No vm.* sysctl changed in this period.</p>"
    body = table(("time", "setting", "before", "after"), changes[:MAX_TABLE_ROWS])
    if len(changes) > MAX_TABLE_ROWS:
        more = len(changes) - MAX_TABLE_ROWS
        body += f'<p class="note">{more} later changes not listed (the database has them).</p>'
    return "<h2>Sysctl changes</h2>" + body


__all__ = ["render_history"]
