"""`memstall logs FILE...`: allocation stalls, failures and OOM reports found in kernel logs.

Streams: events are printed as their report ends (`--format jsonl` flushes every line), and
memory stays flat whatever the log size. `--format json` is one document, which appears on
stdout only when it is whole: its events wait in a temporary file, not in memory, each
encoded on one line by json's C encoder (only the envelope is indented). Files may
be plain, .gz, .xz, .bz2, .zst (with the `zstd` extra) or `-` for stdin.

With `--jobs N` the workers filter and render their parts' events and send back the text and
the summary's counts (`_RenderPart`): the output comes part by part, byte for byte the same.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from memstall.analysis.log_summary import GfpView, SummaryBuilder, gfp_view
from memstall.collect_log import ParallelScan, scan_log, splittable
from memstall.errors import UsageError
from memstall.model.kernel import KernelVersion
from memstall.model.kernlog import KINDS, AllocEvent, DumpText, MemInfoDump
from memstall.outputs import logs as out
from memstall.parsers.kernlog import Item, LogScanner, parse_dump_text, with_dump_parsed
from memstall.pipeline.log_filter import EventFilter, parse_bound
from memstall.sources.kernlog import STDIN, LogReader


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    # Not `parents=[common]`: this command's --format also takes jsonl, and --root has no
    # meaning for a log file. --debug is accepted here too.
    del common
    p = subparsers.add_parser(
        "logs", help="find allocation stalls, failures and OOM reports in kernel logs",
        description="Read kernel logs (dmesg, dmesg -T, syslog, journalctl, /dev/kmsg; plain or "
                    "compressed; '-' for stdin) and report every page-allocation stall, allocation "
                    "failure and OOM-killer report with its call trace and Mem-Info.")
    p.add_argument("files", nargs="+", metavar="FILE", help="log files, or - for stdin")
    p.add_argument("--format", choices=("text", "json", "jsonl"), default=argparse.SUPPRESS,
                   help="text (default), json (schema memstall.logs/1) or jsonl (one event per line)")
    p.add_argument("--host", action="append", metavar="H", help="only events of host H (repeatable)")
    p.add_argument("--since", metavar="T", help="only events at or after T: uptime seconds, or an "
                   "ISO date/time (compared with dmesg -T, syslog and ISO stamps)")
    p.add_argument("--until", metavar="T", help="only events at or before T (same forms as --since)")
    p.add_argument("--kind", action="append", choices=KINDS, help="only this kind (repeatable)")
    p.add_argument("--kernel", metavar="VERSION",
                   help="kernel release for decoding hex-only GFP masks when the log does not say")
    p.add_argument("--as-snapshot", metavar="DIR",
                   help="write the last Mem-Info as a snapshot directory usable with --root DIR")
    p.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                   help="scan each plain (uncompressed) file in parts with N processes; same output "
                        "as one (default 1)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks instead of one-line errors")
    p.set_defaults(handler=run)


SCAN_DEFERS: tuple[str, ...] = KINDS
"""The scan leaves every event's dump unparsed (`LogScanner`'s defer_dumps); `_Events` parses
the dumps of the events the output prints and shows (parsing is the larger part of the scan of
reports back to back): after --kind/--host/--since/--until, in json and jsonl every kept
event's, in text only TEXT_DUMPS' (and the last dump, for the summary, at the end)."""
TEXT_DUMPS = ("oom",)
"""The kinds whose dump `--format text` reads: an OOM report's lines summarize its memory."""


def _jobs(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 256:
        raise argparse.ArgumentTypeError(f"expected a number of processes from 1 to 256, got {text!r}")
    return int(text)


class _Events:
    """The work of `memstall logs` on each item of a log: the filter, the GFP view, the summary's
    counts, the last Mem-Info and the output text, which goes to `write`. The one-process scan
    writes to stdout; each `--jobs` worker to a list of strings (`_RenderPart`), so the output
    is the same code's whatever the number of processes."""

    def __init__(self, fmt: str, event_filter: EventFilter, kernel: KernelVersion | None,
                 write: Callable[[str], object], flush: Callable[[], object] | None = None) -> None:
        self.fmt, self.filter, self.write, self.flush = fmt, event_filter, write, flush
        self.kernel = kernel
        self.summary = SummaryBuilder(kernel)
        self.events_written = 0  # --format json: a ",\n" goes before every event but the first
        self.standalone: list[dict[str, Any]] = []
        self.last_dump: tuple[MemInfoDump | DumpText, AllocEvent | None] | None = None

    def event(self, e: AllocEvent) -> None:
        if not self.filter.wants(e):
            return
        if e.mem_info_text is not None and (self.fmt != "text" or e.kind in TEXT_DUMPS):
            e = with_dump_parsed(e)
        view: GfpView = gfp_view(e, self.kernel)
        self.summary.add(e, view)
        dump = e.mem_info or e.mem_info_text
        if dump is not None:
            self.last_dump = (dump, e)
        if self.fmt == "jsonl":
            self.write(json.dumps(out.event_doc(e, view), sort_keys=True) + "\n")
            if self.flush is not None:
                self.flush()
        elif self.fmt == "json":
            self.write((",\n" if self.events_written else "") + out.event_json(out.event_doc(e, view)))
            self.events_written += 1
        else:
            self.write(out.event_line(e, view))

    def dump(self, d: MemInfoDump) -> None:
        if self.filter.active:
            return  # a dump without a report has no host/kind/time to filter on
        self.summary.add_dump()
        self.last_dump = (d, None)
        if self.fmt == "json":
            self.standalone.append(out.mem_info_doc(d))

    def last_mem_info(self) -> MemInfoDump | None:
        """The last Mem-Info dump read (a deferred one parsed now)."""
        if self.last_dump is None:
            return None
        dump = self.last_dump[0]
        return parse_dump_text(dump) if isinstance(dump, DumpText) else dump

    def item(self, item: Item) -> None:
        self.event(item) if isinstance(item, AllocEvent) else self.dump(item)

    def add_part(self, part: _PartOutput) -> None:
        """What a `--jobs` worker made of a part's items, as if `item` had been called on them."""
        if part.text:
            if self.fmt == "json" and self.events_written:
                self.write(",\n")
            self.write(part.text)
            if self.flush is not None:
                self.flush()
        self.events_written += part.events_written
        self.standalone.extend(part.standalone)
        self.summary.merge(part.summary)
        if part.last_dump is not None:
            self.last_dump = part.last_dump


@dataclass
class _PartOutput:
    """A part of a log as `_Events` leaves it: the output text of its events, the summary's
    counts, its standalone dumps (--format json) and its last Mem-Info; what a `--jobs`
    worker sends back instead of the events themselves."""

    text: str
    events_written: int
    standalone: list[dict[str, Any]]
    summary: SummaryBuilder
    last_dump: tuple[MemInfoDump | DumpText, AllocEvent | None] | None


@dataclass(frozen=True)
class _RenderPart:
    """`ParallelScan.digested`'s digest: runs in the worker that scanned the part."""

    fmt: str
    event_filter: EventFilter
    kernel: KernelVersion | None

    def __call__(self, items: list[Item]) -> _PartOutput:
        texts: list[str] = []
        events = _Events(self.fmt, self.event_filter, self.kernel, texts.append)
        for item in items:
            events.item(item)
        return _PartOutput("".join(texts), events.events_written, events.standalone,
                           events.summary, events.last_dump)


class _Run:
    def __init__(self, args: argparse.Namespace, io: Any) -> None:
        self.args, self.io = args, io
        self.fmt = args.format
        kernel = KernelVersion.parse(args.kernel) if args.kernel is not None else None
        if args.kernel is not None and kernel is None:
            raise UsageError(f"--kernel {args.kernel!r}: expected a release such as 4.9.0 or 3.10")
        self.kernel = kernel
        self.filter = EventFilter(
            hosts=frozenset(args.host or ()), kinds=frozenset(args.kind or ()),
            since=None if args.since is None else parse_bound(args.since, "--since"),
            until=None if args.until is None else parse_bound(args.until, "--until"))
        self.spool: IO[str] | None = None  # --format json: the events, until the document is whole
        self.skipped: dict[str, int] = {}
        self.cut_lines = 0

    def start(self) -> _Events:
        """Where the events go, once the spool (--format json) is open."""
        if self.spool is not None:  # json
            return _Events(self.fmt, self.filter, self.kernel, self.spool.write)
        flush = self.io.stdout.flush if self.fmt == "jsonl" else None  # jsonl: line by line
        return _Events(self.fmt, self.filter, self.kernel, self.io.stdout.write, flush)

    def scan(self, reader: LogReader, events: _Events) -> None:
        if self.args.jobs > 1 and splittable(reader.path):
            parallel = ParallelScan(reader.path, reader.label, self.args.jobs, defer_dumps=SCAN_DEFERS)
            for part in parallel.digested(_RenderPart(self.fmt, self.filter, self.kernel)):
                events.add_part(part)
            for reason, n in parallel.skipped.items():
                self.skipped[reason] = self.skipped.get(reason, 0) + n
            self.cut_lines += parallel.cut_lines
            return
        scanner = LogScanner(reader.label, defer_dumps=SCAN_DEFERS)
        event, dump = events.event, events.dump
        for item in scan_log(reader, scanner):
            event(item) if isinstance(item, AllocEvent) else dump(item)
        for reason, n in scanner.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n
        self.cut_lines += reader.truncated + scanner.cut_lines

    def finish(self, ev: _Events) -> None:
        summary = ev.summary.build()
        last = ev.last_mem_info()
        if self.spool is not None:  # json
            events = [out.EVENTS_HOLE] if ev.events_written else []
            doc = out.document(events, ev.standalone, out.summary_doc(summary, last), self.skipped,
                               self.cut_lines)
            if not ev.events_written:
                self.io.stdout.write(out.document_text(doc))
                return
            head, tail = out.around_events(doc)
            self.io.stdout.write(head)
            self.spool.seek(0)
            shutil.copyfileobj(self.spool, self.io.stdout)
            self.io.stdout.write(tail)
        elif self.fmt == "text":
            self.io.stdout.write(out.summary_text(summary, last, self.skipped, self.cut_lines))

    def snapshot(self, target: str, ev: _Events) -> None:
        # --as-snapshot only: the state model and the snapshot writer cost the scan 40 ms of start-up
        from memstall.analysis.log_state import state_from_mem_info
        from memstall.outputs.logs_snapshot import snapshot_files
        from memstall.sources.capture import Capture, write_capture

        dump = ev.last_mem_info()
        if dump is None or ev.last_dump is None:
            raise UsageError("--as-snapshot: no Mem-Info dump in the log(s), nothing to write")
        event = ev.last_dump[1]
        release = (event.kernel_version if event else None) or self.args.kernel
        state = state_from_mem_info(dump, kernel_release=release)
        files, manifest = snapshot_files(state, dump, event.host if event else None,
                                         event.time if event else None)
        write_capture(Capture(files=files), manifest, target, time.time())
        where = self.io.stdout if self.fmt == "text" else self.io.stderr
        where.write(f"wrote {target}: the Mem-Info of {dump.source}:{dump.line_no} as a snapshot "
                    f"({len(files)} files); use --root {target}\n")


def run(args: argparse.Namespace, io: Any) -> int:
    if args.files.count(STDIN) > 1:
        raise UsageError("'-' (stdin) can be given once")
    r = _Run(args, io)
    if args.as_snapshot:
        from memstall.sources.capture import check_target

        check_target(args.as_snapshot)  # before the scan: do not make the user wait for a refusal
    with contextlib.ExitStack() as stack:
        if r.fmt == "json":  # surrogateescape: stdin's undecodable bytes come back as they went in
            r.spool = stack.enter_context(tempfile.TemporaryFile(
                "w+", encoding="utf-8", errors="surrogateescape", prefix="memstall-logs-"))
        events = r.start()
        readers: list[LogReader] = []
        try:
            for path in args.files:  # every file opens before any output
                readers.append(LogReader(path))
            for reader in readers:
                r.scan(reader, events)
        finally:
            for reader in readers:
                reader.close()
        r.finish(events)
    if args.as_snapshot:
        r.snapshot(args.as_snapshot, events)
    return 0
