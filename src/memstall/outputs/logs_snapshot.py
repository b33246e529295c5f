"""`memstall logs --as-snapshot DIR`: a log's last Mem-Info as a snapshot directory.

The files are written in the kernel's own formats by outputs/kernel_text.py (proc/zoneinfo
as zoneinfo_show_print, proc/buddyinfo as frag_show_print, proc/meminfo as
meminfo_proc_show), holding only what the log printed, so every `--root DIR` command reads
them with the ordinary parsers. The MANIFEST says the capture was rebuilt from a log
(`edited`, `source`, `rebuilt_from_log`).
"""

from __future__ import annotations

from typing import Any

from memstall.analysis.log_state import NOT_IN_LOG
from memstall.manifest import build_manifest
from memstall.model.kernlog import MemInfoDump
from memstall.model.state import SystemState
from memstall.outputs.kernel_text import format_buddyinfo, format_meminfo, format_zoneinfo


def snapshot_files(state: SystemState, dump: MemInfoDump, host: str | None, when: str | None
                   ) -> tuple[dict[str, bytes], dict[str, Any]]:
    """(relative path -> bytes, manifest) for the capture of one Mem-Info dump."""
    files: dict[str, bytes] = {}
    if state.zoneinfo is not None:
        files["proc/zoneinfo"] = format_zoneinfo(state.zoneinfo).encode()
    if state.buddyinfo is not None:
        files["proc/buddyinfo"] = format_buddyinfo(state.buddyinfo).encode()
    if state.meminfo is not None:
        files["proc/meminfo"] = format_meminfo(state.meminfo).encode()
    if state.kernel_release:
        files["proc/sys/kernel/osrelease"] = (state.kernel_release + "\n").encode()
    unavailable = dict(state.unavailable)
    for rel in ("proc/zoneinfo", "proc/buddyinfo", "proc/meminfo"):
        if rel not in files:
            unavailable[rel] = NOT_IN_LOG
    nodes = {z.node for z in state.zoneinfo.zones} if state.zoneinfo else set()
    nodes |= {z.node for z in state.buddyinfo.zones} if state.buddyinfo else set()
    nodes |= set(state.node_meminfo)
    manifest = build_manifest(
        source="memstall logs --as-snapshot", kernel=state.kernel_release, arch=None,
        page_size=state.page_size, clock_ticks_per_second=None, numa_nodes=len(nodes) or None,
        captured=when, hostname=host,
        edited=[f"rebuilt from the kernel-log Mem-Info at {dump.source}:{dump.line_no}: the files "
                "hold only what the log printed (spanned = present; no vmstat, PSI or sysctls)",
                *state.notes],
        shows="a kernel-log Mem-Info dump" + (" (partial)" if dump.partial else ""),
        files=files, unavailable=unavailable,
        rebuilt_from_log={"file": dump.source, "line_no": dump.line_no, "partial": dump.partial})
    return files, manifest
