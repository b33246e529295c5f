"""The one-moment page (`memstall report --root SNAPSHOT` or `--log FILE`): per zone the
free pages as a bar against min/low/high, the free pages held in each order, the findings
with their recommendations, and (from a log) the allocation reports, each OOM report told as
a story with its numbers (outputs/report/oom.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from memstall.advice.recommend import Advice
from memstall.outputs.report.oom import oom_sections
from memstall.outputs.report.page import page, table
from memstall.outputs.report.svg import COLORS, esc, fmt, nice_max
from memstall.rules import AllocEvent, Inputs, Report

BAR_W, BAR_H, BAR_LEFT = 960, 66, 70


def _watermark_bar(free: int, wmarks: Sequence[tuple[str, int]], top: float) -> str:
    scale = (BAR_W - BAR_LEFT - 10) / top
    x_free = free * scale
    out = [
        f'<svg viewBox="0 0 {BAR_W} {BAR_H}" role="img">'
        f'<rect x="{BAR_LEFT}" y="6" width="{BAR_W - BAR_LEFT - 10}" '
        f'height="18" class="plot"/>'
        f'<rect x="{BAR_LEFT}" y="6" width="{x_free:.1f}" height="18" fill="{COLORS[0]}">'
        f"<title>free: {free} pages</title></rect>"
        f'<text x="{BAR_LEFT - 4}" y="19" class="yl">free</text>'
    ]
    last_x, row = -1e9, 0
    for k, (name, value) in enumerate(wmarks):
        x = BAR_LEFT + value * scale
        row = row + 1 if x - last_x < 90 else 0  # labels of close watermarks go one line lower
        last_x = x
        out.append(
            f'<g><line x1="{x:.1f}" x2="{x:.1f}" y1="2" y2="28" stroke="{COLORS[k + 1]}" stroke-width="2"/>'
            f'<text x="{max(x, BAR_LEFT + 30):.1f}" y="{40 + 11 * row}" class="xl" fill="{COLORS[k + 1]}">'
            f"{esc(name)} {esc(fmt(value))}</text><title>{esc(name)}: {value} pages</title></g>"
        )
    out.append(f'<text x="{BAR_W - 12}" y="40" class="yl">{esc(fmt(top))} pages</text></svg>')
    return "".join(out)


def _order_bars(blocks: Sequence[int]) -> str:
    pages = [n << k for k, n in enumerate(blocks)]
    top = nice_max(max(pages, default=0))
    width = (BAR_W - BAR_LEFT - 10) / max(1, len(pages))
    out = [
        f'<svg viewBox="0 0 {BAR_W} 150" role="img">'
        f'<rect x="{BAR_LEFT}" y="4" width="{BAR_W - BAR_LEFT - 10}" '
        f'height="120" class="plot"/><text x="{BAR_LEFT - 4}" y="14" class="yl">{esc(fmt(top))}</text>'
        f'<text x="{BAR_LEFT - 4}" y="124" class="yl">0</text>'
    ]
    for k, p in enumerate(pages):
        h = p / top * 120
        out.append(
            f'<g><rect x="{BAR_LEFT + k * width + 2:.1f}" y="{124 - h:.1f}" width="{width - 4:.1f}" '
            f'height="{h:.1f}" fill="{COLORS[0]}"/><text x="{BAR_LEFT + (k + 0.5) * width:.1f}" y="140" '
            f'class="xl">{k}</text><title>order {k}: {blocks[k]} blocks, {p} pages</title></g>'
        )
    out.append('<text x="4" y="140" class="unit">order</text></svg>')
    return "".join(out)


def _zones(inputs: Inputs) -> list[str]:
    st = inputs.state
    parts: list[str] = []
    zoneinfo = st.zoneinfo
    for z in zoneinfo.zones if zoneinfo else ():
        if not z.managed_pages and not z.present_pages:
            continue
        marks = [("min", z.min_pages), ("low", z.low_pages), ("high", z.high_pages)]
        top = nice_max(max(z.free_pages, z.high_pages) * 1.1)
        parts.append(
            f'<h3>Node {z.node}, zone {esc(z.zone)}</h3><div class="chart">'
            f"{_watermark_bar(z.free_pages, marks, top)}</div>"
        )
        fa = st.buddyinfo.zone(z.node, z.zone) if st.buddyinfo else None
        if fa is not None:
            parts.append(
                f'<div class="chart"><div class="legend">free pages held in blocks of each order</div>'
                f"{_order_bars(fa.free_blocks)}</div>"
            )
    return parts


def _events(events: Sequence[AllocEvent]) -> str:
    rows = [(e.kind, e.order, e.gfp_mode, e.comm, e.stall_ms) for e in events[:500]]
    return (
        "<h2>Allocation reports in the log</h2>"
        + table(("kind", "order", "gfp", "process", "stall ms"), rows, (1, 4))
        if rows
        else ""
    )


def render_moment(inputs: Inputs, report: Report, advice: Advice, title: str, how: str) -> str:
    st = inputs.state
    parts = [
        f'<h1>{esc(title)}</h1><p class="meta">{esc(how)}; '
        f"kernel {esc(inputs.kernel or st.kernel or 'unknown')}; "
        f"page size {st.page_size} bytes.</p>"
    ]
    parts.extend(f'<p class="note">note: {esc(n)}</p>' for n in (*st.notes, *advice.notes))
    parts.append(
        "<h2>Findings</h2>"
        + (
            table(
                ("severity", "finding", "subject", "summary"),
                [
                    (
                        ("html", f'<span class="sev-{esc(f.severity.name)}">{esc(f.severity.name)}</span>'),
                        f.key,
                        f.subject,
                        f.summary,
                    )
                    for f in report.findings
                ],
            )
            if report.findings
            else "<p>No finding.</p>"
        )
    )
    if advice.recommendations:
        parts.append(
            "<h2>Recommendations</h2>"
            + table(
                ("setting", "current", "proposed", "why", "risk"),
                [(r.setting, r.current, r.proposed, r.rationale, r.risk) for r in advice.recommendations],
            )
        )
    parts.append(oom_sections(inputs.events))  # the story of each OOM before the zones' numbers
    parts.append("<h2>Zones: free pages against the watermarks</h2>")
    zone_parts = _zones(inputs)
    parts.extend(zone_parts or ["<p>No zone figures in this input.</p>"])
    parts.append(_events(inputs.events))
    if report.skipped:
        parts.append(
            "<h2>Rules skipped</h2>" + table(("rule", "why"), [(s.key, s.reason) for s in report.skipped])
        )
    return page(title, "".join(parts), {})


__all__ = ["render_moment"]
