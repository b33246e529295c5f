"""Read a tracefs instance: its `trace_pipe`, per-CPU `stats`, and the events the kernel has.

Read side only; creating and removing the instance (writes to tracefs control files) is
the write edge in `sources/tracefs_control.py`.

Why `trace_pipe` (text) and not `trace_pipe_raw` (binary pages), measured with
benchmarks/trace_overhead.py on this project's 2-vCPU 6.18 VM (docs/benchmarks.md): a reader
that only drains costs 125 ms CPU per 10k events on `trace_pipe` and 83 ms on the per-CPU
`trace_pipe_raw` files, so the kernel's text formatting costs the tracer about 4 µs per event;
parsing and pairing that text in Python costs 5.6 µs per event (177k events/s on one core).
A raw reader would save at most the 4 µs, and only if decoding binary records in Python
(`struct` by the `format` file offsets, then gfp_flags and compaction status numbers through
version-dependent symbol tables, docs/kernel.md#gfp-flags) were free, which it is not. Text also needs
one fd instead of one per CPU and arrives merged in time order across CPUs, which pairing
needs (a task can migrate between begin and end); and a saved text is valid `--input`.
"""

from __future__ import annotations

import errno
import os
import select
from pathlib import Path

TRACEFS_DIRS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
READ_CHUNK_BYTES = 1 << 16


def find_tracefs(candidates: tuple[str, ...] = TRACEFS_DIRS) -> Path | None:
    """The first mounted tracefs (a directory with `available_events`), or None."""
    for candidate in candidates:
        path = Path(candidate)
        try:
            if (path / "available_events").exists():
                return path
        except PermissionError:
            continue
    return None


def tracefs_mount_points(mounts: str = "/proc/mounts") -> list[str]:
    """Where tracefs is mounted, from /proc/mounts (readable without root)."""
    try:
        text = Path(mounts).read_text()
    except OSError:
        return []
    return [parts[1] for parts in (line.split() for line in text.splitlines())
            if len(parts) > 2 and parts[2] == "tracefs"]


def read_available_events(tracefs: Path) -> set[tuple[str, str]]:
    """{(system, event)} from `available_events` (`system:event` per line)."""
    out: set[tuple[str, str]] = set()
    for line in (tracefs / "available_events").read_text().splitlines():
        system, sep, name = line.strip().partition(":")
        if sep:
            out.add((system, name))
    return out


def read_cpu_stats(instance: Path) -> dict[int, str]:
    """{cpu: text of per_cpu/cpuN/stats}."""
    out: dict[int, str] = {}
    per_cpu = instance / "per_cpu"
    for entry in sorted(per_cpu.iterdir()):
        if entry.name.startswith("cpu") and entry.name[3:].isdigit():
            out[int(entry.name[3:])] = (entry / "stats").read_text()
    return out


def read_proc_cgroup(pid: int, proc: str = "/proc") -> str | None:
    """The text of /proc/PID/cgroup, None when the task is gone."""
    try:
        return Path(proc, str(pid), "cgroup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


class PipeReader:
    """Non-blocking reads of a `trace_pipe`, returned as whole lines.

    `read_lines(timeout_seconds)` waits at most that long for data (poll), then drains what
    is there (bounded to `max_chunks` reads so a storm cannot starve the caller's deadline
    and signal checks). A partial last line is kept for the next call.
    """

    def __init__(self, path: Path, max_chunks: int = 64) -> None:
        self.path = path
        self.max_chunks = max_chunks
        self.bytes_read = 0
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)
        self._partial = b""

    def read_lines(self, timeout_seconds: float) -> list[str]:
        self._poll.poll(int(timeout_seconds * 1000))
        chunks = [self._partial]
        for _ in range(self.max_chunks):
            try:
                data = os.read(self._fd, READ_CHUNK_BYTES)
            except OSError as err:
                if err.errno in (errno.EAGAIN, errno.EINTR):
                    break
                raise
            if not data:
                break
            chunks.append(data)
        blob = b"".join(chunks)
        self.bytes_read += len(blob) - len(self._partial)
        head, sep, self._partial = blob.rpartition(b"\n")
        if not sep:  # no complete line yet: rpartition left it all in _partial
            return []
        return head.decode("utf-8", "replace").split("\n")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def hist_unsupported(tracefs: Path) -> str | None:
    """Why the hist path cannot run here, or None when it can.

    It needs `synthetic_events` (CONFIG_SYNTH_EVENTS, 4.17+; part of CONFIG_HIST_TRIGGERS
    before 5.6) and a `hist` file under an event (CONFIG_HIST_TRIGGERS, 4.7+).
    """
    if not (tracefs / "synthetic_events").exists():
        return "no synthetic_events in tracefs (kernel without CONFIG_SYNTH_EVENTS)"
    if not (tracefs / "events" / "vmscan" / "mm_vmscan_direct_reclaim_end" / "hist").exists():
        return "no hist file under events/vmscan (kernel without CONFIG_HIST_TRIGGERS)"
    return None


def read_event_format(tracefs: Path, system: str, event: str) -> str | None:
    """The text of events/SYSTEM/EVENT/format, None when the event is absent."""
    try:
        return (tracefs / "events" / system / event / "format").read_text()
    except (FileNotFoundError, PermissionError):
        return None


def read_synthetic_events(tracefs: Path) -> list[str]:
    """The names of the synthetic events defined now (`name field; ...` per line)."""
    try:
        text = (tracefs / "synthetic_events").read_text()
    except OSError:
        return []
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def last_error_log_line(tracefs: Path) -> str | None:
    """The kernel's last tracing error (`error_log`, 5.5+), None when it has none."""
    try:
        lines = [ln.strip() for ln in (tracefs / "error_log").read_text().splitlines() if ln.strip()]
    except OSError:
        return None
    errors = [ln for ln in lines if ln.startswith("[")]
    return errors[-1] if errors else (lines[-1] if lines else None)
