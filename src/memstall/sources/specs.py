"""The path registry: every file memstall reads, relative to the root.

`memstall snapshot` copies exactly these paths, so a snapshot holds nothing we do not
read (and nothing secret). Globs use fnmatch syntax and are expanded by the source.
"""

from __future__ import annotations

BUDDYINFO = "proc/buddyinfo"
ZONEINFO = "proc/zoneinfo"
PAGETYPEINFO = "proc/pagetypeinfo"  # mode 0400 since 5.6: root only
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
NODE_DIR = "sys/devices/system/node"
NODE_VMSTAT = "sys/devices/system/node/node*/vmstat"
NODE_MEMINFO = "sys/devices/system/node/node*/meminfo"
DEBUGFS_EXTFRAG_INDEX = "sys/kernel/debug/extfrag/extfrag_index"
DEBUGFS_UNUSABLE_INDEX = "sys/kernel/debug/extfrag/unusable_index"
MANIFEST = "MANIFEST.json"

# Kernel threads whose CPU time tells whether reclaim/compaction is busy:
# proc/<pid>/stat and proc/<pid>/comm for every pid whose comm matches.
KTHREAD_COMM_PREFIXES = ("kswapd", "kcompactd")

# sysctl files under proc/sys/vm that must never be read: write-only triggers.
# stat_refresh is mode 0600 and reading it is not harmless: vmstat_refresh() runs
# schedule_on_each_cpu(refresh_vm_stats) on read as well as on write (docs/kernel.md#vm-sysctl-ranges).
SYSCTL_VM_WRITE_ONLY = frozenset({"compact_memory", "drop_caches", "stat_refresh"})

# Single files a snapshot copies (when present and readable), in this order.
SNAPSHOT_FILES = (
    OSRELEASE, UPTIME, BUDDYINFO, ZONEINFO, PAGETYPEINFO, VMSTAT, MEMINFO, PSI_MEMORY,
    THP_ENABLED, THP_DEFRAG, THP_KHUGEPAGED_DEFRAG,
)
# Globs a snapshot copies (every match).
SNAPSHOT_GLOBS = (NODE_VMSTAT, NODE_MEMINFO)
# debugfs files, copied between two reads of buddyinfo (see capture.py).
DEBUGFS_FILES = (DEBUGFS_EXTFRAG_INDEX, DEBUGFS_UNUSABLE_INDEX)
# Kernel thread files, for every proc/<pid> whose comm starts with KTHREAD_COMM_PREFIXES.
KTHREAD_FILES = ("comm", "stat")

# Files that change from moment to moment: `memstall snapshot --samples N` stores them
# again under samples/<k>/ (k = 1..N-1; sample 0 is the tree at the top of the capture).
SAMPLES_DIR = "samples"
SAMPLED_FILES = (UPTIME, BUDDYINFO, ZONEINFO, PAGETYPEINFO, VMSTAT, MEMINFO, PSI_MEMORY)
SAMPLED_GLOBS = (NODE_VMSTAT, NODE_MEMINFO)

# sosreport keeps `sysctl -a` output here when it did not copy proc/sys.
SOS_SYSCTL_A = "sos_commands/kernel/sysctl_-a"
SOS_MARKERS = ("sos_commands", "sos_reports", "sos_logs")
SOS_UPTIME = "uptime"  # output of the `uptime` command, not proc/uptime
