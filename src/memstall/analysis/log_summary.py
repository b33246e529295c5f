"""Facts derived from kernel-log allocation reports: GFP names, totals, stall percentiles.

GFP names: the log's own `(%pGg)` text when printed (4.6+, `gfp_flags_source = "log"`);
otherwise the hex mode decoded with the bit table of the kernel era (`"decoded:<era>"`), the
version taken from the report's `CPU: ... <release>` line, else from `--kernel`. Without
either the era is inferred from the bits and the decoding is marked `guessed`.

`SummaryBuilder` is fed one event at a time (the CLI streams) and keeps counters only,
plus one int per stall for the percentiles.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from memstall.analysis.gfp import decode_gfp
from memstall.model.kernel import KernelVersion
from memstall.model.kernlog import AllocEvent, MemInfoZone


@dataclass(frozen=True)
class GfpView:
    names: tuple[str, ...] | None
    source: str | None
    """'log', 'decoded:<era>', or None when there is no mode to decode."""
    guessed: bool

    @property
    def text(self) -> str | None:
        """The names joined as the kernel prints them, marked when decoded here (not printed by
        the kernel) and when the era was guessed; None when there is no mode at all.

        >>> GfpView(("GFP_KERNEL",), "decoded:3.8-3.15", True).text
        'GFP_KERNEL (decoded, guessed era)'
        """
        if self.names is None:
            return None
        text = "|".join(self.names)
        if self.source and self.source != "log":
            text += " (decoded" + (", guessed era" if self.guessed else "") + ")"
        return text


class MaskedEvent(Protocol):
    """What `gfp_view` reads of an event (model AllocEvent; the rules' view of one)."""

    @property
    def gfp_mode(self) -> str | None: ...

    @property
    def gfp_flags(self) -> tuple[str, ...] | None: ...

    @property
    def kernel_version(self) -> str | None: ...


def gfp_view(event: MaskedEvent, kernel: KernelVersion | None = None) -> GfpView:
    """The flag names of an event and where they come from.

    >>> from memstall.parsers.kernlog import scan_text
    >>> ev = scan_text("splat: page allocation failure: order:0, mode:0x10d0").events[0]
    >>> v = gfp_view(ev, KernelVersion(3, 8))
    >>> v.names, v.source, v.guessed
    (('GFP_KERNEL', '__GFP_NORETRY'), 'decoded:3.8-3.15', False)
    """
    if event.gfp_flags is not None:
        return GfpView(event.gfp_flags, "log", False)
    if event.gfp_mode is None:
        return GfpView(None, None, False)
    version = KernelVersion.parse(event.kernel_version) if event.kernel_version else None
    version = version or kernel
    decoded = decode_gfp(int(event.gfp_mode, 16), version)
    return GfpView(decoded.names, f"decoded:{decoded.era}", decoded.guessed)


def percentile(sorted_values: list[int], p: float) -> int | None:
    """Nearest-rank percentile (p in 0..100) of sorted values; None when there are none.

    >>> percentile([10, 20, 30, 40], 50), percentile([10, 20, 30, 40], 95)
    (20, 40)
    """
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


@dataclass(frozen=True)
class LogSummary:
    events: int
    by_kind: dict[str, int]
    by_order: dict[str, int]
    by_flags: dict[str, int]
    by_comm: dict[str, int]
    by_host: dict[str, int]
    stall_ms_p50: int | None
    stall_ms_p95: int | None
    stall_ms_max: int | None
    first_seen: str | None
    last_seen: str | None
    mem_info_dumps: int


class SummaryBuilder:
    def __init__(self, kernel: KernelVersion | None = None) -> None:
        self.kernel = kernel
        self.count = 0
        self.kind: Counter[str] = Counter()
        self.order: Counter[str] = Counter()
        self.flags: Counter[str] = Counter()
        self.comm: Counter[str] = Counter()
        self.host: Counter[str] = Counter()
        self.stalls = array("q")
        self.first: str | None = None
        self.last: str | None = None
        self.dumps = 0

    def add(self, event: AllocEvent, view: GfpView | None = None) -> None:
        view = view or gfp_view(event, self.kernel)
        self.count += 1
        self.kind[event.kind] += 1
        self.order["?" if event.order is None else str(event.order)] += 1
        self.flags["|".join(view.names) if view.names is not None else "?"] += 1
        self.comm[event.comm or "?"] += 1
        self.host[event.host or "-"] += 1
        if event.stall_ms is not None:
            self.stalls.append(event.stall_ms)
        if event.time is not None:
            self.first = self.first or event.time
            self.last = event.time
        if event.has_mem_info:
            self.add_dump()

    def add_dump(self) -> None:
        """One more Mem-Info dump (a report's, parsed or deferred, or one on its own)."""
        self.dumps += 1

    def merge(self, part: SummaryBuilder) -> None:
        """As if the events and dumps given to `part` had been given here, after this one's own
        (`memstall logs --jobs`: each worker summarizes its part of the log)."""
        self.count += part.count
        self.kind.update(part.kind)
        self.order.update(part.order)
        self.flags.update(part.flags)
        self.comm.update(part.comm)
        self.host.update(part.host)
        self.stalls.extend(part.stalls)
        if not self.first and part.first is not None:  # add(): first = first or time
            self.first = part.first
        if part.last is not None:
            self.last = part.last
        self.dumps += part.dumps

    def build(self) -> LogSummary:
        stalls = sorted(self.stalls)

        def top(c: Counter[str]) -> dict[str, int]:
            return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))

        return LogSummary(
            events=self.count, by_kind=top(self.kind), by_order=top(self.order),
            by_flags=top(self.flags), by_comm=top(self.comm), by_host=top(self.host),
            stall_ms_p50=percentile(stalls, 50), stall_ms_p95=percentile(stalls, 95),
            stall_ms_max=stalls[-1] if stalls else None, first_seen=self.first,
            last_seen=self.last, mem_info_dumps=self.dumps,
        )


def summarize(events: Iterable[AllocEvent], kernel: KernelVersion | None = None) -> LogSummary:
    b = SummaryBuilder(kernel)
    for e in events:
        b.add(e)
    return b.build()


def watermark_state(zone: MemInfoZone) -> str | None:
    """Where free sits against the printed watermarks: below_min / below_low / below_high / ok."""
    free, wmin, low, high = zone.free_kb, zone.min_kb, zone.low_kb, zone.high_kb
    if free is None or wmin is None or low is None or high is None:
        return None
    if free < wmin:
        return "below_min"
    if free < low:
        return "below_low"
    if free < high:
        return "below_high"
    return "ok"
