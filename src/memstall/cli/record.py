"""`memstall record --db F`: sample this host on a schedule into SQLite (store/), with the
kernel log's allocation reports and the tune transactions on the same timeline; or add a
capture (`--import`) or a kernel log (`--import-log`) to the history.

Wiring only: the Sampler reads and runs the rules, store/ writes, this module schedules,
stops cleanly on SIGTERM or Ctrl-C (exit 0 after the sample in flight), and polls
/dev/kmsg and the tune state directory between samples.
"""

from __future__ import annotations

import argparse
import calendar
import datetime
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from memstall.analysis.stall_summary import by_kind
from memstall.collect import load_state, read_manifest, sample_count
from memstall.duration import parse_duration
from memstall.errors import MemstallError, SourceUnavailable, UsageError
from memstall.model.kernlog import AllocEvent
from memstall.model.sysctl_name import sysctl_name
from memstall.parsers.kernlog import LogScanner
from memstall.pipeline import Sampler, inputs_from_log, inputs_from_root, wall_time
from memstall.pipeline.stall_tracer import BackgroundTrace, StallTracer
from memstall.rules import run_rules
from memstall.sources import open_root
from memstall.sources.kernlog import KmsgStream
from memstall.store import Db, Marker, TraceInterval, Writer, event_of
from memstall.tune.store import Store

DEFAULT_STATE = "var/lib/memstall"
STATIC_EVERY_SECONDS = 10.0
"""Sysctls and THP settings are re-read this often (and at once after a tune step)."""
_ACTIONS = (("applied", "apply"), ("confirmed", "confirm"), ("rolled back", "rollback"), ("failed", "failed"))


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "record",
        parents=[common],
        help="record samples over time into a SQLite database",
        description="Sample --root (default: this host) every --interval into --db: free blocks per "
        "order, watermarks, vmstat counters, meminfo, PSI, kswapd/kcompactd CPU, sysctl "
        "changes, active findings, allocation reports from /dev/kmsg, and tune "
        "transactions as markers. SIGTERM or Ctrl-C stops after the sample in flight.",
    )
    p.add_argument("--db", required=True, metavar="FILE", help="the SQLite database (created if absent)")
    p.add_argument("--interval", default="10s", metavar="DURATION", help="time between samples (default 10s)")
    p.add_argument(
        "--retention", default="14d", metavar="DURATION", help="delete samples older than this (default 14d)"
    )
    p.add_argument("--samples", type=int, default=None, metavar="N", help="stop after N samples")
    p.add_argument(
        "--trace",
        action="store_true",
        help="also trace direct reclaim and compaction (as memstall trace, root) and store each "
        "interval's stalls and their seconds by kind",
    )
    p.add_argument(
        "--state-dir",
        metavar="DIR",
        help=f"where `memstall tune` keeps transactions (default: ROOT/{DEFAULT_STATE})",
    )
    p.add_argument(
        "--import",
        dest="import_snapshot",
        metavar="SNAPSHOT",
        help="add a capture (memstall snapshot) to the history instead of sampling",
    )
    p.add_argument(
        "--import-log",
        metavar="FILE",
        help="add a kernel log's allocation reports and Mem-Info to the history instead",
    )
    p.set_defaults(handler=run)


class _Stop(Exception):
    """SIGTERM or SIGINT arrived while waiting for the next sample."""


class _StopClock:
    """The Sampler's clock: a signal that arrives while sleeping ends the sleep; one that
    arrives while sampling or writing is noted and honoured once the sample is stored."""

    def __init__(self) -> None:
        self.stop = False
        self.sleeping = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True
        if self.sleeping:
            raise _Stop

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if self.stop:
            raise _Stop
        self.sleeping = True
        try:
            time.sleep(seconds)
        finally:
            self.sleeping = False


def tune_markers(store: Store) -> list[Marker]:
    """Every apply/confirm/rollback/failure step of the transactions in a tune state dir."""
    out: list[Marker] = []
    for tx in store.all():
        # keys are stored as /proc/sys paths (vm/watermark_scale_factor): shown as sysctl names
        changes = tuple((sysctl_name(c.key), c.before_text.strip(), c.after) for c in tx.changes)
        for line in tx.events:
            stamp, _, text = line.partition(" ")
            action = next((a for prefix, a in _ACTIONS if text.startswith(prefix)), None)
            if action is None:
                continue
            try:
                t = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
            except ValueError:
                continue
            # stamps have whole seconds; the apply step has the transaction's exact creation time
            t_ms = int(tx.created * 1000) if action == "apply" and int(tx.created) == t else t * 1000
            where = "" if tx.root in ("", "/") else f" (root {tx.root})"
            out.append(Marker(t_ms, tx.id, action, text + where, changes))
    return out


class _Kmsg:
    """New /dev/kmsg records since start, scanned into allocation reports."""

    def __init__(self, path: str = "/dev/kmsg") -> None:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.lseek(fd, 0, os.SEEK_END)  # only what is logged from now on; older: --import-log
        self.stream = KmsgStream(fd)
        self.scanner = LogScanner("/dev/kmsg")

    def events(self, final: bool = False) -> list[AllocEvent]:
        """Reports completed since the last call; `final`: also the one still being read
        (a report is complete when the next unrelated line arrives, or at the end)."""
        items = self.scanner.feed_block(self.stream.read())
        if final:
            items += self.scanner.finish()
        return [i for i in items if isinstance(i, AllocEvent)]

    def close(self) -> None:
        self.stream.close()


def _open_kmsg(root: str) -> _Kmsg | None:
    if root != "/":
        return None
    try:
        return _Kmsg()
    except OSError:  # not root (dmesg_restrict), or no /dev/kmsg in a container: no log events
        return None


def _state_store(args: argparse.Namespace) -> Store:
    return Store(Path(args.state_dir) if args.state_dir else Path(args.root) / DEFAULT_STATE)


class _Recording:
    """One recording run: what to poll between samples."""

    def __init__(self, args: argparse.Namespace, db: Db, io: Any) -> None:
        self.db, self.io, self.args = db, io, args
        self.writer: Writer | None = None
        self.kmsg = _open_kmsg(args.root)
        self.tune: Store | None = _state_store(args)
        self.seen: set[tuple[str, str, int]] = set()
        self.last_uptime: float | None = None
        self.new_markers = False
        """A tune step was just seen: re-read the sysctls at the next sample, not in a minute."""

    def poll(self, uptime_seconds: float | None, final: bool = False) -> None:
        assert self.writer is not None
        self.last_uptime = uptime_seconds
        if self.kmsg is not None:
            now = time.time()
            boot = None if uptime_seconds is None else now - uptime_seconds
            self.writer.events(
                event_of(
                    e,
                    int(1000 * (now if boot is None or e.uptime_s is None else boot + e.uptime_s)),
                    os.uname().nodename,
                    f"/dev/kmsg:{e.line_no}",
                )
                for e in self.kmsg.events(final)
            )
        if self.tune is not None:
            try:
                new = [m for m in tune_markers(self.tune) if (m.tx_id, m.action, m.t_ms) not in self.seen]
            except MemstallError as err:
                self.io.stderr.write(f"memstall: warning: tune markers off: {err.message}\n")
                self.tune = None
                return
            self.writer.markers(new)
            self.new_markers = bool(new)
            self.seen.update((m.tx_id, m.action, m.t_ms) for m in new)

    def close(self) -> None:
        if self.kmsg is not None:
            self.kmsg.close()


class _TraceTotals:
    """`record --trace`: a BackgroundTrace and the cumulative totals at the last sample."""

    def __init__(self, args: argparse.Namespace, io: Any) -> None:
        self.trace: BackgroundTrace | None = None
        self.last_ms = int(time.time() * 1000)
        self.last: dict[str, tuple[int, int]] = {}
        self.last_events = self.last_lost = 0
        if not args.trace:
            return
        if args.root != "/":
            raise UsageError("--trace traces this host: not with --root")
        trace = BackgroundTrace(StallTracer("auto"))
        try:
            trace.start()
        except SourceUnavailable as err:
            io.stderr.write(f"memstall: warning: recording without --trace: {err.message}\n")
            return
        self.trace, self.last_ms = trace, int(time.time() * 1000)

    def interval(self, t_ms: int) -> TraceInterval | None:
        """The stalls since the previous call (or the start), ending at t_ms."""
        if self.trace is None:
            return None
        tracker = self.trace.current()
        now = {kind: (h.n, h.total_us) for kind, h in by_kind(tracker).items()}
        lost = self.trace.tracer.lost_so_far()
        out = TraceInterval(
            t_ms, max(0, t_ms - self.last_ms), self.trace.tracer.method, tracker.events - self.last_events,
            max(0, lost - self.last_lost),
            {k: (n - self.last.get(k, (0, 0))[0], (us - self.last.get(k, (0, 0))[1]) / 1e6)
             for k, (n, us) in now.items()})
        self.last, self.last_ms, self.last_events, self.last_lost = now, t_ms, tracker.events, lost
        return out

    def close(self) -> None:
        if self.trace is not None:
            self.trace.close()


def _ticks(sampler: Sampler, interval: float, count: int | None) -> Iterator[Any]:
    try:
        yield from sampler.ticks(interval, count)
    except _Stop:
        return


def record(args: argparse.Namespace, io: Any) -> int:
    interval = parse_duration(args.interval, "--interval")
    retention = parse_duration(args.retention, "--retention")
    if args.samples is not None and args.samples < 1:
        raise UsageError(f"--samples {args.samples}: expected 1 or more")
    clock = _StopClock()
    old = {s: signal.signal(s, clock.handler) for s in (signal.SIGTERM, signal.SIGINT)}
    db = Db(args.db, write=True)
    rec: _Recording | None = None
    traced: _TraceTotals | None = None
    done = 0
    try:
        db.lock_recorder()
        traced = _TraceTotals(args, io)
        source = open_root(args.root)
        rec = _Recording(args, db, io)
        prune_every = max(1, int(60 / max(interval, 0.001)))
        sampler = Sampler(source, clock=clock, static_every_seconds=STATIC_EVERY_SECONDS)
        for tick in _ticks(sampler, interval, args.samples):
            if rec.writer is None:
                rec.writer = Writer(
                    db,
                    kind="record",
                    source=source.label,
                    state=tick.state,
                    interval_seconds=interval,
                    host=os.uname().nodename if source.is_live else None,
                )
            t_ms = int(time.time() * 1000)
            rec.writer.sample(t_ms, tick.state, tick.report.findings)
            interval_totals = traced.interval(t_ms)
            if interval_totals is not None:
                rec.writer.trace_interval(interval_totals)
            rec.poll(tick.state.uptime_seconds)
            sampler.static_every_seconds = 0 if rec.new_markers else STATIC_EVERY_SECONDS
            done += 1
            if done % prune_every == 1:
                rec.writer.prune(int((time.time() - retention) * 1000))
            if clock.stop:
                break
        if rec.writer is not None:  # a report still being read when the recording ends
            rec.poll(rec.last_uptime, final=True)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if rec is not None:
            rec.close()
        if traced is not None:
            traced.close()
        db.close()
    io.stderr.write(
        f"memstall record: {done} sample{'' if done == 1 else 's'} stored in {args.db}"
        + (" (stopped by a signal)\n" if clock.stop else "\n")
    )
    return 0


def run(args: argparse.Namespace, io: Any) -> int:
    if args.import_snapshot and args.import_log:
        raise UsageError("--import and --import-log: give one per run")
    if args.import_snapshot:
        io.stderr.write(import_snapshot(args.db, args.import_snapshot) + "\n")
        return 0
    if args.import_log:
        io.stderr.write(import_log(args.db, args.import_log) + "\n")
        return 0
    return record(args, io)


# --import and --import-log: a capture or a kernel log as a run of its own. A capture is placed
# at its MANIFEST `captured` time (later samples at their uptime offset); a log's reports at
# their wall-clock stamps (`dmesg -T`, syslog, journalctl); a report with only an uptime stamp
# (plain dmesg) has no wall time and is counted, not stored; the log's last Mem-Info becomes
# one sample, at its report's time.


def _ms(when: datetime.datetime) -> int:
    if when.tzinfo is None:  # dmesg -T and syslog print local time
        return int(time.mktime(when.timetuple()) * 1000 + when.microsecond // 1000)
    return int(when.timestamp() * 1000)


def import_snapshot(db_path: str, path: str) -> str:
    source = open_root(path)
    manifest = read_manifest(source) or {}
    captured = manifest.get("captured")
    if not isinstance(captured, str):
        raise UsageError(
            f"{path}: the capture records no time (MANIFEST captured), so it has no place on the timeline"
        )
    t0 = _ms(datetime.datetime.fromisoformat(captured.replace("Z", "+00:00")))
    states = [load_state(source, k if k else None) for k in range(max(1, sample_count(source)))]
    inputs, _how = inputs_from_root(path, 0)
    report = run_rules(inputs)
    db = Db(db_path, write=True)
    try:
        host = manifest.get("hostname")
        writer = Writer(
            db,
            kind="snapshot",
            source=path,
            state=states[0],
            interval_seconds=None,
            host=host if isinstance(host, str) else None,
            now_ms=t0,
        )
        up0 = states[0].uptime_seconds
        for k, state in enumerate(states):
            offset = 0.0 if up0 is None or state.uptime_seconds is None else state.uptime_seconds - up0
            last = k == len(states) - 1
            writer.sample(t0 + int(offset * 1000), state, report.findings if last else ())
    finally:
        db.close()
    return f"memstall record: imported {path}: {len(states)} sample{'' if len(states) == 1 else 's'}"


def import_log(db_path: str, path: str) -> str:
    inputs, how, _managed = inputs_from_log(path)
    year = datetime.date.today().year
    placed: list[tuple[int, AllocEvent]] = []
    for e in inputs.events:
        when = wall_time(e, year) if isinstance(e, AllocEvent) else None
        if when is not None and isinstance(e, AllocEvent):
            placed.append((_ms(when), e))
    db = Db(db_path, write=True)
    try:
        host = next((e.host for _, e in placed if e.host), None)
        writer = Writer(
            db,
            kind="log",
            source=path,
            state=inputs.state,
            interval_seconds=None,
            host=host,
            now_ms=placed[0][0] if placed else None,
        )
        writer.events(event_of(e, t, e.host, f"{path}:{e.line_no}") for t, e in placed)
        if placed and inputs.state.zoneinfo is not None:
            writer.sample(placed[-1][0], inputs.state, run_rules(inputs).findings)
    finally:
        db.close()
    unplaced = len(inputs.events) - len(placed)
    msg = f"memstall record: imported {path} ({how}): {len(placed)} reports on the timeline"
    if unplaced:
        msg += (
            f"; {unplaced} without a wall-clock time left out (plain dmesg prints uptime only: "
            "import `dmesg -T` or `journalctl -k` output)"
        )
    return msg


__all__ = ["import_log", "import_snapshot", "record", "register", "run", "tune_markers"]
