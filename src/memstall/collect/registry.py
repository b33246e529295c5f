"""The file registry: one record per kernel file memstall reads.

Each record says where the file is (a path relative to the root, with the per-node and
per-pid patterns of specs.py), which parser reads it, which SystemState field it
fills, whether it changes between samples, and what to tell the user when it is missing.
Everything iterates over FILES: `memstall snapshot` copies exactly these paths (and the
sampled ones again per sample), StateReader reads and parses them, and the hints reach
`show` and the rules' skip reasons through `SystemState.hints`.

Adding a /proc file is one record here, a parser in parsers/ and a field in model/state.py.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Callable

from memstall import specs
from memstall.errors import ParseError
from memstall.parsers.buddyinfo import parse_buddyinfo
from memstall.parsers.extfrag import parse_extfrag
from memstall.parsers.hugepages import parse_hugepages
from memstall.parsers.kthread_stat import parse_kthread_stat
from memstall.parsers.meminfo import parse_meminfo
from memstall.parsers.pagetypeinfo import parse_pagetypeinfo
from memstall.parsers.psi import parse_psi
from memstall.parsers.slabinfo import parse_slabinfo
from memstall.parsers.sysctl_vm import parse_sysctl_vm
from memstall.parsers.thp import parse_thp_choice, parse_thp_flag
from memstall.parsers.vmstat import parse_vmstat
from memstall.parsers.zoneinfo import parse_zoneinfo
from memstall.sources.expand import is_dir_pattern, is_pid_pattern

Parse = Callable[..., Any]
"""(text, rel) -> model value; for a directory pattern ({name: text}, directory) -> value."""

ROOT_HINT = "run as root (or read a capture made as root)"
_INCOMPLETE = "every kernel has /{}; the capture is incomplete"
_THP = "transparent hugepages need a kernel built with CONFIG_TRANSPARENT_HUGEPAGE"
_NUMA = ("sys/devices/system/node exists on kernels built with CONFIG_NUMA; "
         "sosreports do not keep it")


def parse_osrelease(text: str, rel: str = specs.OSRELEASE) -> str | None:
    return text.strip() or None


def parse_uptime(text: str, rel: str = specs.UPTIME) -> float:
    """proc/uptime: '<seconds since boot> <idle seconds>'."""
    try:
        seconds = float(text.split(maxsplit=1)[0])
    except (ValueError, IndexError):
        seconds = math.nan
    # float() also reads 'nan', 'inf' and '-1': none is a time since boot, and each would
    # turn every rate into garbage.
    if not math.isfinite(seconds) or seconds < 0:
        raise ParseError(rel, 1, (text.strip().splitlines() or [""])[0],
                         "'<seconds> <idle seconds>'")
    return seconds


@dataclass(frozen=True)
class KernelFile:
    path: str
    """Relative to the root; `node*`, `[0-9]*` (kthread pids) and a trailing `/*` expand."""
    field: str
    """The SystemState field it fills (several files may fill one field)."""
    parse: Parse | None
    """None: read only to find other files (proc/<pid>/comm names the kthread pids)."""
    sampled: bool
    """Changes from moment to moment: re-read every sample. False: settings and identity."""
    hint: str | None = None
    """What to do when it is missing."""
    privileges: str | None = None
    """Who may read it, when not every user."""

    @cached_property
    def per(self) -> str:
        """'node' (one per NUMA node), 'pid' (one per kthread), 'dir' (every file), 'glob'
        (every file the pattern matches, parsed together), ''. Worked out once per record:
        the reader asks it of every file on every tick (the exporter's scrape)."""
        if is_pid_pattern(self.path):
            return "pid"
        if is_dir_pattern(self.path):
            return "dir"
        if "/node*/" in self.path:
            return "node"
        return "glob" if any(c in self.path for c in "*?[") else ""

    @property
    def unavailable_key(self) -> str:
        """The path `SystemState.unavailable` names when nothing of it could be read."""
        if self.per == "glob":  # the directory above the first wildcard
            return self.path[:self.path.index("*")].rsplit("/", 1)[0]
        return self.path[:-2] if self.per == "dir" else self.path

    def matches(self, rel: str) -> bool:
        return rel == self.unavailable_key or fnmatch.fnmatchcase(rel, self.path)


FILES: tuple[KernelFile, ...] = (
    KernelFile(specs.OSRELEASE, "kernel_release", parse_osrelease, sampled=False),
    KernelFile(specs.UPTIME, "uptime_seconds", parse_uptime, sampled=True,
               hint="rates need proc/uptime; sosreports do not keep it: "
                    "capture with `memstall snapshot`"),
    KernelFile(specs.BUDDYINFO, "buddyinfo", parse_buddyinfo, sampled=True,
               hint=_INCOMPLETE.format(specs.BUDDYINFO)),
    KernelFile(specs.ZONEINFO, "zoneinfo", parse_zoneinfo, sampled=True,
               hint=_INCOMPLETE.format(specs.ZONEINFO)),
    # Mode 0400 since 5.4 (and 4.14.y of 2019-11): "mm, vmstat: hide /proc/pagetypeinfo
    # from normal users" (parsers/pagetypeinfo.py). Its counts change, but it is read once
    # per capture and static refresh, not every sample: the kernel walks every free list
    # holding zone->lock with interrupts off to print it (mm/vmstat.c
    # pagetypeinfo_showfree_print), and no rule reads it. Per tick it cost 3.6 of the 4.6 ms
    # memstall spent reading here (benchmarks/sample_cost.py, docs/benchmarks.md).
    KernelFile(specs.PAGETYPEINFO, "pagetypeinfo", parse_pagetypeinfo, sampled=False,
               hint=_INCOMPLETE.format(specs.PAGETYPEINFO), privileges="root (mode 0400 since 5.4)"),
    # Mode 0400. Read once per capture and static refresh, like pagetypeinfo: the kernel walks
    # every cache under slab_mutex to print it (mm/slab_common.c slab_show), it is ~200 lines,
    # and only the RECLAIMABLE_SLAB evidence and `show slab` read it.
    KernelFile(specs.SLABINFO, "slabinfo", parse_slabinfo, sampled=False,
               hint="run as root (mode 0400); sosreports keep proc/slabinfo when sos ran as root",
               privileges="root (mode 0400)"),
    KernelFile(specs.HUGEPAGES_FILES, "hugepages", parse_hugepages, sampled=False,
               hint="sys/kernel/mm/hugepages exists on kernels built with CONFIG_HUGETLBFS"),
    KernelFile(specs.VMSTAT, "vmstat", parse_vmstat, sampled=True,
               hint=_INCOMPLETE.format(specs.VMSTAT)),
    KernelFile(specs.MEMINFO, "meminfo", parse_meminfo, sampled=True,
               hint=_INCOMPLETE.format(specs.MEMINFO)),
    KernelFile(specs.PSI_MEMORY, "psi_memory", parse_psi, sampled=True,
               hint="PSI needs kernel >= 4.20 with CONFIG_PSI, or boot with psi=1"),
    KernelFile(specs.THP_ENABLED, "thp", parse_thp_choice, sampled=False, hint=_THP),
    KernelFile(specs.THP_DEFRAG, "thp", parse_thp_choice, sampled=False,
               hint=_THP + "; sosreports do not keep this file"),
    KernelFile(specs.THP_KHUGEPAGED_DEFRAG, "thp", parse_thp_flag, sampled=False, hint=_THP),
    KernelFile(specs.SYSCTL_VM_FILES, "sysctl_vm", parse_sysctl_vm, sampled=False,
               hint="a capture without proc/sys/vm (sosreports keep sysctl -a instead)"),
    KernelFile(specs.NODE_VMSTAT, "node_vmstat", parse_vmstat, sampled=True, hint=_NUMA),
    KernelFile(specs.NODE_MEMINFO, "node_meminfo", parse_meminfo, sampled=True, hint=_NUMA),
    # comm is stored in every sample so that a sample's pids are its own; the reader
    # reads it only to find the threads again (a pid gone, or its comm changed).
    KernelFile(specs.KTHREAD_COMM, "kthreads", None, sampled=True),
    KernelFile(specs.KTHREAD_STAT, "kthreads", parse_kthread_stat, sampled=True,
               hint="sosreports do not keep proc/<pid>/stat; capture with `memstall snapshot`"),
    KernelFile(specs.DEBUGFS_EXTFRAG_INDEX, "extfrag_index", parse_extfrag, sampled=True,
               hint="mount debugfs (mount -t debugfs none /sys/kernel/debug) as root; "
                    "the files need CONFIG_DEBUG_FS and CONFIG_COMPACTION. "
                    "`memstall show frag` computes the same numbers from buddyinfo",
               privileges="root"),
    KernelFile(specs.DEBUGFS_UNUSABLE_INDEX, "unusable_index", parse_extfrag, sampled=True,
               hint="mount debugfs (mount -t debugfs none /sys/kernel/debug) as root; "
                    "the files need CONFIG_DEBUG_FS and CONFIG_COMPACTION. "
                    "`memstall show frag` computes the same numbers from buddyinfo",
               privileges="root"),
)


def snapshot_paths() -> list[str]:
    """What `memstall snapshot` copies into sample 0, in reading order."""
    return [f.path for f in FILES]


def sample_paths() -> list[str]:
    """What a `--samples N` capture stores again under samples/<k>/: the sampled files but
    debugfs, which is read once per capture, between two reads of buddyinfo."""
    return [f.path for f in FILES if f.sampled and not f.path.startswith(specs.DEBUGFS_DIR + "/")]


@lru_cache(maxsize=1024)  # FILES is constant; the Sampler asks for the same paths every tick
def record_for(rel: str) -> KernelFile | None:
    return next((f for f in FILES if f.matches(rel)), None)


NOT_CAPTURED = ("not captured: this sosreport did not collect it, which says nothing about "
                "the kernel; capture with `memstall snapshot` to read it")


@lru_cache(maxsize=1024)
def hint_for(rel: str, reason: str) -> str | None:
    """What the user can do about `rel` being unavailable for `reason`.

    A file a sosreport lacks was not collected: the record's hint about the kernel (PSI
    needs 4.20...) would be a guess, so it is replaced unless it speaks of sosreports.
    """
    if reason.startswith(("malformed:", "a container's view")):
        return None
    if "permission denied" in reason:
        return ROOT_HINT
    record = record_for(rel)
    hint = record.hint if record is not None else None
    if reason == "not in this sosreport" and "sosreport" not in (hint or ""):
        return NOT_CAPTURED
    return hint
