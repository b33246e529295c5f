"""`record --trace`: per-interval stall totals in the record DB (schema 3).

Store: the v2 -> v3 migration keeps a v2 database's rows and adds the trace tables; an
interval written comes back; retention prunes it. Live (root, live_write): a reader in a
small memory cgroup while `record --trace` samples; its memcg reclaims are in the intervals,
and the tracefs instance is gone afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import test_trace_live as live
from memstall.outputs.report.history import _traced
from memstall.store import Db, TraceInterval, Writer, read_trace
from memstall.store.schema import V1, V2

T0 = 1_800_000_000_000
memcg, big_file = live.memcg, live.big_file  # the live fixtures


def test_migration_from_schema_2_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    c = sqlite3.connect(path)
    c.executescript(V1 + V2 + "PRAGMA user_version=2;")
    c.execute("INSERT INTO runs VALUES (1, ?, 'record', '/', 'h', '6.1', 4096, 100, 10)", (T0,))
    c.execute("INSERT INTO events (t_ms, run, kind, origin) VALUES (?, 1, 'stall', 'x:1')", (T0,))
    c.commit()
    c.close()
    db = Db(str(path), write=True)
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == 3
    assert db.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1  # kept
    w = Writer(db, kind="record", source="/", state=None, interval_seconds=1)
    first = TraceInterval(T0 + 1000, 1000, "hist", 12, 0, {"direct_reclaim": (3, 0.012)})
    second = TraceInterval(T0 + 2000, 1000, "hist", 0, 5, {"direct_reclaim": (0, 0.0),
                                                           "memcg_reclaim": (7, 0.5)})
    w.trace_interval(first)
    w.trace_interval(second)
    assert read_trace(db, 0, 2**62) == [first, second]
    assert read_trace(db, T0 + 1500, 2**62) == [second]
    db.close()


@pytest.mark.live_write
def test_live_record_trace(memcg: tuple[Path, str], big_file: Path, tmp_path: Path) -> None:
    group, _ = memcg
    db_path = tmp_path / "r.db"
    rec = subprocess.Popen([sys.executable, "-m", "memstall", "record", "--db", str(db_path),
                            "--interval", "1s", "--samples", "4", "--trace"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader = None
    try:
        instance = live._instance(rec.pid)
        deadline = time.monotonic() + 30
        while not instance.exists():
            assert rec.poll() is None and time.monotonic() < deadline, rec.communicate()
            time.sleep(0.05)

        def enter() -> None:
            (group / "cgroup.procs").write_text(str(os.getpid()))
        reader = subprocess.Popen(["tail", "-c", "+1", "-f", str(big_file)], stdout=subprocess.DEVNULL,
                                  preexec_fn=enter)  # noqa: PLW1509 (no threads in this test)
        live._wait_read(reader.pid, big_file.stat().st_size)
        _, err = rec.communicate(timeout=60)
        assert rec.returncode == 0, err
        assert not instance.exists()
    finally:
        for proc in (rec, reader):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    db = Db(str(db_path), write=False)
    intervals = read_trace(db, 0, 2**62)
    db.close()
    assert len(intervals) == 4 and all(i.method in ("hist", "pipe") for i in intervals)
    memcg_stalls = sum(i.by_kind.get("memcg_reclaim", (0, 0.0))[0] for i in intervals)
    memcg_seconds = sum(i.by_kind.get("memcg_reclaim", (0, 0.0))[1] for i in intervals)
    assert memcg_stalls > 0 and memcg_seconds > 0
    assert sum(i.interval_ms for i in intervals[1:]) == pytest.approx(3000, abs=600)
    html = tmp_path / "r.html"
    done = subprocess.run([sys.executable, "-m", "memstall", "report", "--db", str(db_path), "-o", str(html)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    section = html.read_text().split("<h2>Traced stalls (record --trace)</h2>")[1].split("<h2>")[0]
    assert f"<td>memcg_reclaim</td><td class=\"n\">{memcg_stalls}</td>" in section


def test_report_section() -> None:
    trace = [TraceInterval(T0 + 1000, 1000, "pipe", 4, 0, {"memcg_reclaim": (2, 0.25)}),
             TraceInterval(T0 + 2000, 1000, "pipe", 0, 1, {"memcg_reclaim": (0, 0.0)})]
    html = _traced(trace)
    assert "2 s traced in 2 intervals, 1 events lost." in html
    assert html.count("<td>memcg_reclaim</td>") == 2  # the period's total and the one busy interval
    assert "<td class=\"n\">250.0</td><td class=\"n\">0.125</td>" in html
    assert _traced([]) == ""
    assert "No direct reclaim" in _traced([TraceInterval(T0, 1000, "hist", 0, 0, {})])
