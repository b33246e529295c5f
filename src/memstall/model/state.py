"""SystemState: everything memstall read from one root at one moment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from memstall.model.buddy import BuddyInfo
from memstall.model.extfrag import ExtfragIndexFile
from memstall.model.kernel import KernelVersion
from memstall.model.kthreads import ASSUMED_USER_HZ, KThreadPs, KThreadStat
from memstall.model.meminfo import HugePagePool, MemInfo
from memstall.model.pagetypeinfo import PageTypeInfo
from memstall.model.pressure import Pressure
from memstall.model.slab import SlabInfo
from memstall.model.sysctl import SysctlVm
from memstall.model.thp import ThpSettings
from memstall.model.vmstat import VmStat
from memstall.model.zones import ZoneInfo


@dataclass(frozen=True)
class SystemState:
    """One sample. Any part may be None: absent is not zero (the file was not there)."""

    source: str
    page_size: int = 4096
    kernel_release: str | None = None
    uptime_seconds: float | None = None
    """CLOCK_BOOTTIME-ish time of the sample (proc/uptime), used for rates."""
    buddyinfo: BuddyInfo | None = None
    zoneinfo: ZoneInfo | None = None
    vmstat: VmStat | None = None
    meminfo: MemInfo | None = None
    psi_memory: Pressure | None = None
    sysctl_vm: SysctlVm | None = None
    thp: ThpSettings | None = None
    container_meminfo: MemInfo | None = None
    """proc/meminfo when it is a container's view (lxcfs) beside the host's zoneinfo: kept
    for `show meminfo`, and out of `meminfo` so that no analysis mixes the two."""
    node_vmstat: Mapping[int, VmStat] = field(default_factory=dict)
    node_meminfo: Mapping[int, MemInfo] = field(default_factory=dict)
    kthreads: tuple[KThreadStat, ...] = ()
    kthreads_ps: tuple[KThreadPs, ...] = ()
    """The same threads from a sosreport's `ps` output, when proc/<pid>/stat is absent."""
    extfrag_index: ExtfragIndexFile | None = None
    unusable_index: ExtfragIndexFile | None = None
    pagetypeinfo: PageTypeInfo | None = None
    """None also when not readable: mode 0400 (root only) since 5.6, see `unavailable`."""
    slabinfo: SlabInfo | None = None
    """proc/slabinfo: mode 0400 (root only); None when not readable, see `unavailable`."""
    hugepages: tuple[HugePagePool, ...] | None = None
    """sys/kernel/mm/hugepages/hugepages-*kB: one pool per size; None when the root lacks it."""
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """relative path -> why it could not be read (missing, permission denied, `malformed: ...`)."""
    hints: Mapping[str, str] = field(default_factory=dict)
    """relative path (a key of `unavailable`) -> what the user can do about it (the file
    registry's hint: run as root, mount debugfs, a kernel with CONFIG_PSI...)."""
    clock_ticks_per_second: int | None = None
    """USER_HZ, the unit of /proc/<pid>/stat times: sysconf(_SC_CLK_TCK) live, or what the
    capture's MANIFEST recorded; None for a capture that did not record it."""
    notes: tuple[str, ...] = ()
    absence_is_known: bool = True
    """True when a missing file is one the kernel lacks: read live, or from a memstall
    capture (its MANIFEST says why each file is missing). False for a sosreport or a copied
    tree: absent there says nothing about the kernel (THP unknown, not off)."""

    @property
    def user_hz(self) -> int:
        """clock_ticks_per_second, or 100 when not recorded (model.kthreads.ASSUMED_USER_HZ)."""
        return self.clock_ticks_per_second or ASSUMED_USER_HZ

    @property
    def kernel(self) -> KernelVersion | None:
        return KernelVersion.parse(self.kernel_release) if self.kernel_release else None
