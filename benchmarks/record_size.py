"""Bytes per recorded sample (issue 11: at most 25 MB per day at a 1 s interval on a
two-node host, that is 289 bytes per sample, everything included).

Replays the five real captures of one two-node QEMU guest under tests/fixtures/snapshots
(x86_64-6.1-qemu-2node-*: fresh, fragmented, compacted, anon-fragmented, anon-compacted)
through a Source that serves capture `tick mod 5` with proc/uptime advanced by one second a
tick, into `memstall record`'s own Sampler -> store.Writer path (no sleeping: the clock is
injected). Every sample differs from the one before in most of its values (the captures
are minutes of memory pressure apart), so this is a pessimistic case: a quiet host changes
far fewer values per second. Prints the database size per sample after a WAL checkpoint.

    python benchmarks/record_size.py                  # 10 000 samples
    python benchmarks/record_size.py --samples 2000 --json
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from memstall.errors import SourceUnavailable
from memstall.pipeline import Sampler
from memstall.sources import DirSource
from memstall.store import Db, Writer

SNAPSHOTS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "snapshots"
CAPTURES = ("fresh", "fragmented", "compacted", "anon-fragmented", "anon-compacted")
BUDGET_BYTES_PER_SAMPLE = 25_000_000 / 86_400


class ReplaySource:
    """Captures of one host served in turn, one per tick; proc/uptime says one second more each tick."""

    def __init__(self, dirs: list[Path]) -> None:
        self.sources = [DirSource(str(d)) for d in dirs]
        self.tick = 0
        self.cache: dict[tuple[int, str], str] = {}

    @property
    def label(self) -> str:
        return "replay of " + ", ".join(s.label for s in self.sources)

    @property
    def is_live(self) -> bool:
        return False

    def _now(self) -> DirSource:
        return self.sources[self.tick % len(self.sources)]

    def read_text(self, rel: str) -> str:
        if rel == "proc/uptime":
            return f"{1000 + self.tick:.2f} 0.00\n"
        key = (self.tick % len(self.sources), rel)
        if key not in self.cache:
            self.cache[key] = self._now().read_text(rel)
        return self.cache[key]

    def exists(self, rel: str) -> bool:
        return rel == "proc/uptime" or self._now().exists(rel)

    def readlink(self, rel: str) -> str | None:
        return self._now().readlink(rel)

    def list_dir(self, rel: str) -> list[str]:
        return self._now().list_dir(rel)

    def glob(self, pattern: str) -> list[str]:
        return self._now().glob(pattern)

    def notes(self) -> list[str]:
        return []


class NoSleep:
    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def measure(samples: int, db_path: str) -> dict[str, float]:
    dirs = [SNAPSHOTS / f"x86_64-6.1-qemu-2node-{c}" for c in CAPTURES]
    source = ReplaySource(dirs)
    db = Db(db_path, write=True)
    db.lock_recorder()
    writer = None
    t0 = time.perf_counter()
    start_ms = 1_800_000_000_000
    try:
        for n, tick in enumerate(Sampler(source, clock=NoSleep()).ticks(1.0, samples)):
            if writer is None:
                writer = Writer(
                    db, kind="record", source=source.label, state=tick.state, interval_seconds=1.0
                )
            writer.sample(start_ms + n * 1000, tick.state, tick.report.findings)
            source.tick += 1
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = db.conn.execute("SELECT sum(length(data)), count(*) FROM samples").fetchone()
    finally:
        db.close()
    seconds = time.perf_counter() - t0
    size = Path(db_path).stat().st_size
    return {
        "samples": samples,
        "db_bytes": size,
        "bytes_per_sample": size / samples,
        "row_data_bytes_per_sample": data[0] / data[1],
        "mb_per_day_at_1s": size / samples * 86_400 / 1e6,
        "budget_bytes_per_sample": BUDGET_BYTES_PER_SAMPLE,
        "seconds": seconds,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="memstall-record-size-") as tmp:
        try:
            r = measure(args.samples, str(Path(tmp) / "bench.db"))
        except (SourceUnavailable, sqlite3.Error) as err:
            print(f"record_size: {err}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(r, sort_keys=True))
    else:
        print(
            f"{r['samples']} samples of a two-node host: {r['bytes_per_sample']:.0f} bytes/sample "
            f"(row data {r['row_data_bytes_per_sample']:.0f}), {r['mb_per_day_at_1s']:.1f} MB/day at 1 s "
            f"(budget {BUDGET_BYTES_PER_SAMPLE:.0f} bytes/sample, 25 MB/day); {r['seconds']:.1f} s"
        )
    return 0 if r["bytes_per_sample"] <= BUDGET_BYTES_PER_SAMPLE else 1


if __name__ == "__main__":
    sys.exit(main())
