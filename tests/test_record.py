"""`memstall record` as a process: kill -9 at random points, SIGTERM, full and read-only
disks, tune markers recorded while a transaction applies and rolls back, imports."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from memstall.store import Db, read_history
from test_tune_roots import make_root

TWO_NODE = FIXTURES / "snapshots" / "x86_64-6.1-qemu-2node-fragmented"
ALL = (0, 2**62)


def _recorder(db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "memstall", "record", "--db", str(db), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _integrity(db: Path) -> list[tuple[str]]:
    c = sqlite3.connect(db)
    try:
        return list(c.execute("PRAGMA integrity_check"))
    finally:
        c.close()


def _samples(db: Path) -> int:
    c = sqlite3.connect(db, timeout=5)
    try:
        return int(c.execute("SELECT count(*) FROM samples").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        c.close()


def _wait_for(db: Path, n: int, proc: subprocess.Popen[str], limit_s: float = 30) -> None:
    give_up = time.monotonic() + limit_s
    while _samples(db) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < give_up, "the recorder stored nothing"
        time.sleep(0.02)


def test_kill_9_at_random_points_never_corrupts(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    rng = random.Random(11)
    for _ in range(20):
        before = _samples(db) if db.exists() else 0
        proc = _recorder(db, "--interval", "0", "--root", str(TWO_NODE))  # a capture: not opt-in live
        _wait_for(db, before + 1, proc)
        time.sleep(rng.uniform(0, 0.3))  # mid-sample, mid-commit, mid-prune: wherever it is
        proc.kill()
        proc.communicate()
        assert _integrity(db) == [("ok",)]
        h = read_history(Db(str(db), write=False), *ALL)
        assert h.skipped_rows == 0 and len(h.points) >= before + 1
    assert run_cli("report", "--db", str(db), "-o", str(tmp_path / "k.html")).code == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "s.db"
    proc = _recorder(db, "--interval", "0.2", "--root", str(TWO_NODE))
    _wait_for(db, 2, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert err.startswith("memstall record: ") and err.endswith(f"stored in {db} (stopped by a signal)\n")
    assert _integrity(db) == [("ok",)]
    assert int(err.split()[2]) == _samples(db)  # what it says it stored is what is there


def test_tune_apply_and_rollback_while_recording_become_markers(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    db = tmp_path / "t.db"
    proc = _recorder(db, "--interval", "0.1", "--samples", "40", "--root", str(root))
    _wait_for(db, 5, proc)
    r = run_cli("--root", str(root), "tune", "apply", "--set", "vm.watermark_scale_factor=200", "--yes")
    assert r.code == 0, r.err
    tx_id = r.out.split("applied transaction ")[1].split(":")[0]
    time.sleep(1.1)  # the transaction's stamps have one-second resolution
    assert run_cli("--root", str(root), "tune", "rollback", tx_id).code == 0
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    h = read_history(Db(str(db), write=False), *ALL)
    assert [(m.tx_id, m.action) for m in h.markers] == [(tx_id, "apply"), (tx_id, "rollback")]
    assert h.markers[0].changes == (("vm.watermark_scale_factor", "10", "200"),)
    # the recorder saw the sysctl change on the root too (only when it changed)
    assert [(n, v) for _, n, v in h.sysctls if n == "watermark_scale_factor"] == [
        ("watermark_scale_factor", "10"),
        ("watermark_scale_factor", "200"),
        ("watermark_scale_factor", "10"),
    ]
    out = tmp_path / "t.html"
    assert run_cli("report", "--db", str(db), "-o", str(out)).code == 0
    page = out.read_text()
    assert f"apply {tx_id} at " in page and f"rollback {tx_id} at " in page
    assert "vm.watermark_scale_factor 10 → 200" in page and "beyond noise" in page


def test_import_a_capture_and_logs_onto_one_timeline(tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    r = run_cli(
        "record", "--db", db, "--import", str(FIXTURES / "snapshots" / "x86_64-6.18-pagecache-reclaim")
    )
    assert (r.code, r.err) == (
        0,
        f"memstall record: imported {FIXTURES / 'snapshots' / 'x86_64-6.18-pagecache-reclaim'}: 3 samples\n",
    )
    log = FIXTURES / "kernlog" / "formats" / "journalctl-short-iso.txt"
    r = run_cli("record", "--db", db, "--import-log", str(log))
    assert r.code == 0 and ": 1 reports on the timeline" in r.err
    seed = FIXTURES / "kernlog" / "corpus" / "000-seed-cold-storage-4.9.log"
    r = run_cli("record", "--db", db, "--import-log", str(seed))
    assert r.code == 0 and "1 without a wall-clock time left out" in r.err
    h = read_history(Db(db, write=False), *ALL)
    assert sorted(run.kind for run in h.runs.values()) == ["log", "log", "snapshot"]
    assert len(h.events) == 1 and h.events[0].origin.startswith(str(log))
    assert len(h.points) == 3 + 1  # the capture's samples and the log's Mem-Info
    assert h.findings  # the capture's findings, at its last sample
    r = run_cli(
        "record", "--db", db, "--import", str(FIXTURES / "snapshots" / "x86_64-4.9-handmade-seed-2node-256g")
    )
    assert r.code == 2 and "the capture records no time" in r.err


def _mount_tmpfs(path: Path, opts: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], check=True, capture_output=True)


needs_mount = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0, reason="mounts a small tmpfs: Linux and root"
)


@needs_mount
def test_a_full_disk_is_one_line_and_a_clean_exit(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    _mount_tmpfs(mnt, "size=200k")
    try:
        proc = _recorder(mnt / "f.db", "--interval", "0", "--root", str(TWO_NODE))
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 3
        assert err.startswith(f"memstall: error: {mnt / 'f.db'}: database or disk is full\nhint: ")
        assert "Traceback" not in err
        assert _integrity(mnt / "f.db") == [("ok",)]
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@needs_mount
def test_a_read_only_database_is_one_line(tmp_path: Path) -> None:
    mnt = tmp_path / "ro"
    mnt.mkdir()
    _mount_tmpfs(mnt, "size=4m")
    try:
        assert (
            run_cli("record", "--db", str(mnt / "r.db"), "--samples", "1", "--root", str(TWO_NODE)).code == 0
        )
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        r = run_cli("record", "--db", str(mnt / "r.db"), "--samples", "1", "--root", str(TWO_NODE))
        assert r.code == 3 and r.err.startswith(f"memstall: error: {mnt / 'r.db'}: ")
        assert "read" in r.err.splitlines()[0] and "Traceback" not in r.err
        # the report still reads it
        assert run_cli("report", "--db", str(mnt / "r.db"), "-o", str(tmp_path / "r.html")).code == 0
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_kmsg_follower_reads_only_new_records_into_reports(tmp_path: Path) -> None:
    """The recorder's /dev/kmsg reader, on a file standing in for the device: what was there
    before it opened is skipped (older reports: --import-log), what is written later is scanned."""
    from memstall.cli.record import _Kmsg
    from memstall.store import event_of

    records = [
        line
        for line in (FIXTURES / "kernlog" / "formats" / "kmsg-records.txt").read_text().splitlines(True)
        if not line.startswith("#")
    ]
    dev = tmp_path / "kmsg"
    dev.write_text("".join(records))  # an older report: not for the recorder
    k = _Kmsg(str(dev))
    try:
        assert k.events() == []
        with dev.open("a") as f:
            f.write("".join(records))
        events = k.events(final=True)
    finally:
        k.close()
    assert [(e.kind, e.order, e.comm, e.stall_ms) for e in events] == [("stall", 1, "python", 15412)]
    e = event_of(events[0], 123, "h", "/dev/kmsg:1")  # type: ignore[arg-type]
    assert e.gfp == "0x26040c0(GFP_KERNEL|__GFP_COMP|__GFP_NOTRACK)" and e.stall_ms == 15412


@pytest.mark.live
def test_record_and_report_this_host(tmp_path: Path) -> None:
    """The issue's "done when" in small: record this host, then a page of it."""
    db = str(tmp_path / "live.db")
    r = run_cli(
        "record", "--db", db, "--samples", "3", "--interval", "0.2", "--state-dir", str(tmp_path / "st")
    )
    assert (r.code, r.err) == (0, f"memstall record: 3 samples stored in {db}\n")
    h = read_history(Db(db, write=False), *ALL)
    assert len(h.points) == 3 and any(k.startswith("b.0.") for k in h.points[0].values)
    assert run_cli("report", "--db", db, "-o", str(tmp_path / "live.html")).code == 0
    assert "3 samples" in (tmp_path / "live.html").read_text()
