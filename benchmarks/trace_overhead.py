"""Benchmark the `memstall trace` pipe path (issue 12): events/s and tracer CPU per 10k events.

Offline (any machine): a storm file of `--events` memcg reclaim begin/end lines, built from the
real 6.18 capture in tests/fixtures/trace (timestamps advanced, 64 pids), is parsed and paired
in-process on one core: events/s and CPU ms per 10k events (time.process_time, after the file
is read into memory). Then `memstall trace --input` on it as a whole command (wait4 CPU).

Live (root, tracefs, a memory cgroup): a reader in a 16 MiB memory cgroup reads a 512 MiB file
(evicted with fadvise before each run) while one tracer drains an instance of its own with the
two memcg reclaim events enabled. Tracers, one per run, in the same benchmark run:

* `memstall trace` (the pipe path: trace_pipe, parse, pair, cgroup lookups, report);
* `cat trace_pipe > /dev/null` (the peer: the kernel's text formatting and the read, no parse);
* `cat per_cpu/cpuN/trace_pipe_raw > /dev/null`, one per CPU (binary pages, no formatting).

CPU is the tracer's own: user+sys from wait4() for memstall, /proc/PID/schedstat run time just
before the kill for the cats; events are the instance's `read events`
(per-CPU stats) for the cats and memstall's own count for memstall. bcc (drsnoop) is not
installed here (it needs a BPF toolchain and kernel headers), so the peer is `cat`.

    python benchmarks/trace_overhead.py                 # offline + live when root
    python benchmarks/trace_overhead.py --offline-only --events 500000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from memstall.analysis.stall_trace import StallTracker  # noqa: E402
from memstall.model.trace import TraceEvent  # noqa: E402
from memstall.parsers.trace_pipe import parse_trace_line  # noqa: E402

CAPTURE = ROOT / "tests" / "fixtures" / "trace" / "x86_64-6.18-memcg-reclaim.txt"
LINE = re.compile(r"^(\s*)cat-28124(\s+\[\d+\] \S+\s+)(\d+)\.(\d+)(: .*)$")


def build_storm(path: Path, events: int) -> None:
    """`events` lines: the capture's begin/end pairs, repeated with advancing times, 64 pids."""
    pairs = [m.groups() for m in map(LINE.match, CAPTURE.read_text().splitlines()) if m]
    base = int(pairs[0][2]) * 1_000_000 + int(pairs[0][3])
    span = int(pairs[-1][2]) * 1_000_000 + int(pairs[-1][3]) - base + 1000
    with open(path, "w") as fh:
        for i in range(events):
            lead, mid, sec, usec, tail = pairs[i % len(pairs)]
            rnd = i // len(pairs)
            ts = int(sec) * 1_000_000 + int(usec) + rnd * span
            pid = 28124 + (rnd % 64)
            fh.write(f"{lead}cat-{pid}{mid}{ts // 1_000_000}.{ts % 1_000_000:06d}{tail}\n")


def offline(events: int, workdir: Path) -> dict[str, float]:
    storm = workdir / "storm.txt"
    build_storm(storm, events)
    lines = storm.read_text().splitlines()
    tracker = StallTracker()
    start = time.process_time()
    for line in lines:
        record = parse_trace_line(line)
        if isinstance(record, TraceEvent):
            tracker.feed(record)
    tracker.finish()
    cpu = time.process_time() - start
    cmd_cpu = _wait4_cpu([sys.executable, "-m", "memstall", "trace", "--input", str(storm)])
    return {"events": float(len(lines)), "events_per_second": len(lines) / cpu,
            "cpu_ms_per_10k": cpu / len(lines) * 1e7, "command_cpu_seconds": cmd_cpu}


def _wait4_cpu(argv: list[str]) -> float:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=_env())
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


PASSES = 4


def _workload(group: Path, big: Path) -> None:
    def enter() -> None:
        (group / "cgroup.procs").write_text(str(os.getpid()))
    for _ in range(PASSES):
        _evict(big)
        subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True, preexec_fn=enter)


def _cpu_seconds(pid: int) -> float:
    """CPU time of a live task (ns precision) from the first field of /proc/PID/schedstat."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def _stop(procs: list[subprocess.Popen[bytes]], how: int = signal.SIGTERM) -> float:
    """Stop the tracers; their CPU. SIGTERM: wait4() rusage (memstall's report included);
    SIGKILL (the cats): schedstat read just before the kill."""
    cpu = 0.0
    for proc in procs:
        if how == signal.SIGKILL:
            cpu += _cpu_seconds(proc.pid)
            proc.kill()
            proc.wait()
            continue
        proc.send_signal(how)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
    return cpu


def _read_events(instance: Path) -> int:
    from memstall.parsers.trace_stats import parse_trace_stats
    from memstall.sources.tracefs import read_cpu_stats
    return sum(parse_trace_stats(t).read_events or 0 for t in read_cpu_stats(instance).values())


def _cat_run(tracefs: Path, group: Path, big: Path, raw: bool) -> tuple[float, int]:
    from memstall.sources.tracefs_control import create_instance, remove_instance
    events = (("vmscan", "mm_vmscan_memcg_reclaim_begin"), ("vmscan", "mm_vmscan_memcg_reclaim_end"))
    inst = create_instance(tracefs, events, 4096, pid=os.getpid())
    try:
        pipes = ([inst.path / "per_cpu" / f"cpu{c}" / "trace_pipe_raw" for c in range(os.cpu_count() or 1)]
                 if raw else [inst.path / "trace_pipe"])
        procs = [subprocess.Popen(["cat", str(p)], stdout=subprocess.DEVNULL) for p in pipes]
        try:
            time.sleep(0.3)
            _workload(group, big)
            time.sleep(0.5)  # let the readers drain
            cpu = _stop(procs, signal.SIGKILL)
        finally:
            for proc in procs:  # a reader left open would make the rmdir below fail (EBUSY)
                if proc.returncode is None and proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return cpu, _read_events(inst.path)
    finally:
        remove_instance(inst.path)


def _memstall_run(group: Path | None, big: Path, workdir: Path, idle_seconds: float = 0) -> tuple[float, int]:
    """memstall under the workload, or (group None) idle for `idle_seconds`: its baseline of
    interpreter start, instance set-up, 5 polls a second and the report."""
    out = workdir / "memstall.json"
    with open(out, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "memstall", "trace", "--format", "json"],
                                stdout=fh, env=_env())
        time.sleep(1.0)  # interpreter start and instance set-up
        if group is None:
            time.sleep(idle_seconds)
        else:
            _workload(group, big)
        time.sleep(0.5)
        cpu = _stop([proc])
    return cpu, int(json.loads(out.read_text())["events"]["read"])


def live(workdir: Path, file_mib: int) -> dict[str, tuple[float, int]]:
    from memstall.sources.tracefs_control import ensure_tracefs
    tracefs, _ = ensure_tracefs()
    v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    parent = Path("/sys/fs/cgroup") if v2 else Path("/sys/fs/cgroup/memory")
    group = parent / f"memstall-bench-{os.getpid()}"
    big = workdir / "big.bin"
    with open(big, "wb") as fh:
        block = os.urandom(1 << 20)
        for _ in range(file_mib):
            fh.write(block)
        os.fsync(fh.fileno())
    group.mkdir()
    try:
        (group / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(str(16 << 20))
        start = time.monotonic()
        busy = _memstall_run(group, big, workdir)
        idle_cpu, idle_events = _memstall_run(None, big, workdir, time.monotonic() - start - 1.5)
        return {"memstall trace": busy,
                "memstall trace minus idle run": (busy[0] - idle_cpu, busy[1] - idle_events),
                "cat trace_pipe": _cat_run(tracefs, group, big, raw=False),
                "cat trace_pipe_raw (per CPU)": _cat_run(tracefs, group, big, raw=True)}
    finally:
        time.sleep(0.2)
        group.rmdir()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--file-mib", type=int, default=512)
    ap.add_argument("--offline-only", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="memstall-trace-bench-") as tmp:
        work = Path(tmp)
        off = offline(args.events, work)
        print(f"offline parse+pair, one core: {off['events']:.0f} events, "
              f"{off['events_per_second']:,.0f} events/s, {off['cpu_ms_per_10k']:.1f} ms CPU per 10k events; "
              f"`memstall trace --input` whole command {off['command_cpu_seconds']:.2f} s CPU")
        if args.offline_only or os.geteuid() != 0:
            return 0
        results = live(work, args.file_mib)
        peer_cpu, peer_events = results["cat trace_pipe"]
        peer_per_10k = peer_cpu / max(peer_events, 1) * 1e4
        for name, (cpu, events) in results.items():
            per_10k = cpu / max(events, 1) * 1e4
            print(f"live {name:<30} {events:>8} events  {cpu:6.3f} s CPU  {per_10k * 1000:8.1f} ms per 10k"
                  f"  ({per_10k / peer_per_10k if peer_per_10k else float('nan'):.1f}x cat trace_pipe)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
