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
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from memstall.cli.record_import import import_log, import_snapshot
from memstall.errors import MemstallError, UsageError
from memstall.model.kernlog import AllocEvent
from memstall.parsers.kernlog import LogScanner
from memstall.pipeline import Sampler
from memstall.sources import open_root
from memstall.sources.kernlog import KmsgStream
from memstall.store import Db, Marker, Writer, event_of
from memstall.tune.store import Store

DEFAULT_STATE = "var/lib/memstall"
STATIC_EVERY_SECONDS = 10.0
"""Sysctls and THP settings are re-read this often (and at once after a tune step)."""
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "": 1.0}
_ACTIONS = (("applied", "apply"), ("confirmed", "confirm"), ("rolled back", "rollback"), ("failed", "failed"))


def parse_duration(text: str, flag: str) -> float:
    """'10s', '500ms', '5m', '14d', '2.5' (seconds) -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*(ms|s|m|h|d|)\s*", text)
    if not m:
        raise UsageError(f"{flag} {text!r}: expected a duration such as 10s, 500ms, 5m, 14d")
    return float(m.group(1)) * _UNITS[m.group(2)]


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
        changes = tuple((c.key.replace("/", "."), c.before_text.strip(), c.after) for c in tx.changes)
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

    def events(self) -> list[AllocEvent]:
        return [i for i in self.scanner.feed_block(self.stream.read()) if isinstance(i, AllocEvent)]

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
        self.new_markers = False
        """A tune step was just seen: re-read the sysctls at the next sample, not in a minute."""

    def poll(self, uptime_seconds: float | None) -> None:
        assert self.writer is not None
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
                for e in self.kmsg.events()
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
    done = 0
    try:
        db.lock_recorder()
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
            rec.writer.sample(int(time.time() * 1000), tick.state, tick.report.findings)
            rec.poll(tick.state.uptime_seconds)
            sampler.static_every_seconds = 0 if rec.new_markers else STATIC_EVERY_SECONDS
            done += 1
            if done % prune_every == 1:
                rec.writer.prune(int((time.time() - retention) * 1000))
            if clock.stop:
                break
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if rec is not None:
            rec.close()
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


__all__ = ["parse_duration", "record", "register", "run", "tune_markers"]
