"""Parse `/proc/PID/cgroup`: which cgroup (container) a task's memory is charged to.

    v1:  4:memory:/system.slice/docker-1f2e.scope
    v2:  0::/system.slice/docker-1f2e.scope

The memory controller's v1 line wins; otherwise the v2 (unified, hierarchy 0, no
controllers) line; None when neither is there (a kernel without memcg, or a hybrid setup
without the memory controller).
"""

from __future__ import annotations

from memstall.errors import ParseError


def parse_proc_cgroup(text: str, path: str = "proc/PID/cgroup") -> str | None:
    """The task's memory cgroup path.

    >>> parse_proc_cgroup("12:pids:/\\n4:memory:/docker/1f2e\\n")
    '/docker/1f2e'
    >>> parse_proc_cgroup("0::/system.slice/cron.service\\n")
    '/system.slice/cron.service'
    """
    unified: str | None = None
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[0].isdigit():
            raise ParseError(path, line_no, line, "'<hierarchy>:<controllers>:<path>'")
        _, controllers, cgroup = parts
        if "memory" in controllers.split(","):
            return cgroup
        if parts[0] == "0" and controllers == "":
            unified = cgroup
    return unified
