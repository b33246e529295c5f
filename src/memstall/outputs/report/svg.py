"""Charts as inline SVG (lines with a min-max band) and heat maps as PNG data URIs, written
by Python. Every text that came from a host or a log goes through `esc`.
"""

from __future__ import annotations

import html
import math
import struct
import time
import zlib
from collections.abc import Sequence

from memstall.outputs.render.safe import safe_text
from memstall.outputs.report.series import Band, Grid, Timeline

W, H = 960, 180
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 8, 22
PLOT_W, PLOT_H = W - LEFT - RIGHT, H - TOP - BOTTOM
GAP_COLUMNS = 3
COLORS = ("#1f5fa8", "#c0392b", "#d68910", "#1e8449", "#7d3c98", "#566573")


def esc(text: object) -> str:
    """Markup-safe and display-safe: control and format characters (an ANSI escape, a
    right-to-left override that would reorder the page's text) become visible \\uXXXX first,
    as on the terminal (outputs/render/safe.py), then <, >, &, quotes become entities."""
    return html.escape(safe_text(str(text)), quote=True)


def fmt(v: float) -> str:
    """A number for an axis or a cell: 3 significant digits, k/M/G from 10 000 on."""
    if math.isnan(v):
        return "-"
    a = abs(v)
    for above, div, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if a >= above:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.0f}" if a >= 100 else f"{v:.3g}"


def nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    return float(next(m * exp for m in (1, 2, 2.5, 5, 10) if m * exp >= v))


def when(t_ms: int, with_date: bool) -> str:
    return time.strftime("%m-%d %H:%M" if with_date else "%H:%M:%S", time.gmtime(t_ms / 1000))


def _x(tl: Timeline, col: float) -> float:
    return LEFT + (col + 0.5) * PLOT_W / tl.columns


def _path(tl: Timeline, values: Sequence[float | None], y: float) -> str:
    """The line through the columns with a sample; gaps of up to GAP_COLUMNS empty columns
    are bridged (samples sparser than columns), longer ones (no recording) break the line."""
    parts: list[str] = []
    last = -GAP_COLUMNS - 2
    for c, v in enumerate(values):
        if v is None:
            continue
        pen = "L" if c - last <= GAP_COLUMNS + 1 else "M"
        parts.append(f"{pen}{_x(tl, c):.1f} {TOP + PLOT_H - v / y * PLOT_H:.1f}")
        last = c
    return "".join(parts)


def _band_path(tl: Timeline, b: Band, y: float) -> str:
    """The min-max area of each stretch of columns with samples (where min and max differ)."""
    out: list[str] = []
    run: list[int] = []
    for c in [*range(tl.columns), -1]:
        if c >= 0 and b.lo[c] is not None and b.hi[c] is not None:
            run.append(c)
            continue
        if any(b.lo[i] != b.hi[i] for i in run):
            up = [f"{_x(tl, i):.1f} {TOP + PLOT_H - (b.hi[i] or 0) / y * PLOT_H:.1f}" for i in run]
            down = [
                f"{_x(tl, i):.1f} {TOP + PLOT_H - (b.lo[i] or 0) / y * PLOT_H:.1f}" for i in reversed(run)
            ]
            out.append("M" + " L".join(up + down) + "Z")
        run = []
    return "".join(out)


def x_labels(tl: Timeline) -> str:
    """Six times under the plot; the last one ends at the right edge (not cut off)."""
    with_date = tl.to_ms - tl.from_ms > 86_400_000
    out = []
    for k in range(6):
        t = tl.from_ms + (tl.to_ms - tl.from_ms) * k // 5
        anchor = ' style="text-anchor:end"' if k == 5 else ""
        x = LEFT + PLOT_W * k / 5
        out.append(f'<text x="{x:.1f}" y="{H - 6}" class="xl"{anchor}>{esc(when(t, with_date))}</text>')
    return "".join(out)


def axes(tl: Timeline, y: float, unit: str) -> str:
    out = [f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" class="plot"/>']
    for k in range(5):
        yy = TOP + PLOT_H - k * PLOT_H / 4
        out.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
            f'<text x="{LEFT - 4}" y="{yy + 4:.1f}" class="yl">{esc(fmt(y * k / 4))}</text>'
        )
    out.append(x_labels(tl))
    # between the top two value labels, so a wide unit ("share of time") does not cover one
    out.append(f'<text x="4" y="{TOP + PLOT_H / 8 + 4:.1f}" class="unit">{esc(unit)}</text>')
    return "".join(out)


def marks(tl: Timeline, markers: Sequence[tuple[int, str]], events: Sequence[tuple[int, str]]) -> str:
    """Tune markers as dashed vertical lines, log events as red ticks (one per column, with a count)."""
    out: list[str] = []
    for t, text in markers:
        if tl.from_ms <= t <= tl.to_ms:
            x = LEFT + (t - tl.from_ms) * PLOT_W / max(1, tl.to_ms - tl.from_ms)
            out.append(
                f'<g class="marker"><line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + PLOT_H}"/>'
                f"<title>{esc(text)}</title></g>"
            )
    per_col: dict[int, list[str]] = {}
    for t, text in events:
        if tl.from_ms <= t <= tl.to_ms:
            per_col.setdefault(tl.column(t), []).append(text)
    for c, texts in sorted(per_col.items()):
        label = texts[0] + (f" (+{len(texts) - 1} more)" if len(texts) > 1 else "")
        out.append(
            f'<g class="event"><path d="M{_x(tl, c) - 4:.1f} {TOP} l8 0 l-4 8z"/>'
            f"<title>{esc(label)}</title></g>"
        )
    return "".join(out)


def line_chart(
    chart_id: str, tl: Timeline, bands: Sequence[Band], unit: str, overlay: str, y_max: float | None = None
) -> str:
    top = max((v for b in bands for v in b.hi if v is not None), default=0.0)
    y = nice_max(y_max if y_max is not None else top)
    body = [axes(tl, y, unit)]
    for i, b in enumerate(bands):
        color = COLORS[i % len(COLORS)]
        body.append(f'<path d="{_band_path(tl, b, y)}" fill="{color}" opacity="0.22"/>')
        body.append(f'<path d="{_path(tl, b.mean, y)}" class="line" stroke="{color}" data-series="{i}"/>')
    legend = "".join(
        f'<span class="key"><i style="background:{COLORS[i % len(COLORS)]}"></i>{esc(b.label)}</span>'
        for i, b in enumerate(bands)
    )
    return (
        f'<div class="chart" data-chart="{esc(chart_id)}"><div class="legend">{legend}</div>'
        f'<svg viewBox="0 0 {W} {H}" role="img">{"".join(body)}{overlay}'
        f'<line class="hair" x1="0" x2="0" y1="{TOP}" y2="{TOP + PLOT_H}"/></svg></div>'
    )


_STOPS = (
    (0.0, (247, 251, 255)),
    (0.25, (158, 202, 225)),
    (0.5, (66, 146, 198)),
    (0.75, (8, 81, 156)),
    (1.0, (8, 29, 88)),
)
_FRAG_STOPS = ((0.0, (255, 255, 204)), (0.5, (253, 141, 60)), (1.0, (189, 0, 38)))
_NONE = (230, 230, 230)
_SUCCEEDS = (214, 234, 248)


def _color(x: float, stops: Sequence[tuple[float, tuple[int, int, int]]]) -> tuple[int, int, int]:
    x = min(1.0, max(0.0, x))
    for (a, ca), (b, cb) in zip(stops, stops[1:]):
        if x <= b:
            f = (x - a) / (b - a) if b > a else 0.0
            return (
                round(ca[0] + (cb[0] - ca[0]) * f),
                round(ca[1] + (cb[1] - ca[1]) * f),
                round(ca[2] + (cb[2] - ca[2]) * f),
            )
    return stops[-1][1]


def png(width: int, height: int, pixels: Sequence[tuple[int, int, int]]) -> bytes:
    """An 8-bit RGB PNG (rows top to bottom) with the standard library only."""
    raw = b"".join(
        b"\x00" + bytes(c for p in pixels[r * width : (r + 1) * width] for c in p) for r in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def heat_pixels(g: Grid, frag: bool) -> list[tuple[int, int, int]]:
    top = max((v for row in g.cells for v in row if v is not None), default=0.0)
    scale = math.log1p(max(top, 0.0)) or 1.0
    pixels: list[tuple[int, int, int]] = []
    for row in reversed(g.cells):  # highest order on top
        for v in row:
            if v is None:
                pixels.append(_NONE)
            elif frag:
                pixels.append(_SUCCEEDS if v < 0 else _color(v, _FRAG_STOPS))
            else:
                pixels.append(_color(math.log1p(v) / scale, _STOPS))
    return pixels


def heat_map(chart_id: str, tl: Timeline, g: Grid, frag: bool, overlay: str) -> str:
    import base64

    rows = len(g.rows)
    data = base64.b64encode(
        png(tl.columns, max(rows, 1), heat_pixels(g, frag) or [_NONE] * tl.columns)
    ).decode()
    row_h = PLOT_H / max(rows, 1)
    labels = "".join(
        f'<text x="{LEFT - 4}" y="{TOP + (rows - 1 - i + 0.5) * row_h + 4:.1f}" class="yl">{esc(r)}</text>'
        for i, r in enumerate(g.rows)
        if rows <= 12 or i % 2 == 0
    )
    xl = x_labels(tl)
    key = (
        "light blue: an allocation of this order succeeds (index -1); yellow to red: 0 to 1, failure "
        "from fragmentation"
        if frag
        else "white to dark blue: 0 to the most free blocks, log scale; grey: no sample"
    )
    return (
        f'<div class="chart heat" data-chart="{esc(chart_id)}"><div class="legend">{esc(key)}</div>'
        f'<svg viewBox="0 0 {W} {H}" role="img">'
        f'<image x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" '
        f'preserveAspectRatio="none" href="data:image/png;base64,{data}"/>'
        f'<text x="4" y="{TOP + 10}" class="unit">order</text>{labels}{xl}{overlay}'
        f'<line class="hair" x1="0" x2="0" y1="{TOP}" y2="{TOP + PLOT_H}"/></svg></div>'
    )


__all__ = [
    "COLORS",
    "LEFT",
    "PLOT_H",
    "PLOT_W",
    "TOP",
    "W",
    "esc",
    "fmt",
    "heat_map",
    "line_chart",
    "marks",
    "nice_max",
    "png",
    "when",
]
