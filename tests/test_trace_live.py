"""Live, this kernel (root): `memstall trace` sees memcg reclaim of a process in a small memory
cgroup, names it and its cgroup, counts lost events, and never leaves its tracefs instance
behind (SIGTERM, and a SIGKILLed run cleaned by the next one).

These tests change tracefs state (an instance of their own) and create a memory cgroup; both
are removed in `finally`. The file read is evicted with fadvise(DONTNEED) (that file only;
no global drop_caches).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.live_write  # creates tracefs instances and a memory cgroup, mounts tracefs

TRACEFS = Path("/sys/kernel/tracing")
CGROUP_ROOT = Path("/sys/fs/cgroup")
FILE_MIB = 256
LIMIT_MIB = 16


def _memstall(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "memstall", "trace", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _instance(pid: int) -> Path:
    return TRACEFS / "instances" / f"memstall-{pid}"


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not (path / "trace_pipe").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    time.sleep(0.3)  # events are enabled right after mkdir


@pytest.fixture
def memcg() -> Iterator[tuple[Path, str]]:
    """A memory cgroup limited to LIMIT_MIB: (directory, path as /proc/PID/cgroup shows it)."""
    v2 = (CGROUP_ROOT / "cgroup.controllers").exists()
    parent = CGROUP_ROOT if v2 else CGROUP_ROOT / "memory"
    if not v2 and not parent.is_dir():
        pytest.skip("no memory cgroup controller mounted")
    group = parent / f"memstall-test-{os.getpid()}"
    group.mkdir()
    try:
        limit = "memory.max" if v2 else "memory.limit_in_bytes"
        (group / limit).write_text(str(LIMIT_MIB << 20))
        yield group, "/" + group.name
    finally:
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)  # the reader may still be exiting


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for _ in range(FILE_MIB):
            fh.write(block)
        fh.flush()
        os.fsync(fh.fileno())
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return path


def _wait_read(pid: int, size: int, timeout: float = 60) -> None:
    """Until task `pid` has read `size` bytes (rchar of /proc/PID/io)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
        if int(io["rchar"]) >= size:
            return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} did not read {size} bytes in {timeout} s")


def _read_in_cgroup(group: Path, path: Path) -> None:
    def enter() -> None:
        (group / "cgroup.procs").write_text(str(os.getpid()))
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True, preexec_fn=enter)


def test_memcg_reclaim_is_traced_and_the_instance_removed(memcg: tuple[Path, str], big_file: Path) -> None:
    group, cgroup_path = memcg

    def enter() -> None:
        (group / "cgroup.procs").write_text(str(os.getpid()))
    tracer = _memstall("--format", "json")
    # `tail -f` reads the whole file, then stays alive: memstall reads /proc/PID/cgroup when it
    # first sees the task, and a loaded machine can read a short-lived task's events too late.
    reader = None
    try:
        _wait_for(_instance(tracer.pid), tracer)
        reader = subprocess.Popen(["tail", "-c", "+1", "-f", str(big_file)], stdout=subprocess.DEVNULL,
                                  preexec_fn=enter)  # noqa: PLW1509 (no threads in this test)
        _wait_read(reader.pid, big_file.stat().st_size)
        time.sleep(1.0)
        tracer.send_signal(signal.SIGTERM)
        out, err = tracer.communicate(timeout=30)
    finally:
        for proc in (tracer, reader):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert tracer.returncode == 0, err
    doc = json.loads(out)
    assert doc["interrupted"] is True and doc["events"]["read"] > 0
    memcg_hists = [h for h in doc["histograms"] if h["kind"] == "memcg_reclaim"]
    assert memcg_hists and all(h["total_seconds"] > 0 for h in memcg_hists)
    cat = [p for p in doc["processes"] if p["comm"] == "tail" and p["cgroup"] == cgroup_path]
    assert cat and cat[0]["stall_seconds"] > 0 and 0 < cat[0]["wall_share_ratio"] < 1
    assert any(g["cgroup"] == cgroup_path for g in doc["cgroups"])
    assert not _instance(tracer.pid).exists()


def test_lost_events_are_counted(memcg: tuple[Path, str], big_file: Path) -> None:
    group, _ = memcg
    tracer = _memstall("--format", "json", "--buffer-kb", "4", "--duration", "60")
    try:
        _wait_for(_instance(tracer.pid), tracer)
        tracer.send_signal(signal.SIGSTOP)  # the reader stalls; a 4 KiB buffer overflows
        _read_in_cgroup(group, big_file)
        tracer.send_signal(signal.SIGCONT)
        time.sleep(0.3)
        tracer.send_signal(signal.SIGTERM)
        out, err = tracer.communicate(timeout=30)
    finally:
        if tracer.poll() is None:
            tracer.kill()
    assert tracer.returncode == 0, err
    doc = json.loads(out)
    assert doc["events"]["lost"] > 0 and sum(doc["events"]["lost_by_cpu"].values()) == doc["events"]["lost"]
    assert not _instance(tracer.pid).exists()


def test_a_sigkilled_run_is_cleaned_by_the_next() -> None:
    killed = _memstall("--duration", "60")
    _wait_for(_instance(killed.pid), killed)
    killed.kill()
    killed.communicate()
    assert _instance(killed.pid).is_dir()  # SIGKILL leaves it
    after = _memstall("--duration", "0.3")
    out, err = after.communicate(timeout=30)
    assert after.returncode == 0, err
    assert f"removed leftover instance memstall-{killed.pid} of a dead memstall run" in out
    assert not _instance(killed.pid).exists() and not _instance(after.pid).exists()


def test_without_root_one_line() -> None:
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-m", "memstall", "trace", "--duration", "1"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 3 and done.stdout == ""
    first, hint = done.stderr.splitlines()
    assert first.startswith("memstall: error: ") and "root" in first and hint.startswith("hint: ")


def test_method_on_a_kernel_without_hist_triggers() -> None:
    """This VM's kernel has no CONFIG_HIST_TRIGGERS: auto falls back to the pipe and says why,
    --method hist is one line naming what is missing (on a hist kernel: the QEMU test)."""
    if (TRACEFS / "synthetic_events").exists():
        pytest.skip("this kernel has synthetic events: the hist path runs (tests/test_trace_hist_guest.py)")
    auto = _memstall("--duration", "0.3", "--format", "json")
    out, err = auto.communicate(timeout=30)
    assert auto.returncode == 0, err
    doc = json.loads(out)
    assert doc["method"] == "pipe" and doc["in_kernel"] is None
    assert "CONFIG_SYNTH_EVENTS" in doc["fallback_reason"]
    hist = _memstall("--duration", "0.3", "--method", "hist")
    out, err = hist.communicate(timeout=30)
    assert hist.returncode == 3 and out == ""
    first, hint = err.splitlines()
    assert "--method hist: no synthetic_events" in first and hint.startswith("hint: use --method pipe")
    assert not _instance(hist.pid).exists() and not _instance(auto.pid).exists()
