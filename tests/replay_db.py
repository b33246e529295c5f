"""A record database with known times for the `top --db` tests, written by the recorder's code.

What `memstall record` does per sample (a Sampler tick over a root, then `Writer.sample` with
its state and findings), on a copy of the seed capture whose vmstat counters and uptime the
builder advances between samples, at fixed wall times (the recorder uses time.time()):

    T0 + 0, 10, 20, 30, 40 s   five samples of run "seed-host"; allocstall_normal += 100,
                               pgscan_direct += 2000, compact_stall += 30 per 10 s
    T0 + 15 s                  an allocation stall report whose comm is hostile (an OSC 52
                               clipboard write, a right-to-left override)
    T0 + 32 s                  a tune marker (apply vm.min_free_kbytes)

An event belongs to the first sample at or after it: the stall to T0+20, the marker to T0+40.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from builders import StepClock
from conftest import FIXTURES
from memstall.pipeline import Sampler
from memstall.pipeline.kmsg_events import KmsgEvents
from memstall.sources import DirSource
from memstall.store import Db, Marker, Writer, event_of

SEED = FIXTURES / "snapshots" / "x86_64-4.9-handmade-seed-2node-256g"
KMSG_RECORDS = FIXTURES / "kernlog" / "formats" / "kmsg-records.txt"
T0_MS = 1796378400000
"""2026-12-04 10:00:00 UTC."""
STEP_MS = 10_000
SAMPLES = 5
EVENT_MS = T0_MS + 15_000
MARKER_MS = T0_MS + 32_000
HOSTILE_COMM = "py\x1b]52;c;aGk=\x07\u202ethon"
MARKER_TEXT = "apply vm.min_free_kbytes 90112 -> 180224 (tx 20261204-100032)"


def _stall_event() -> object:
    data = b"".join(line + b"\n" for line in KMSG_RECORDS.read_bytes().splitlines()
                    if not line.startswith(b"#"))
    feed = KmsgEvents(iter([data, b""]).__next__)
    feed.poll()
    (event,) = feed.poll()
    return replace(event, comm=HOSTILE_COMM)


def _advance(root: Path, k: int) -> None:
    vmstat = (SEED / "proc/vmstat").read_text()
    vmstat += (f"allocstall_normal {100 * k}\npgscan_direct {2000 * k}\npgscan_kswapd {5000 * k}\n"
               f"pgsteal_kswapd {4000 * k}\ncompact_stall {30 * k}\ncompact_fail {20 * k}\n"
               f"compact_success {10 * k}\npgalloc_normal {100000 * k}\n")
    (root / "proc/vmstat").write_text(vmstat)
    (root / "proc/uptime").write_text(f"{4395803.60 + 10 * k:.2f} 0.00\n")


def build(tmp_path: Path) -> Path:
    """The database (see the module docstring); returns its path."""
    root = tmp_path / "root"
    shutil.copytree(SEED, root, ignore=shutil.ignore_patterns("expected"))
    db_path = tmp_path / "memstall.db"
    db = Db(str(db_path), write=True)
    try:
        clock = StepClock()
        sampler = Sampler(DirSource(str(root)), clock=clock)
        writer: Writer | None = None
        for k in range(SAMPLES):
            _advance(root, k)
            tick = sampler.sample()
            if writer is None:
                writer = Writer(db, kind="record", source="seed-host", state=tick.state,
                                interval_seconds=STEP_MS / 1000, host="seed", now_ms=T0_MS)
            writer.sample(T0_MS + k * STEP_MS, tick.state, tick.report.findings)
            clock.now += STEP_MS / 1000
        assert writer is not None
        writer.events([event_of(_stall_event(), EVENT_MS, "seed", "/dev/kmsg:3")])  # type: ignore[arg-type]
        writer.markers([Marker(MARKER_MS, "20261204-100032", "apply", MARKER_TEXT,
                               (("vm.min_free_kbytes", "90112", "180224"),))])
    finally:
        db.close()
    return db_path
