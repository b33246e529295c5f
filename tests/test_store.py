"""store/: round trips, the packed rows, migrations, retention, and every bad database."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES, run_cli
from memstall.collect import load_state
from memstall.model.sysctl import SysctlVm
from memstall.pipeline import Sampler
from memstall.sources import DirSource
from memstall.store import SCHEMA_VERSION, Db, Event, Marker, StoreError, Writer, read_history, state_of
from memstall.store.codec import CodecError, decode, encode, flatten
from memstall.store.schema import V1
from memstall.store.writer import KEYFRAME_EVERY

TWO_NODE = FIXTURES / "snapshots" / "x86_64-6.1-qemu-2node-fragmented"
T0 = 1_800_000_000_000
ALL = (0, 2**62)


def _writer(path: Path, state: object = None) -> tuple[Db, Writer]:
    db = Db(str(path), write=True)
    base = load_state(DirSource(str(TWO_NODE))) if state is None else state
    return db, Writer(db, kind="record", source="test", state=base, interval_seconds=1.0)  # type: ignore[arg-type]


def test_sampler_ticks_round_trip_through_the_database(tmp_path: Path) -> None:
    db, w = _writer(tmp_path / "r.db")
    ticks = list(Sampler(DirSource(str(TWO_NODE))).ticks(0, 3))
    for n, tick in enumerate(ticks):
        w.sample(T0 + n * 1000, tick.state, tick.report.findings)
    db.close()
    h = read_history(Db(str(tmp_path / "r.db"), write=False), *ALL)
    assert [p.t_ms for p in h.points] == [T0, T0 + 1000, T0 + 2000]
    for p, tick in zip(h.points, ticks):
        assert dict(p.values) == flatten(tick.state)
        back = state_of(p, h.runs[p.run])
        assert flatten(back) == flatten(tick.state)  # the rebuilt state holds every recorded value
        assert back.buddyinfo == tick.state.buddyinfo
    # one row per finding over the three samples, first and last time
    keys = {(f.key, f.subject, f.severity.name) for f in ticks[-1].report.findings}
    assert {(f.key, f.subject, f.severity) for f in h.findings} == keys
    assert all((f.first_ms, f.last_ms) == (T0, T0 + 2000) for f in h.findings)
    # the sysctls once (they did not change), not per sample
    assert len(h.sysctls) == len(ticks[0].state.sysctl_vm.values)  # type: ignore[union-attr]


def test_sysctls_are_stored_only_when_they_change(tmp_path: Path) -> None:
    state = load_state(DirSource(str(TWO_NODE)))
    assert state.sysctl_vm is not None
    changed = replace(state, sysctl_vm=SysctlVm({**state.sysctl_vm.values, "watermark_scale_factor": "200"}))
    db, w = _writer(tmp_path / "r.db", state)
    for n, s in enumerate((state, state, changed, changed)):
        w.sample(T0 + n, s)
    # a second run does not store the values again
    Writer(db, kind="record", source="again", state=changed, interval_seconds=1).sample(T0 + 10, changed)
    h = read_history(db, *ALL)
    later = [(t, n, v) for t, n, v in h.sysctls if t > T0]
    assert later == [(T0 + 2, "watermark_scale_factor", "200")]


def test_delta_rows_keyframes_and_a_layout_change(tmp_path: Path) -> None:
    state = load_state(DirSource(str(TWO_NODE)))
    db, w = _writer(tmp_path / "r.db", state)
    n = KEYFRAME_EVERY + 15  # keyframes at 0, 7, 8 and 8 + 1 + KEYFRAME_EVERY
    for k in range(n):
        s = replace(state, uptime_seconds=1000.0 + k)
        if k == 7:  # a state without PSI: another set of values
            s = replace(s, psi_memory=None)
        w.sample(T0 + k * 1000, s)
    kf = [r[0] for r in db.conn.execute("SELECT kf FROM samples ORDER BY t_ms")]
    assert kf[0] == 1 and kf[7] == 1 and kf[8] == 1 and kf[1:7] == [0] * 6
    assert sum(kf) == 4  # first, the layout change and back, and one after KEYFRAME_EVERY deltas
    # reading a middle range starts decoding at the keyframe before it
    h = read_history(db, T0 + 100_000, T0 + 102_000)
    assert [p.values["u.uptime_ms"] for p in h.points] == [1_100_000, 1_101_000, 1_102_000]


@given(st.lists(st.integers(-(2**62), 2**62), max_size=200), st.data())
def test_codec_round_trip(values: list[int], data: st.DataObject) -> None:
    assert decode(encode(values, None), len(values), None) == values
    prev = data.draw(st.lists(st.integers(-(2**61), 2**61), min_size=len(values), max_size=len(values)))
    assert decode(encode(values, prev), len(values), prev) == values


@given(st.binary(max_size=64), st.integers(0, 40))
def test_codec_damaged_rows_raise_codec_error_only(data: bytes, count: int) -> None:
    with contextlib.suppress(CodecError):  # any other exception fails the test
        decode(data, count, [0] * count)


def test_migration_from_schema_1_keeps_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    c = sqlite3.connect(path)
    c.executescript(V1 + "PRAGMA user_version=1;")
    c.execute("INSERT INTO runs VALUES (1, ?, 'record', '/', 'h', '6.1', 4096, 100, 10)", (T0,))
    c.execute("INSERT INTO layouts VALUES (1, ?)", (json.dumps(["u.uptime_ms", "b.0.Normal.0"]),))
    c.execute("INSERT INTO samples VALUES (?, 1, 1, 1, ?)", (T0, encode([5000, 42], None)))
    c.commit()
    c.close()
    db = Db(str(path), write=True)
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    w = Writer(db, kind="record", source="/", state=None, interval_seconds=1)
    w.events([Event(T0 + 1, "stall", 3, "0x24200ca", "java", 4000, "h", "/dev/kmsg:1")])
    w.markers([Marker(T0 + 2, "tx1", "apply", "applied", (("vm.watermark_scale_factor", "10", "200"),))])
    h = read_history(db, *ALL)
    assert [dict(p.values) for p in h.points] == [{"u.uptime_ms": 5000, "b.0.Normal.0": 42}]
    assert h.events[0].comm == "java" and h.markers[0].changes == (
        ("vm.watermark_scale_factor", "10", "200"),
    )


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    sqlite3.connect(path).execute("PRAGMA user_version=99").connection.close()
    for write in (True, False):
        with pytest.raises(
            StoreError, match=r"new\.db: written by a newer memstall \(schema 99; this one knows up to 3\)"
        ):
            Db(str(path), write=write)


def test_retention_prunes_in_batches_and_keeps_what_later_rows_need(tmp_path: Path) -> None:
    state = load_state(DirSource(str(TWO_NODE)))
    db, w = _writer(tmp_path / "r.db", state)
    for k in range(700):
        w.sample(T0 + k * 1000, replace(state, uptime_seconds=1000.0 + k))
    w.events(
        [
            Event(T0, "stall", 3, None, "old", None, None, "x"),
            Event(T0 + 650_000, "oom", 0, None, "new", None, None, "y"),
        ]
    )
    cutoff = T0 + 650_000
    assert w.prune(cutoff) > 0
    while w.prune(cutoff):
        pass
    first = db.conn.execute("SELECT min(t_ms) FROM samples").fetchone()[0]
    keyframes = [t for (t,) in db.conn.execute("SELECT t_ms FROM samples WHERE kf = 1")]
    assert first == max(k for k in keyframes if k <= cutoff) <= cutoff  # the keyframe the rows after need
    h = read_history(db, *ALL)
    assert h.skipped_rows == 0 and h.points[-1].values["u.uptime_ms"] == 1_699_000
    assert [e.comm for e in h.events] == ["new"]


def _cli_error(*argv: str) -> str:
    r = run_cli(*argv)
    assert r.code == 3, (r.code, r.err)
    assert r.err.startswith("memstall: error: ") and "Traceback" not in r.err
    return r.err.splitlines()[0]


def test_bad_databases_are_one_line_each(tmp_path: Path) -> None:
    out = str(tmp_path / "r.html")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    assert "garbage.db: file is not a database" in _cli_error("report", "--db", str(garbage), "-o", out)
    assert "file is not a database" in _cli_error(
        "record", "--db", str(garbage), "--samples", "1", "--root", str(TWO_NODE)
    )
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert "empty.db: not a memstall database (no schema)" in _cli_error(
        "report", "--db", str(empty), "-o", out
    )
    assert "missing.db: no such database" in _cli_error(
        "report", "--db", str(tmp_path / "missing.db"), "-o", out
    )
    fresh = tmp_path / "fresh.db"
    Db(str(fresh), write=True).close()
    assert "fresh.db: holds no samples yet" in _cli_error("report", "--db", str(fresh), "-o", out)
    assert (
        run_cli(
            "record", "--db", str(fresh), "--samples", "2", "--interval", "0", "--root", str(TWO_NODE)
        ).code
        == 0
    )
    err = _cli_error("report", "--db", str(fresh), "--from", "2001-01-01", "--to", "2001-01-02", "-o", out)
    assert "fresh.db: no samples between the times given" in err
    assert not Path(out).exists()


def test_a_locked_database_and_a_second_recorder(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    holder = Db(str(path), write=True)
    holder.lock_recorder()
    try:
        err = _cli_error("record", "--db", str(path), "--samples", "1", "--root", str(TWO_NODE))
        assert err == f"memstall: error: {path}: another memstall record is writing to it"
    finally:
        holder.close()
    other = sqlite3.connect(path, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        err = _cli_error("record", "--db", str(path), "--samples", "1", "--root", str(TWO_NODE))
        assert err == f"memstall: error: {path}: database is locked"
    finally:
        other.rollback()
        other.close()


def test_newer_schema_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    sqlite3.connect(path).execute("PRAGMA user_version=7").connection.close()
    err = _cli_error("record", "--db", str(path), "--samples", "1", "--root", str(TWO_NODE))
    assert "written by a newer memstall (schema 7" in err


def test_a_long_range_keeps_every_kth_sample_and_says_so(tmp_path: Path) -> None:
    state = load_state(DirSource(str(TWO_NODE)))
    db, w = _writer(tmp_path / "r.db", state)
    for k in range(100):
        w.sample(T0 + k * 1000, replace(state, uptime_seconds=1000.0 + k))
    h = read_history(db, *ALL, max_points=30)
    assert [p.values["u.uptime_ms"] for p in h.points] == [1_000_000 + k * 1000 for k in range(0, 100, 4)]
    assert h.notes == (
        "100 samples in this period: every 4th is shown (rates are averages over 4 samples; "
        "a shorter --from/--to shows each one)",
    )
    assert len(read_history(db, *ALL).points) == 100 and read_history(db, *ALL).notes == ()
