"""`memstall top`: one frame of text from one Sampler tick, a pure function of (tick, size, options).

The same lines are printed by `top --once` and drawn by the interactive view (outputs/top_tui.py),
so what the tests check on fixtures is what a user sees. Layout, top to bottom:

- a header: the source, the kernel, the interval, the filters;
- per populated zone, two lines: free pages against min/low/high as a bar with the marks drawn
  on it (`m`, `l`, `h`) and the low→high band in MiB; then the free blocks per order as a small
  histogram (one column per order, height ~ log2 of the count, `x` for an exhausted order), the
  highest order available and the kernel's fragmentation index at the lowest exhausted order;
- rates per second (vmstat counters, summed over their per-zone forms), PSI memory some/full
  (avg10 and the interval's own share) and kswapd/kcompactd CPU;
- the active findings, one line each with the rule key.

Every line fits `width` (40 to 200 columns); with a `height`, the frame keeps to it: findings
beyond it become "+N more", and zones that do not fit show one node at a time (`n` cycles).
Everything that came from a host (source names, comm, zone names) goes through safe_text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memstall.analysis.fragmentation import fragmentation_index_milli
from memstall.analysis.rates import Rates, sum_zoned
from memstall.model.buddy import ZoneFreeAreas
from memstall.model.kernlog import AllocEvent
from memstall.model.state import SystemState
from memstall.model.zones import Zone
from memstall.outputs.render.safe import safe_text
from memstall.pipeline.sampler import Tick
from memstall.rules import Finding

MIN_WIDTH = 40
MAX_WIDTH = 200
MIB = 1024 * 1024
_BLOCKS_UNICODE = " ▁▂▃▄▅▆▇█"
_BLOCKS_ASCII = " .:-=+*#%@"
EVENT_LINES = 3
"""Kernel allocation reports shown, newest first."""
_BAND_WIDTH = 21  # " low→high 1234M–5678M": bars of one frame line up


@dataclass(frozen=True)
class FrameOptions:
    """What the viewer chose: a node and a zone filter, the interval, pause, ASCII-only output."""

    node: int | None = None
    """Show only this node (None: every node, or the first when they do not fit)."""
    zone: str | None = None
    """Show only zones of this name (None: every zone)."""
    interval_seconds: float | None = None
    paused: bool = False
    ascii_only: bool = False
    """No block characters (an output encoding without them, such as LANG=C)."""
    replay: str | None = None
    """Replaying a recording: what the header says first (`REPLAY <time> <k>/<n>`)."""


@dataclass(frozen=True)
class ZoneView:
    """One zone's numbers as drawn: watermarks from zoneinfo, free blocks from buddyinfo."""

    node: int
    zone: str
    free_pages: int
    min_pages: int | None
    low_pages: int | None
    high_pages: int | None
    free_blocks: tuple[int, ...] | None


def zone_views(state: SystemState) -> tuple[ZoneView, ...]:
    """Every populated zone (zoneinfo), or every zone buddyinfo lists when zoneinfo is absent."""
    buddy = {(z.node, z.zone): z for z in state.buddyinfo.zones} if state.buddyinfo else {}
    if state.zoneinfo is not None:
        return tuple(_zone_view(z, buddy.get((z.node, z.zone))) for z in state.zoneinfo.zones
                     if z.populated)
    return tuple(ZoneView(b.node, b.zone, b.free_pages, None, None, None, b.free_blocks)
                 for b in buddy.values())


def _zone_view(zone: Zone, buddy: ZoneFreeAreas | None) -> ZoneView:
    return ZoneView(zone.node, zone.zone, zone.free_pages, zone.min_pages, zone.low_pages,
                    zone.high_pages, buddy.free_blocks if buddy else None)


def node_ids(state: SystemState) -> tuple[int, ...]:
    """The nodes that have a populated zone, in order (for `n`, next node)."""
    return tuple(sorted({v.node for v in zone_views(state)}))


def mib(pages: int, page_size: int) -> str:
    value = pages * page_size / MIB
    if value < 1:
        return f"{pages * page_size // 1024}K"
    return f"{value:.0f}M" if value >= 100 else f"{value:.1f}M"


def watermark_bar(v: ZoneView, width: int) -> str:
    """`[====m==l====h   ]`: free as `=` (or `!` below min), the marks where they fall.

    The scale runs from 0 to the larger of free and high plus one low→high band, so the marks
    stay apart when free is near them; when free is far above, they crowd the left, as they are.
    """
    if v.min_pages is None or v.low_pages is None or v.high_pages is None or width < 3:
        return ""
    inner = width - 2
    top = max(v.free_pages, v.high_pages + max(v.high_pages - v.low_pages, 1), 1)

    def at(pages: int) -> int:
        return min(inner - 1, pages * inner // top)

    filled = min(inner, -(-v.free_pages * inner // top))
    fill = "!" if v.free_pages < v.min_pages else "="
    cells = [fill if i < filled else " " for i in range(inner)]
    for mark, pages in (("m", v.min_pages), ("l", v.low_pages), ("h", v.high_pages)):
        cells[at(pages)] = mark
    return "[" + "".join(cells) + "]"


def histogram(free_blocks: Sequence[int], ascii_only: bool) -> str:
    """One character per order: height ~ log2(count + 1) (8 levels up to 2**16), `x` exhausted."""
    blocks = _BLOCKS_ASCII if ascii_only else _BLOCKS_UNICODE
    out = []
    for count in free_blocks:
        if count == 0:
            out.append("x")
        else:
            out.append(blocks[min(len(blocks) - 1, 1 + count.bit_length() // 2)])
    return "".join(out)


def order_summary(free_blocks: Sequence[int]) -> str:
    """Highest order available, the exhausted orders (none free), and the fragmentation index at
    the first order above the highest available: near 1 means failing for fragmentation, near 0
    for lack of free memory (mm/vmstat.c __fragmentation_index)."""
    available = [k for k, n in enumerate(free_blocks) if n > 0]
    if not available:
        return "no free blocks"
    top = available[-1]
    text = f"max o{top}"
    exhausted = [k for k, n in enumerate(free_blocks) if n == 0]
    if exhausted:
        text += f" exhausted {_ranges(exhausted)}"
    if top + 1 < len(free_blocks):  # the first order no free block can serve
        index = fragmentation_index_milli(free_blocks, top + 1) / 1000
        text += f" frag@o{top + 1} {index:.3f}"
    return text


def _ranges(orders: Sequence[int]) -> str:
    """[3, 4, 5, 9] -> 'o3-5,9'."""
    parts: list[str] = []
    start = prev = orders[0]
    for k in [*orders[1:], -2]:
        if k != prev + 1:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = k
        prev = k
    return "o" + ",".join(parts)


def zone_lines(v: ZoneView, page_size: int, width: int, ascii_only: bool) -> list[str]:
    """Two lines: the watermark bar, then the order histogram."""
    name = safe_text(f"n{v.node} {v.zone}")[:14].ljust(14)
    free = f"free {mib(v.free_pages, page_size):>7}"
    if v.low_pages is not None and v.high_pages is not None:
        band = f" low→high {mib(v.low_pages, page_size)}–{mib(v.high_pages, page_size)}"
        if ascii_only:
            band = band.replace("→", "->").replace("–", "-")
    else:
        band = " (no zoneinfo)"
    band = band.ljust(_BAND_WIDTH)
    bar_width = width - len(name) - len(free) - len(band) - 2
    bar = watermark_bar(v, bar_width) if bar_width >= 10 else ""
    first = f"{name} {free} {bar}{band}" if bar else f"{name} {free}{band}"
    if v.free_blocks is None:
        return [first, " " * 15 + "orders: no buddyinfo"]
    counts = ""
    if width >= 120:
        counts = " " + " ".join(_short(n) for n in v.free_blocks)
    second = f"{'':15}orders [{histogram(v.free_blocks, ascii_only)}] {order_summary(v.free_blocks)}{counts}"
    return [first.rstrip(), second]


def _short(n: float) -> str:
    """12 -> '12', 0.25 -> '0.2', 14400 -> '14k', 1500 -> '1.5k'."""
    for unit in ("", "k", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.0f}{unit}" if n == int(n) or abs(n) >= 10 else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.0f}T"


def _rate(rates: Rates, name: str) -> str:
    value = sum_zoned(rates, name)
    return "-" if value is None else _short(value)


def rate_lines(tick: Tick) -> list[str]:
    """vmstat rates, PSI, kthread CPU; or why there are no rates yet."""
    return state_rate_lines(tick.state, tick.rates, tick.inputs.rates_reason)


def state_rate_lines(state: SystemState, rates: Rates | None, rates_reason: str) -> list[str]:
    """rate_lines from the parts (a replayed sample has no Tick)."""
    psi = state.psi_memory
    if rates is None:
        lines = [f"rates/s  none: {rates_reason}"]
    else:
        lines = [
            f"rates/s  allocstall {_rate(rates, 'allocstall')}  pgscan direct "
            f"{_rate(rates, 'pgscan_direct')} kswapd {_rate(rates, 'pgscan_kswapd')}  pgsteal "
            f"{_short(_sum(rates, 'pgsteal_direct', 'pgsteal_kswapd'))}  pgalloc {_rate(rates, 'pgalloc')}",
            f"compact  stall {_rate(rates, 'compact_stall')} fail {_rate(rates, 'compact_fail')} "
            f"success {_rate(rates, 'compact_success')}  kswapd_low_wmark_hit_quickly "
            f"{_rate(rates, 'kswapd_low_wmark_hit_quickly')}",
        ]
    if psi is None:
        pressure = "PSI      not available"
    else:
        pressure = f"PSI      some {psi.some.avg10:.2f}%{_share(rates, 'some')}"
        if psi.full is not None:
            pressure += f"  full {psi.full.avg10:.2f}%{_share(rates, 'full')}"
    cpu = _kthread_cpu(rates)
    lines.append(pressure + ("  " + cpu if cpu else ""))
    return lines


def _sum(rates: Rates, *names: str) -> float:
    return sum(sum_zoned(rates, n) or 0.0 for n in names)


def _share(rates: Rates | None, which: str) -> str:
    ratio = None if rates is None else (rates.psi_some_ratio if which == "some" else rates.psi_full_ratio)
    return "" if ratio is None else f" (now {ratio * 100:.1f}%)"


def _kthread_cpu(rates: Rates | None) -> str:
    if rates is None or not rates.kthread_cpu_ratio:
        return ""
    ratios = sorted(rates.kthread_cpu_ratio.items())
    parts = [f"{safe_text(comm)} {ratio * 100:.1f}%" for comm, ratio in ratios]
    return "cpu " + " ".join(parts)


def event_line(e: AllocEvent) -> str:
    """One kernel allocation report: when, what, who, the order, the stall, the GFP flags."""
    who = f"{e.comm or '?'}[{e.pid}]" if e.pid is not None else (e.comm or "?")
    parts = [e.time or "-", e.kind, who, f"order {e.order if e.order is not None else '?'}"]
    if e.stall_ms is not None:
        parts.append(f"stalled {e.stall_ms} ms")
    parts.append("|".join(e.gfp_flags) if e.gfp_flags else (e.gfp_mode or "-"))
    return safe_text("event    " + "  ".join(parts))


def finding_line(f: Finding) -> str:
    return finding_text(f.severity.name, f.key, f.subject, f.summary)


def finding_text(severity: str, key: str, subject: str, summary: str) -> str:
    """`SEVERITY KEY subject: summary` (the summary without its own leading subject)."""
    if summary.startswith(f"{subject}: "):
        summary = summary[len(subject) + 2:]
    return safe_text(f"{severity:<8} {key} {subject}: {summary}")


def header(state: SystemState, options: FrameOptions) -> str:
    """The viewer's choices first (they must survive truncation at 80 columns), then the source."""
    parts = ["memstall top"]
    if options.replay is not None:
        parts.append(options.replay)
    if options.paused:
        parts.append("PAUSED")
    if options.interval_seconds is not None:
        parts.append(f"every {options.interval_seconds:g}s")
    if options.node is not None:
        parts.append(f"node {options.node}")
    if options.zone is not None:
        parts.append(f"zone {options.zone}")
    parts += [f"kernel {state.kernel_release or 'unknown'}", state.source]
    return safe_text("  ".join(parts))


def _fit(line: str, width: int) -> str:
    line = line.replace("\n", "\\n").replace("\t", " ")  # safe_text keeps them; a frame line may not
    return line if len(line) <= width else line[: width - 1] + "…"


def render_frame(tick: Tick, width: int, height: int | None = None,
                 options: FrameOptions = FrameOptions(),
                 events: Sequence[AllocEvent] = (), trace: Sequence[str] = ()) -> list[str]:
    """The frame's lines, each at most `width` columns; at most `height` lines when given.

    `events`: the kernel's allocation reports seen so far (oldest first); the newest are shown
    below the rates, at most EVENT_LINES of them. `trace`: the stall-latency lines of `--trace`
    (outputs/top_trace.py), shown below them.
    """
    rates = [*rate_lines(tick), *(event_line(e) for e in reversed(events[-EVENT_LINES:])), *trace]
    findings = [finding_line(f) for f in sorted(tick.report.findings, key=lambda f: -f.severity)]
    return frame_lines(tick.state, rates, findings, width, height, options)


def frame_lines(state: SystemState, rates: list[str], findings: list[str], width: int,
                height: int | None, options: FrameOptions) -> list[str]:
    """The frame from its parts: the zones of `state`, the rate/event lines, the finding lines
    (most severe first); shared by the live frame and the replayed one (outputs/top_replay.py)."""
    width = max(MIN_WIDTH, min(MAX_WIDTH, width))
    views = [v for v in zone_views(state)
             if (options.node is None or v.node == options.node)
             and (options.zone is None or v.zone == options.zone)]
    budget = None if height is None else height - 1 - len(rates) - 1 - min(1, len(findings))
    if budget is not None and options.node is None and len(views) * 2 > budget and views:
        views = [v for v in views if v.node == views[0].node]  # one node at a time: `n` cycles
    zones: list[str] = []
    for v in views:
        zones += zone_lines(v, state.page_size, width, options.ascii_only)
    if not views:
        zones.append("no zones to show" + (" (zone filter)" if options.zone else ""))
    if budget is not None and len(zones) > budget:
        zones = [*zones[: max(budget - 1, 0)], f"+{len(zones) - budget + 1} more zone lines"]
    lines = [header(state, options), *zones, *rates]
    lines += _finding_lines(findings, None if height is None else height - len(lines))
    return [_fit(line, width) for line in lines]


def _finding_lines(findings: list[str], room: int | None) -> list[str]:
    if not findings:
        return ["findings: none"]
    head = f"findings: {len(findings)}"
    if room is None or len(findings) + 1 <= room:
        return [head, *findings]
    shown = max(room - 2, 0)
    return [head, *findings[:shown], f"+{len(findings) - shown} more"][: max(room, 1)]


__all__ = ["EVENT_LINES", "FrameOptions", "ZoneView", "event_line", "finding_text", "frame_lines",
           "histogram", "node_ids", "order_summary", "render_frame", "state_rate_lines", "watermark_bar",
           "zone_views"]
