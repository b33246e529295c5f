"""The WRITE edge of tracing: mount tracefs, create/remove `instances/memstall-PID`.

Every write memstall makes to tracefs is here (mkdir/rmdir of an instance, its
`buffer_size_kb`, `events/*/*/enable` and `tracing_on`; for the hist path the lines
appended to `synthetic_events` and to the instance's `events/*/*/trigger` files), so a
reviewer checks one file. `synthetic_events` and `trigger` are opened for APPEND only:
opened with O_TRUNC they delete every synthetic event (other tools' too) or every trigger.
Imported by `pipeline/stall_tracer.py` and by `cli/top.py` (its pipe-only `--trace` panel).
An instance is a ring buffer of our own: the global buffer,
and any other tool's instance, are never touched. Instances exist since 3.10.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from memstall.errors import SourceUnavailable
from memstall.sources.tracefs import (
    TRACEFS_DIRS,
    find_tracefs,
    last_error_log_line,
    read_available_events,
    read_synthetic_events,
    tracefs_mount_points,
)

INSTANCE_PREFIX = "memstall-"
SYNTH_PREFIX = "memstall_"  # synthetic events are global: memstall_<tracer pid>_<kind>
MOUNT_HINT = ("mount it with: mount -t tracefs nodev /sys/kernel/tracing "
              "(needs a kernel with CONFIG_FTRACE; run memstall trace as root)")
ROOT_HINT = "tracing writes to tracefs: run as root (CAP_SYS_ADMIN)"


def ensure_tracefs() -> tuple[Path, bool]:
    """The tracefs directory, mounting it at /sys/kernel/tracing when nothing is mounted.

    Returns (path, mounted_now). Raises a one-line SourceUnavailable without root or when
    the kernel has no tracefs.
    """
    found = find_tracefs()
    if found is not None:
        return found, False
    target = TRACEFS_DIRS[0]
    if os.geteuid() != 0:
        mounted = tracefs_mount_points()
        if mounted:
            raise SourceUnavailable(mounted[0], "tracefs is mounted but only root can use it",
                                    hint=ROOT_HINT)
        raise SourceUnavailable(target, "tracefs is not mounted and memstall is not root",
                                hint=MOUNT_HINT)
    if not Path(target).is_dir():
        raise SourceUnavailable(target, "no such directory: this kernel has no tracefs",
                                hint=MOUNT_HINT)
    done = subprocess.run(["mount", "-t", "tracefs", "nodev", target],
                          capture_output=True, text=True, check=False)
    found = find_tracefs()
    if done.returncode != 0 or found is None:
        reason = (done.stderr.strip() or "mount failed").splitlines()[0]
        raise SourceUnavailable(target, f"cannot mount tracefs: {reason}", hint=MOUNT_HINT)
    return found, True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# a dead tracer's pid -> (its `!trigger` removals, its synthetic event names)
HistCleanup = Callable[[int], "tuple[Sequence[tuple[str, str]], Sequence[str]]"]


def remove_stale_instances(tracefs: Path, hist_cleanup: HistCleanup | None = None) -> list[str]:
    """Remove `memstall-PID` instances whose PID is dead (a SIGKILLed run); their names.

    With `hist_cleanup`, the dead run's hist triggers are removed first and its synthetic
    events (`memstall_PID_*`, also when the instance is already gone) deleted after.
    """
    removed: list[str] = []
    instances = tracefs / "instances"
    dead: set[int] = set()
    for entry in sorted(instances.iterdir()) if instances.is_dir() else []:
        suffix = entry.name[len(INSTANCE_PREFIX):]
        if entry.name.startswith(INSTANCE_PREFIX) and suffix.isdigit() and not _pid_alive(int(suffix)):
            dead.add(int(suffix))
            if hist_cleanup is not None:
                remove_triggers(entry, hist_cleanup(int(suffix))[0])
            remove_instance(entry)
            removed.append(entry.name)
    if hist_cleanup is not None:
        for name in read_synthetic_events(tracefs):
            pid = name[len(SYNTH_PREFIX):].partition("_")[0]
            if name.startswith(SYNTH_PREFIX) and pid.isdigit() and not _pid_alive(int(pid)):
                delete_synthetic_events(tracefs, [name])
                if int(pid) not in dead:
                    removed.append(name)
    return removed


@dataclass(frozen=True)
class TraceInstance:
    path: Path
    enabled: tuple[tuple[str, str], ...]
    missing: tuple[tuple[str, str], ...]  # asked for, not on this kernel
    buffer_kb: int


def _write(path: Path, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def create_instance(tracefs: Path, events: Sequence[tuple[str, str]], buffer_kb: int,
                    pid: int | None = None) -> TraceInstance:
    """mkdir instances/memstall-PID, size its buffer, enable the events the kernel has.

    On any failure the half-made instance is removed before the error propagates.
    """
    name = f"{INSTANCE_PREFIX}{os.getpid() if pid is None else pid}"
    path = tracefs / "instances" / name
    available = read_available_events(tracefs)
    try:
        path.mkdir()
    except PermissionError:
        raise SourceUnavailable(str(path), "permission denied", hint=ROOT_HINT) from None
    except FileNotFoundError:
        raise SourceUnavailable(str(tracefs / "instances"),
                                "no instances directory (tracefs instances need 3.10+)") from None
    try:
        _write(path / "tracing_on", "0")
        _write(path / "buffer_size_kb", str(buffer_kb))
        enabled = tuple(e for e in events if e in available)
        for system, event in enabled:
            _write(path / "events" / system / event / "enable", "1")
        _write(path / "tracing_on", "1")
    except BaseException:
        remove_instance(path)
        raise
    return TraceInstance(path, enabled, tuple(e for e in events if e not in available), buffer_kb)


def remove_instance(path: Path) -> None:
    """Stop tracing, disable every event, rmdir. Idempotent; readers must be closed first."""
    if not path.is_dir():
        return
    for control, value in (("tracing_on", "0"), ("events/enable", "0")):
        # on failure, rmdir below still frees the buffer and detaches the events
        with contextlib.suppress(OSError):
            _write(path / control, value)
    path.rmdir()


def stop_tracing(path: Path) -> None:
    """tracing_on=0: the buffer keeps what it has, so a reader can drain it."""
    _write(path / "tracing_on", "0")


def _append(path: Path, text: str) -> None:
    with open(path, "a") as fh:  # never "w": O_TRUNC clears the file's whole list
        fh.write(text + "\n")


def install_hist(tracefs: Path, instance: Path, definitions: Sequence[str],
                 triggers: Sequence[tuple[str, str]]) -> None:
    """Define the synthetic events, then add the triggers (paths relative to the instance),
    in the order given. A refused write is a SourceUnavailable naming the file and the
    kernel's `error_log` line; the caller removes what was made (remove_hist)."""
    for target, text in [(tracefs / "synthetic_events", d) for d in definitions] + \
            [(instance / rel, t) for rel, t in triggers]:
        try:
            _append(target, text)
        except OSError as err:
            why = last_error_log_line(tracefs) or err.strerror or str(err)
            raise SourceUnavailable(str(target), f"the kernel refused {text[:60]!r}: {why}",
                                    hint="use --method pipe") from None


def remove_triggers(instance: Path, removals: Sequence[tuple[str, str]]) -> list[str]:
    """Append each `!trigger` (already in removal order); the ones that failed (a trigger
    that was never added fails with ENOENT: expected after a partial install)."""
    failed: list[str] = []
    for rel, text in removals:
        try:
            _append(instance / rel, text)
        except OSError:
            failed.append(rel)
    return failed


def delete_synthetic_events(tracefs: Path, names: Sequence[str]) -> list[str]:
    """`!name` for each synthetic event that exists; the ones the kernel kept (EBUSY)."""
    kept: list[str] = []
    present = set(read_synthetic_events(tracefs))
    for name in names:
        if name not in present:
            continue
        try:
            _append(tracefs / "synthetic_events", "!" + name)
        except OSError:
            kept.append(name)
    return kept
