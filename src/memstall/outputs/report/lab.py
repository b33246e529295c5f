"""`memstall lab run|compare --report FILE`: a results directory's comparison as one page.

The same shell as `memstall report` (page.py: inline style and script, the CSP that admits
only the page's own script, chart data as inert JSON) and the same SVG charts (svg.py). The
charts have one series per profile over time since each run's first snapshot: every run of
a profile lands in the same columns, so the line is the mean over the profile's runs and the
band their min..max. Below: the per-metric comparison table (mean ± standard deviation,
change against the baseline, p, beyond noise) and each run's counters. Everything that came
from the guest or the host (profile names, kernel and QEMU strings, paths) is escaped text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from memstall.outputs.lab import number
from memstall.outputs.report.history import line_data
from memstall.outputs.report.page import page, table
from memstall.outputs.report.series import Band, BandAcc, Timeline, columns_for
from memstall.outputs.report.svg import esc, line_chart

MIB = float(1 << 20)
MIN_COLUMNS = 120  # columns of a chart at least (runs are resampled to them)

# (chart id, title, unit shown, scale, [(series suffix, series key in a run's `series`)])
CHARTS: tuple[tuple[str, str, str, float, tuple[tuple[str, str], ...]], ...] = (
    ("free", "Free memory against the low and min watermarks (zones summed)", "MiB", MIB,
     (("free", "free_bytes"), ("low watermark", "wmark_low_bytes"), ("min watermark", "wmark_min_bytes"))),
    ("high-order", "Free memory in blocks of order 4 and above", "MiB", MIB,
     (("", "high_order_free_bytes"),)),
    ("allocstall", "allocstall (direct reclaim entries) since the first snapshot", "count", 1.0,
     (("", "allocstall"),)),
    ("compact-stall", "compact_stall (direct compaction) since the first snapshot", "count", 1.0,
     (("", "compact_stall"),)),
)
# the runs table: metric names, in this order (units from the comparison's metrics)
RUN_COLUMNS = ("allocstall", "compact_stall", "compact_fail", "compact_success", "pgscan_direct",
               "direct_reclaim_seconds", "compaction_seconds", "psi_some_seconds", "oom_kill",
               "free_min_bytes", "high_order_free_min_bytes", "latency_p99_us", "trace_lost_events")


def _runs(doc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(p["name"], r) for p in doc["profiles"] for r in p["runs"]]


def _timeline(doc: Mapping[str, Any]) -> Timeline:
    series = [r.get("series") or {} for _, r in _runs(doc)]
    ts = [t for s in series for t in s.get("t_seconds", []) if t is not None]
    points = max((len(s.get("t_seconds", [])) for s in series), default=1)
    return Timeline(0, int(max(ts, default=0.0) * 1000), columns_for(max(4 * points, MIN_COLUMNS)))


def _resampled(tl: Timeline, ts: Sequence[float | None],
               vs: Sequence[float | None]) -> list[tuple[int, float]]:
    """One run's series at every column centre between two of its snapshots, linearly
    interpolated: runs sample at their own times (the guest's pace), so a profile's mean
    and min..max are taken over runs at the same moments. A missing value breaks the line."""
    pts = [(t * 1000, v) for t, v in zip(ts, vs) if t is not None]
    span = max(1, tl.to_ms - tl.from_ms)
    out: list[tuple[int, float]] = []
    for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
        if v0 is None or v1 is None or t1 <= t0:
            continue
        c0, c1 = tl.column(int(t0)), tl.column(int(t1))
        for c in range(c0, c1 + 1):
            tc = tl.from_ms + (c + 0.5) * span / tl.columns
            if t0 <= tc <= t1 and (not out or int(tc) > out[-1][0]):  # a centre on a snapshot: once
                out.append((int(tc), v0 + (v1 - v0) * (tc - t0) / (t1 - t0)))
    return out


def _bands(doc: Mapping[str, Any], tl: Timeline, keys: Sequence[tuple[str, str]], scale: float) -> list[Band]:
    """One Band per profile and key, over every run of the profile (resampled)."""
    out = []
    for key_label, key in keys:
        for p in doc["profiles"]:
            acc = BandAcc(tl, f"{p['name']} {key_label}".strip())
            for r in p["runs"]:
                s = r.get("series") or {}
                for t_ms, v in _resampled(tl, s.get("t_seconds", []), s.get(key, [])):
                    acc.add(t_ms, v / scale)
            out.append(acc.band())
    return out


def _head(doc: Mapping[str, Any], title: str) -> str:
    kernel = doc.get("kernel") or {}
    runs = ", ".join(f"{p['name']} × {len(p['runs'])}" for p in doc["profiles"])
    meta = (
        f"Scenario {esc(doc.get('scenario'))}: {esc(doc.get('summary') or '')}. "
        f"Kernel {esc(kernel.get('release', '?'))} ({esc(kernel.get('origin', '?'))}); "
        f"{esc(doc.get('qemu') or 'QEMU ?')}, {esc(doc.get('accel'))}; {esc(doc.get('memory_mib'))} MiB, "
        f"{esc(doc.get('nodes'))} NUMA node(s). Runs: {esc(runs)}; "
        f"order {esc(' '.join(doc.get('order') or []))}."
    )
    if doc.get("results"):
        meta += f" Results: {esc(doc['results'])}."
    profiles = table(("profile", "settings"), [
        (p["name"], "; ".join(f"{s['path']} = {s['value']}" for s in p.get("settings", []))
         or "none (the guest kernel's defaults)") for p in doc["profiles"]])
    return f'<h1>{esc(title)}</h1><p class="meta">{meta}</p><h2>Profiles</h2>{profiles}'


def _beyond(v: Mapping[str, Any], test: Mapping[str, Any]) -> object:
    if v["p_value"] is None:
        return "no test"
    if v["significant"]:
        return ("html", f'<span class="yes">yes ({esc(v["direction"])})</span>')
    floor = test.get("min_p_possible")
    if floor is not None and floor >= test["alpha"]:
        return f"cannot tell (p ≥ {floor:.3g} with these runs)"
    return "no"


def _comparison(doc: Mapping[str, Any]) -> str:
    names = [p["name"] for p in doc["profiles"]]
    test = doc["test"]
    head = ["metric", *names]
    for other in names[1:]:
        head += [f"{other}: change", f"{other}: p", f"{other}: beyond noise"]
    rows = []
    for m in doc["metrics"]:
        row: list[object] = [m["label"]]
        for n in names:
            s = m["profiles"][n]
            cell = "-" if not s["n"] else number(s["mean"], m["unit"])
            if s["n"] and s["stdev"] is not None:
                cell += f" ± {number(s['stdev'], m['unit'])}"
            row.append(cell)
        for other in names[1:]:
            v = m["versus_baseline"][other]
            row += ["-" if v["change_pct"] is None else f"{v['change_pct']:+.1f} %",
                    "-" if v["p_value"] is None else f"{v['p_value']:.3g}", _beyond(v, test)]
        rows.append(row)
    note = (f'<p class="note">Mean ± standard deviation over each profile\'s runs; change against '
            f"{esc(doc['baseline'])}; p: {esc(test['name'])} on the per-run values; beyond noise: "
            f"p &lt; {esc(test['alpha'])}.</p>")
    numeric = tuple(range(1, len(head)))
    return "<h2>Comparison</h2>" + note + table(head, rows, numeric)


def _runs_table(doc: Mapping[str, Any]) -> str:
    units = {m["name"]: (m["label"], m["unit"]) for m in doc["metrics"]}
    runs = sorted(_runs(doc), key=lambda x: x[1]["run"])
    rows = [(units[c][0], *(number(r["metrics"].get(c), units[c][1]) for _, r in runs))
            for c in RUN_COLUMNS if c in units]
    head = ("metric", *(f"run{r['run']} ({name})" for name, r in runs))
    return ("<h2>Runs</h2><p class=\"note\">Each run's numbers, in run order: counters from its first to "
            "its last snapshot (the run's directory holds every snapshot, the guest's log and trace).</p>"
            + table(head, rows, tuple(range(1, len(head)))))


def render_lab(doc: Mapping[str, Any], title: str) -> str:
    """The page for a memstall.lab/1 document whose runs carry `series` (compare_dir(...,
    series=True)); a run without them is in the tables, not in the charts."""
    tl = _timeline(doc)
    data: dict[str, object] = {}
    parts = [_head(doc, title), _comparison(doc), "<h2>Over time</h2>",
             '<p class="note">x: time since each run\'s first snapshot (h:m:s; the hover reads it '
             "as a time on 1970-01-01). One line per profile: the mean over its runs, the band their "
             "min..max; each run is interpolated linearly between its snapshots (the runs take "
             "them at their own pace).</p>"]
    for cid, ctitle, unit, scale, keys in CHARTS:
        bands = [b for b in _bands(doc, tl, keys, scale) if b.has_data]
        if bands:
            parts.append(f"<h3>{esc(ctitle)}</h3>" + line_chart(cid, tl, bands, unit, ""))
            data[cid] = line_data(tl, bands)
    parts.append(_runs_table(doc))
    return page(title, "".join(parts), data)


__all__ = ["render_lab"]
