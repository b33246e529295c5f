"""diagnose --root reads the kernel logs a root holds (issue 16): var/log/kern.log*, messages*,
syslog* (rotations and .gz too), a sosreport's journalctl_* and dmesg*; --log adds more.

Roots are built in tmp_path from a real snapshot fixture (x86_64-6.18-idle) plus real logs:
the seed report (corpus 000, a 4.9 stall) and OOMAnalyser's rhel7 OOM (../shared/peer-parity).
Expected counts are read off those logs: one stall report in the seed log, one OOM in rhel7.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, SHARED, run_cli
from memstall.pipeline import root_logs
from memstall.pipeline.root_logs import read_logs, root_log_paths
from memstall.sources import open_root

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
SEED_LOG = FIXTURES / "kernlog" / "corpus" / "000-seed-cold-storage-4.9.log"
RHEL7 = SHARED / "peer-parity" / "oomanalyser" / "rhel7.log"
HOTSOS = SHARED / "peer-parity" / "hotsos"


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root)
    return root


def _diagnose(root: Path, *options: str) -> Any:
    r = run_cli("--format", "json", "--root", str(root), "diagnose", "--fail-on", "never", *options)
    assert r.code == 0, r.err
    return json.loads(r.out)


def _log_findings(doc: Any) -> list[Any]:
    return [f for f in doc["findings"] if f["key"] == "LOG_ALLOC_STALLS"]


def test_a_root_without_logs_is_diagnosed_as_before() -> None:
    doc = _diagnose(IDLE)
    assert not _log_findings(doc)
    skipped = {s["key"]: s["reason"] for s in doc["skipped"]}
    assert skipped["LOG_ALLOC_STALLS"].startswith("no kernel log given")


def test_rotated_and_compressed_logs_are_read_oldest_first_and_said(tmp_path: Path) -> None:
    root = _root(tmp_path)
    log = root / "var" / "log"
    log.mkdir(parents=True)
    (log / "kern.log").write_text("nothing here\n")
    (log / "kern.log.1").write_bytes(RHEL7.read_bytes())
    with gzip.open(log / "kern.log.2.gz", "wb") as fh:
        fh.write(SEED_LOG.read_bytes())
    (log / "syslog").write_bytes(RHEL7.read_bytes())  # the same OOM, logged twice
    assert root_log_paths(open_root(str(root))) == [
        "var/log/kern.log.2.gz", "var/log/kern.log.1", "var/log/kern.log", "var/log/syslog"]
    doc = _diagnose(root)
    kinds = {f["evidence"]["kind"]: f["evidence"]["count"] for f in _log_findings(doc)}
    assert kinds == {"stall": 1, "oom": 1}  # the syslog copy of the OOM is counted once
    notes = doc["input_notes"]
    assert ("kernel logs read: var/log/kern.log.2.gz (1 report), var/log/kern.log.1 (1 report), "
            "var/log/kern.log (0 reports), var/log/syslog (0 reports)") in notes
    assert "1 report found in more than one log counted once" in notes


def test_unreadable_and_too_large_logs_are_skipped_and_said(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root = _root(tmp_path)
    log = root / "var" / "log"
    log.mkdir(parents=True)
    (log / "messages").write_bytes(RHEL7.read_bytes())
    (log / "syslog.1.gz").write_bytes(gzip.compress(SEED_LOG.read_bytes())[:200])  # cut short
    (log / "kern.log").symlink_to("/etc/passwd")  # outside the capture: never followed
    monkeypatch.setattr(root_logs, "MAX_ROOT_LOG_BYTES", RHEL7.stat().st_size - 1)
    found = read_logs(open_root(str(root)))
    assert found.read == ()
    reasons = dict(line.split(": ", 1) for line in found.skipped)
    assert reasons["var/log/kern.log"].endswith("not read")
    assert reasons["var/log/messages"].startswith("larger than")
    assert "give it with --log" in reasons["var/log/messages"]
    assert reasons["var/log/syslog.1.gz"].startswith("cannot be decompressed (gzip)")
    monkeypatch.undo()
    doc = _diagnose(root)  # the run goes on; the skips are said
    notes = "\n".join(doc["input_notes"])
    assert "kernel log skipped: var/log/syslog.1.gz: cannot be decompressed" in notes
    assert "kernel log skipped: var/log/kern.log:" in notes


def test_root_with_log_is_accepted_and_the_log_adds_its_reports(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "var" / "log").mkdir(parents=True)
    (root / "var" / "log" / "messages").write_bytes(RHEL7.read_bytes())
    doc = _diagnose(root, "--log", str(SEED_LOG))
    kinds = {f["evidence"]["kind"] for f in _log_findings(doc)}
    assert kinds == {"stall", "oom"}
    # the root's own state is diagnosed (its zones), not the log's Mem-Info
    assert not any("rebuilt from the Mem-Info" in n for n in doc["input_notes"])
    r = run_cli("--root", str(IDLE), "diagnose", "--log", str(SEED_LOG), "--fail-on", "never")
    assert r.code == 0 and "1 kernel log, 1 allocation report" in r.out.splitlines()[0]


def test_a_sosreport_tarball_streams_its_journal_and_dmesg(tmp_path: Path) -> None:
    sos = tmp_path / "sosreport-host-1"
    shutil.copytree(IDLE / "proc", sos / "proc")
    (sos / "sos_commands" / "logs").mkdir(parents=True)
    (sos / "sos_commands" / "kernel").mkdir(parents=True)
    (sos / "sos_commands" / "logs" / "journalctl_--no-pager").write_bytes(RHEL7.read_bytes())
    (sos / "sos_commands" / "kernel" / "dmesg").write_bytes(SEED_LOG.read_bytes())
    tar = tmp_path / "sos.tar.xz"
    with tarfile.open(tar, "w:xz") as t:
        t.add(sos, arcname=sos.name)
    source = open_root(str(tar))
    assert root_log_paths(source) == ["sos_commands/logs/journalctl_--no-pager", "sos_commands/kernel/dmesg"]
    doc = _diagnose(tar)
    assert {f["evidence"]["kind"] for f in _log_findings(doc)} == {"stall", "oom"}


def test_a_big_log_in_a_tarball_is_streamed_not_held(tmp_path: Path) -> None:
    """16 MiB of syslog (gzip inside a .tar.gz) read with a peak of a few MiB of Python memory."""
    root = tmp_path / "cap"
    shutil.copytree(IDLE, root)
    (root / "var" / "log").mkdir(parents=True)
    filler = b"Mar  1 00:00:00 h systemd[1]: Started session 42 of user nobody.\n" * 4096
    with gzip.open(root / "var" / "log" / "syslog.1.gz", "wb", compresslevel=1) as fh:
        for _ in range(64):
            fh.write(filler)
        fh.write(RHEL7.read_bytes())
    tar = tmp_path / "cap.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(root, arcname="cap")
    tracemalloc.start()
    try:
        found = read_logs(open_root(str(tar)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.kind for e in found.events] == ["oom"]
    assert peak < 8 << 20, peak


@pytest.mark.parametrize("case", ["scenario_kernlog_calltrace_oom_killer",
                                  "unit_TestKernelCallTraceManager_journal_file",
                                  "unit_TestKernelCallTraceManager_kern_log"])
def test_hotsos_roots_of_logs_only_are_diagnosed_from_their_logs(case: str) -> None:
    """hotsos's kernel-log cases: a root of logs only (no proc/). hotsos reports the OOM
    (`1 reports of oom-killer invoked`) and Normal free 20564 kB below low 20652 kB."""
    doc = _diagnose(HOTSOS / case / "root")
    (oom,) = _log_findings(doc)
    assert oom["evidence"]["kind"] == "oom" and oom["evidence"]["comms"] == "kworker/0:0"
    (normal,) = [f for f in doc["findings"] if f["key"] == "ZONE_BELOW_WATERMARK"]
    assert normal["evidence"]["free_pages"] * 4 == 20564 and normal["evidence"]["low_pages"] * 4 == 20652
    assert any("rebuilt from the Mem-Info" in n for n in doc["input_notes"])
