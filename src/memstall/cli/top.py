"""`memstall top`: watch zones, orders, rates and findings refresh, as the kernel sees them.

`--once` (and any run whose stdout is not a terminal) prints one plain-text frame: on a live
host from two Sampler ticks `--interval` apart, so it has rates; on a capture from its one
sample. The interactive view needs the optional `[tui]` extra (rich), imported only here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from memstall.analysis.stall_trace import EVENTS, StallTracker
from memstall.cli.args import seconds, time_ms
from memstall.errors import InputError, MemstallError, UsageError
from memstall.outputs.render.jsonout import dumps
from memstall.outputs.top import MAX_WIDTH, FrameOptions, render_frame
from memstall.outputs.top_json import moment_doc, tick_doc
from memstall.outputs.top_replay import replay_frame
from memstall.outputs.top_trace import by_kind, trace_lines, trace_unavailable
from memstall.pipeline.sampler import Sampler, Tick
from memstall.pipeline.trace_feed import PipeFeed
from memstall.sources import open_root
from memstall.sources.tracefs import PipeReader, find_tracefs
from memstall.sources.tracefs_control import create_instance, remove_instance, remove_stale_instances
from memstall.store import Db
from memstall.store.replay import Replay

TUI_MISSING = "the interactive `memstall top` needs the [tui] extra: pip install 'memstall[tui]' " \
              "(or run `memstall top --once`)"


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "top", parents=[common],
        help="watch zones, free blocks per order, reclaim/compaction rates and findings live",
        description="Per node and zone: free memory against the min/low/high watermarks and the free "
                    "blocks per order; reclaim and compaction rates, PSI and kswapd/kcompactd CPU; "
                    "the active findings. Interactive with the [tui] extra (keys: q quit, p pause, "
                    "+/- interval, n next node, z zone filter, ? help); --once, or a stdout that is "
                    "not a terminal, prints one plain-text frame. With --db: replays a "
                    "`memstall record` database (keys: left/right one sample, [ ] or PgUp/PgDn "
                    "the previous/next event or tune marker, g/G first/last).")
    p.add_argument("--interval", type=seconds, default=1.0, metavar="SECONDS",
                   help="seconds between refreshes (default 1; --once on a live host: between "
                        "its two samples, 0 = one sample, no rates)")
    p.add_argument("--once", action="store_true",
                   help="print one plain-text frame and exit (the default when stdout is not a terminal)")
    p.add_argument("--width", type=int, metavar="COLUMNS",
                   help="--once: frame width (default: the terminal's, else 80; 40 to 200)")
    p.add_argument("--trace", action="store_true",
                   help="also trace direct reclaim and compaction as `memstall trace` does (root, "
                        "tracefs): per kind, the stalls of the last interval, p50/p99/max")
    p.add_argument("--db", metavar="FILE", help="replay a database written by `memstall record`")
    p.add_argument("--at", metavar="TIME",
                   help="--db: start at the sample at or before TIME: ISO date/time (UTC unless it "
                        "says), or a time before the last sample written --at=-2h (also -30s, -1d); "
                        "default: the last sample")
    p.set_defaults(handler=run)


def _ascii_only(stream: Any) -> bool:
    """True when the stream's encoding cannot write the histogram's block characters."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "▁█→–…".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def once_tick(sampler: Sampler, live: bool, interval_seconds: float) -> Tick:
    """One tick to print: the second of two `interval_seconds` apart on a live host (rates)."""
    if not live or interval_seconds == 0:
        return sampler.sample()
    *_, last = sampler.ticks(interval_seconds, count=2)
    return last


def _is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


TRACE_BUFFER_KB = 1024
"""--trace: the ring buffer of top's tracefs instance (drained every interval)."""
TRACE_READS_PER_POLL = 256
"""At most this many pipe reads per frame (64 KiB each): a storm cannot stall the view."""


class TraceFeed:
    """`--trace`: the pipe path of `memstall trace` (a tracefs instance of its own, its
    trace_pipe, the StallTracker pairing begin/end), read once per frame; each call gives the
    panel lines for the stalls that ended since the previous call."""

    def __init__(self, reader: PipeReader | None, why: str = "", instance: Path | None = None) -> None:
        self.reader, self.why, self.instance = reader, why, instance
        self.tracker = StallTracker(keep_slowest=0)
        self.pipe = PipeFeed(self.tracker)

    def __call__(self, interval_seconds: float | None) -> list[str]:
        if self.reader is None:
            return trace_unavailable(self.why)
        self.pipe.drain(self.reader, TRACE_READS_PER_POLL)
        self.tracker.close_idle_compaction()  # a frame is an end for idle windows
        kinds = by_kind(self.tracker.hists)
        self.tracker.hists.clear()  # the open begins stay: a stall across two frames still pairs
        self.tracker.tasks.clear()
        return trace_lines(kinds, interval_seconds)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.instance is not None:
            remove_instance(self.instance)


def open_trace(live: bool) -> TraceFeed:
    """The feed, or one that says why there is none (a capture, no tracefs, not root)."""
    if not live:
        return TraceFeed(None, "--root is a capture: tracing needs the live host")
    tracefs = find_tracefs()
    if tracefs is None:
        why = ("tracefs is not mounted (`memstall trace` mounts it)" if os.geteuid() == 0
               else "no tracefs this user can read: tracing needs root")
        return TraceFeed(None, why)
    try:
        remove_stale_instances(tracefs)
        instance = create_instance(tracefs, EVENTS, TRACE_BUFFER_KB)
    except MemstallError as err:
        return TraceFeed(None, err.message)
    except OSError as err:
        return TraceFeed(None, f"{tracefs}: {err.strerror or err}")
    try:
        return TraceFeed(PipeReader(instance.path / "trace_pipe"), instance=instance.path)
    except OSError as err:
        remove_instance(instance.path)
        return TraceFeed(None, f"{instance.path}/trace_pipe: {err.strerror or err}")


def _width(args: argparse.Namespace) -> int:
    return int(args.width or min(MAX_WIDTH, shutil.get_terminal_size((80, 24)).columns))


def replay(args: argparse.Namespace, io: Any) -> int:
    """`top --db`: one frame of the recording (--once, or not a terminal), else the replay view."""
    if args.root != "/":
        raise UsageError("--db and --root: give one source (the database records its own)")
    db = Db(args.db, write=False)
    try:
        rec = Replay(db)
        last = rec.last()
        if last is None:
            raise InputError(f"{args.db}: holds no samples yet",
                             hint="record some with `memstall record --db`")
        start = time_ms(args.at, "--at", last) if args.at else last
        if args.once or not (_is_tty(sys.stdout) and _is_tty(sys.stdin)):
            moment = rec.moment(start)
            if moment is None:
                raise InputError(f"{args.db}: the sample at {start} ms does not decode (cut by retention?)")
            options = FrameOptions(ascii_only=_ascii_only(sys.stdout))
            if args.format == "json":
                io.stdout.write(dumps(moment_doc(moment)))
            else:
                io.stdout.write("\n".join(replay_frame(moment, _width(args), None, options)) + "\n")
            return 0
        try:
            from memstall.outputs.top_tui import run_replay_tui
        except ImportError:
            raise UsageError(TUI_MISSING) from None
        return run_replay_tui(rec, start, no_color="NO_COLOR" in os.environ)
    finally:
        db.close()


def run(args: argparse.Namespace, io: Any) -> int:
    if args.width is not None and not 40 <= args.width <= MAX_WIDTH:
        raise UsageError(f"--width must be 40 to {MAX_WIDTH} columns, got {args.width}")
    if args.format == "json":
        args.once = True  # one document: there is no interactive JSON
        if args.trace:
            raise UsageError("--trace is text only (memstall.top/1 has no trace panel)")
    if args.db and args.trace:
        raise UsageError("--trace traces this host now: it cannot replay a --db")
    if args.db:
        return replay(args, io)
    if args.at:
        raise UsageError("--at picks a time in a recording: give --db too")
    source = open_root(args.root)
    once = args.once or not (_is_tty(sys.stdout) and _is_tty(sys.stdin))
    if not once:
        try:
            from memstall.outputs.top_tui import run_tui
        except ImportError:
            raise UsageError(TUI_MISSING) from None
    feed = open_trace(source.is_live) if args.trace else None
    try:
        if once:
            sampler = Sampler(source)
            tick = once_tick(sampler, source.is_live, args.interval)
            options = FrameOptions(interval_seconds=args.interval if source.is_live else None,
                                   ascii_only=_ascii_only(sys.stdout))
            trace = feed(args.interval if source.is_live else None) if feed else []
            if args.format == "json":
                io.stdout.write(dumps(tick_doc(tick)))
            else:
                lines = render_frame(tick, _width(args), None, options, trace=trace)
                io.stdout.write("\n".join(lines) + "\n")
            return 0
        kmsg = None
        if source.is_live:  # the host's own kernel log; a capture has no live events
            from memstall.pipeline.kmsg_events import open_kmsg

            kmsg, _why = open_kmsg()
        return run_tui(Sampler(source), args.interval, no_color="NO_COLOR" in os.environ, kmsg=kmsg,
                       trace=feed)
    finally:
        if feed is not None:
            feed.close()
