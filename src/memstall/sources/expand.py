"""The registry's path patterns made concrete for one root: used by snapshot and collect.

A pattern is a plain path, a glob (`sys/devices/system/node/node*/vmstat`: every NUMA
node), a directory's files (`proc/sys/vm/*`, never the write-only triggers) or a per-pid
path (`proc/[0-9]*/stat`: only the kswapd/kcompactd pids `discover_kthreads` found).
"""

from __future__ import annotations

from collections.abc import Sequence

from memstall import specs
from memstall.errors import SourceUnavailable
from memstall.sources.base import Source

_WILD = "*?["


def discover_kthreads(source: Source) -> list[tuple[str, str]]:
    """(`proc/<pid>`, comm) of every kswapdN and kcompactdN thread, in path order.

    Reads proc/<pid>/comm of every process: a task that exits between the listing and the
    read is skipped.
    """
    found = []
    for rel in source.glob(specs.KTHREAD_COMM):
        try:
            comm = source.read_text(rel).strip()
        except SourceUnavailable:
            continue
        if comm.startswith(specs.KTHREAD_COMM_PREFIXES):
            found.append((rel[: -len("/comm")], comm))
    return found


def is_dir_pattern(pattern: str) -> bool:
    """`proc/sys/vm/*`: every file of one directory."""
    return pattern.endswith("/*") and not any(c in pattern[:-2] for c in _WILD)


def is_pid_pattern(pattern: str) -> bool:
    return pattern.startswith(specs.KTHREAD_PID_DIR + "/")


def expand(source: Source, pattern: str, kthread_dirs: Sequence[str] = ()) -> list[str]:
    """The paths `pattern` stands for in `source` (a plain path: itself, present or not)."""
    if is_pid_pattern(pattern):
        name = pattern[len(specs.KTHREAD_PID_DIR) + 1:]
        return [f"{d}/{name}" for d in kthread_dirs]
    if is_dir_pattern(pattern):
        # list_dir, not glob: a sosreport serves proc/sys/vm/<name> from `sysctl -a`.
        directory = pattern[:-2]
        return [f"{directory}/{name}" for name in source.list_dir(directory)
                if not (directory == specs.SYSCTL_VM_DIR and name in specs.SYSCTL_VM_WRITE_ONLY)]
    if any(c in pattern for c in _WILD):
        return source.glob(pattern)
    return [pattern]
