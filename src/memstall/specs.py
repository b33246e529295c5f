"""Paths of the kernel files memstall reads, relative to the root: plain constants.

The file registry (collect/registry.py) says, for each of these, which parser reads it,
which SystemState field it fills, whether it changes between samples and what to do when
it is missing; `memstall snapshot` copies exactly the registry's paths. Patterns use
fnmatch syntax: `node*` is every NUMA node, `[0-9]*` every kswapd/kcompactd pid, and a
trailing `/*` every file of a directory.
"""

from __future__ import annotations

from memstall.manifest import MANIFEST

BUDDYINFO = "proc/buddyinfo"
ZONEINFO = "proc/zoneinfo"
PAGETYPEINFO = "proc/pagetypeinfo"  # mode 0400 since 5.6: root only
SLABINFO = "proc/slabinfo"  # mode 0400: root only
VMSTAT = "proc/vmstat"
MEMINFO = "proc/meminfo"
PSI_MEMORY = "proc/pressure/memory"  # 4.20+ with CONFIG_PSI
SYSCTL_VM_DIR = "proc/sys/vm"
OSRELEASE = "proc/sys/kernel/osrelease"
UPTIME = "proc/uptime"
THP_DIR = "sys/kernel/mm/transparent_hugepage"
THP_ENABLED = "sys/kernel/mm/transparent_hugepage/enabled"
THP_DEFRAG = "sys/kernel/mm/transparent_hugepage/defrag"
THP_KHUGEPAGED_DEFRAG = "sys/kernel/mm/transparent_hugepage/khugepaged/defrag"
# One directory per hugepage size (2.6.27+): the size is in its name, hugepages-<kB>kB.
# *_hugepages: the counts; never demote (mode 0200, write-only, 6.1+).
HUGEPAGES_FILES = "sys/kernel/mm/hugepages/hugepages-*kB/*_hugepages"
NODE_DIR = "sys/devices/system/node"
NODE_VMSTAT = "sys/devices/system/node/node*/vmstat"
NODE_MEMINFO = "sys/devices/system/node/node*/meminfo"
DEBUGFS_EXTFRAG_INDEX = "sys/kernel/debug/extfrag/extfrag_index"
DEBUGFS_UNUSABLE_INDEX = "sys/kernel/debug/extfrag/unusable_index"
SYSCTL_VM_FILES = "proc/sys/vm/*"
DEBUGFS_DIR = "sys/kernel/debug"

# Kernel threads whose CPU time tells whether reclaim/compaction is busy: found by their
# proc/<pid>/comm, then read from proc/<pid>/stat (sources/expand.discover_kthreads).
KTHREAD_PID_DIR = "proc/[0-9]*"
KTHREAD_COMM = "proc/[0-9]*/comm"
KTHREAD_STAT = "proc/[0-9]*/stat"

KTHREAD_COMM_PREFIXES = ("kswapd", "kcompactd")

# sysctl files under proc/sys/vm that must never be read: write-only triggers.
# stat_refresh is mode 0600 and reading it is not harmless: vmstat_refresh() runs
# schedule_on_each_cpu(refresh_vm_stats) on read as well as on write (docs/kernel.md#vm-sysctl-ranges).
SYSCTL_VM_WRITE_ONLY = frozenset({"compact_memory", "drop_caches", "stat_refresh"})

# `memstall snapshot --samples N` stores the files that change again under samples/<k>/
# (k = 1..N-1; sample 0 is the tree at the top of the capture).
SAMPLES_DIR = "samples"

# sosreport keeps `sysctl -a` output here when it did not copy proc/sys.
SOS_SYSCTL_A = "sos_commands/kernel/sysctl_-a"
SOS_MARKERS = ("sos_commands", "sos_reports", "sos_logs")
SOS_UPTIME = "uptime"  # output of the `uptime` command, not proc/uptime
# Read when a root lacks what they stand in for (collect/fallbacks.py): `ps auxwww` for
# kswapd/kcompactd CPU time, `uname -a` for the kernel release.
SOS_PS = "sos_commands/process/ps_auxwww"
SOS_UNAME_A = "sos_commands/kernel/uname_-a"
PROC_VERSION = "proc/version"

# Kernel logs a root may hold, read by `diagnose --root` (pipeline/root_logs.py) as streams,
# never whole: syslog files and their rotations (.1, .2.gz...), and a sosreport's journal and
# dmesg output. One fnmatch pattern per family, newest file without a suffix.
ROOT_KERNEL_LOGS = (
    "var/log/kern.log*", "var/log/messages*", "var/log/syslog*",
    "sos_commands/logs/journalctl_*", "sos_commands/kernel/dmesg*",
)

__all__ = ["MANIFEST"]  # re-exported: the name belongs to memstall.manifest
