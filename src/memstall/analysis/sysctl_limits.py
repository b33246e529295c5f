"""sysctl_limits — the ranges the kernel accepts for the vm knobs memstall reasons about.

One table, per kernel era, of what a write to /proc/sys/vm/<name> accepts (values outside
fail with EINVAL), the default and the release that added the knob. `diagnose` uses it to
keep recommendations in range; `tune` uses it to refuse a value before writing it.
Judgement is not here: the safety limits (min_free_kbytes as a share of RAM...) are in
tune/safety.py, where --force can override them, and the risk of each change in
advice/risks.py.

Sources: docs/kernel.md#vm-sysctl-ranges and Documentation/admin-guide/sysctl/vm.rst; the commit or
release beside each entry.

>>> limits_for("vm.watermark_scale_factor", KernelVersion(5, 15)).max_value
1000
>>> limits_for("vm.watermark_scale_factor", KernelVersion(6, 1)).max_value
3000
>>> validate("vm.watermark_scale_factor", 3001, KernelVersion(6, 1))
'vm.watermark_scale_factor must be between 1 and 3000 on Linux 6.1 (got 3001)'
>>> validate("vm.compaction_proactiveness", 20, KernelVersion(5, 4))
'vm.compaction_proactiveness does not exist before Linux 5.9 (this kernel: 5.4)'
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.model.kernel import KernelVersion
from memstall.model.sysctl_name import sysctl_name

# Assumed when the kernel version is unknown: the newest ranges (as analysis/watermarks).
NEWEST = KernelVersion(6, 18, 0)


@dataclass(frozen=True)
class SysctlLimit:
    """What the kernel accepts for one sysctl on one kernel era."""

    name: str
    """Full dotted name, e.g. 'vm.watermark_scale_factor'."""
    min_value: int
    max_value: int | None
    """None: no upper bound in the kernel's table (only the C type's)."""
    default: int | None
    """The boot default; None when the kernel computes it (min_free_kbytes)."""
    introduced: KernelVersion | None
    """First release with this knob; None: older than anything memstall supports."""
    note: str
    excluded: tuple[int, int] | None = None
    """An inclusive range inside [min, max] the kernel still rejects (1..7 for
    percpu_pagelist_high_fraction: 0 means "default", else at least 8)."""
    until: KernelVersion | None = None
    """First release where this entry no longer applies (the next era starts there)."""


def _k(major: int, minor: int) -> KernelVersion:
    return KernelVersion(major, minor)


# Every era of every knob. Entries of one name are in release order and must not overlap.
_TABLE: tuple[SysctlLimit, ...] = (
    SysctlLimit("vm.min_free_kbytes", 0, None, None, None,
                "kB kept free; split across lowmem zones by managed size. Default "
                "4*sqrt(lowmem kB) clamped to 128..65536 (262144 from 5.7), raised by khugepaged "
                "when THP is on. Below 1024 the kernel is 'subtly broken'; too high OOMs at once."),
    # 795ae7a0de6b (4.6) added it with max 1000; 39c65a94cd96 (5.17) raised the max to 3000.
    SysctlLimit("vm.watermark_scale_factor", 1, 1000, 10, _k(4, 6),
                "1/10000 of zone managed memory between min->low and low->high; only matters "
                "when managed*wsf/10000 > min/4.", until=_k(5, 17)),
    SysctlLimit("vm.watermark_scale_factor", 1, 3000, 10, _k(4, 6),
                "1/10000 of zone managed memory between min->low and low->high; max raised "
                "to 3000 (30%) in 5.17 (39c65a94cd96)."),
    # 1c30844d2dfe (5.0): boost after fragmentation events; 0 disables; SYSCTL_ZERO only.
    SysctlLimit("vm.watermark_boost_factor", 0, None, 15000, _k(5, 0),
                "1/10000 of the high watermark kswapd may reclaim extra after a fallback "
                "steals a pageblock; 0 disables boosting."),
    # 5e7719058079 (2.6.35): min_extfrag_threshold=0, max_extfrag_threshold=1000.
    SysctlLimit("vm.extfrag_threshold", 0, 1000, 500, KernelVersion(2, 6, 35),
                "compaction is skipped for a zone whose fragmentation index of the requested "
                "order is in [0, threshold]; only orders > 3 on modern kernels."),
    SysctlLimit("vm.vfs_cache_pressure", 0, None, 100, None,
                "dentry/inode reclaim weight in percent; 0 never reclaims them (OOM risk)."),
    # e7b9cea718ee, first released in 6.16; "minimum allowed value" 100.
    SysctlLimit("vm.vfs_cache_pressure_denom", 100, None, 100, _k(6, 16),
                "denominator of vfs_cache_pressure: ratio = x*pressure/denom."),
    # facdaa917c4d (5.9): proactive compaction.
    SysctlLimit("vm.compaction_proactiveness", 0, 100, 20, _k(5, 9),
                "how hard kcompactd compacts in the background; 0 disables (RHEL 8.4 ships 0)."),
    SysctlLimit("vm.dirty_ratio", 0, 100, 20, None,
                "percent of available memory that may be dirty before writers block; "
                "writing it zeroes dirty_bytes."),
    SysctlLimit("vm.dirty_background_ratio", 0, 100, 10, None,
                "percent of available memory dirty before background writeback starts; "
                "writing it zeroes dirty_background_bytes."),
    # extra1 = &dirty_bytes_min = 2 * PAGE_SIZE; 8192 assumes 4 KiB pages.
    SysctlLimit("vm.dirty_bytes", 8192, None, 0, None,
                "bytes dirty before writers block; the minimum is two pages (8192 with 4 KiB "
                "pages); reads 0 while dirty_ratio is in use."),
    # extra1 = SYSCTL_LONG_ONE.
    SysctlLimit("vm.dirty_background_bytes", 1, None, 0, None,
                "bytes dirty before background writeback; reads 0 while "
                "dirty_background_ratio is in use."),
    SysctlLimit("vm.dirty_expire_centisecs", 0, None, 3000, None,
                "age in 1/100 s after which dirty data is written out."),
    SysctlLimit("vm.dirty_writeback_centisecs", 0, None, 500, None,
                "flusher wake-up interval in 1/100 s; 0 disables periodic writeback."),
    # c843966c556d (5.8): "mm: allow swappiness that prefers reclaiming anon over the file
    # workingset" raised the max from 100 to 200.
    SysctlLimit("vm.swappiness", 0, 100, 60, None,
                "relative IO cost of swapping vs. dropping page cache.", until=_k(5, 8)),
    SysctlLimit("vm.swappiness", 0, 200, 60, None,
                "relative IO cost of swapping vs. dropping page cache; max 200 since 5.8."),
    SysctlLimit("vm.zone_reclaim_mode", 0, None, 0, None,
                "bit mask: 1 reclaim locally before going off-node, 2 write dirty pages, "
                "4 swap; the kernel accepts any non-negative value."),
    # Johannes Weiner, 6.15: "tries harder to avoid fragmentation".
    SysctlLimit("vm.defrag_mode", 0, 1, 0, _k(6, 15),
                "1: the allocator avoids fragmenting fallbacks; enable right after boot."),
    # 5.14 (Mel Gorman) replaced percpu_pagelist_fraction; 0 = default sizing, else >= 8
    # (MIN_PERCPU_PAGELIST_HIGH_FRACTION), values 1..7 fail with EINVAL.
    SysctlLimit("vm.percpu_pagelist_high_fraction", 0, None, 0, _k(5, 14),
                "per-cpu page list high mark as a fraction of the zone: 0 = kernel default, "
                "else at least 8.", excluded=(1, 7)),
    SysctlLimit("vm.overcommit_memory", 0, 2, 0, None,
                "0 heuristic, 1 always overcommit, 2 strict (overcommit_ratio/kbytes)."),
    SysctlLimit("vm.overcommit_ratio", 0, None, 50, None,
                "percent of RAM counted in CommitLimit when overcommit_memory = 2."),
    SysctlLimit("vm.admin_reserve_kbytes", 0, None, None, _k(3, 10),
                "kB reserved for root when overcommit_memory = 2; default min(3% free, 8 MiB)."),
    SysctlLimit("vm.user_reserve_kbytes", 0, None, None, _k(3, 10),
                "kB kept back from one process under overcommit_memory = 2; default "
                "min(3% of the process size, 128 MiB)."),
)

_BY_NAME: dict[str, tuple[SysctlLimit, ...]] = {}
for _entry in _TABLE:
    _BY_NAME[_entry.name] = (*_BY_NAME.get(_entry.name, ()), _entry)


def known_names() -> tuple[str, ...]:
    """Every sysctl with an entry, sorted."""
    return tuple(sorted(_BY_NAME))


def limits_for(name: str, kernel: KernelVersion | None) -> SysctlLimit | None:
    """The entry for `name` on `kernel` (the newest era when unknown); None if not in the table.

    The entry is returned even if `kernel` predates the knob: compare `introduced`.
    """
    eras = _BY_NAME.get(sysctl_name(name))
    if not eras:
        return None
    k = kernel or NEWEST
    for era in eras:
        if era.until is None or k < era.until:
            return era
    return eras[-1]


def _fmt_kernel(k: KernelVersion) -> str:
    # 2.6.x releases are named by their third number.
    return f"{k.major}.{k.minor}.{k.patch}" if k.major < 3 else f"{k.major}.{k.minor}"


def as_int(value: int | str) -> int | None:
    """The integer a sysctl value holds, or None when it is not one integer.

    >>> as_int(" 20\\n"), as_int("-1"), as_int("1 2"), as_int("6O"), as_int("\\u0661\\u0660"), as_int("\\xb2")
    (20, -1, None, None, None, None)
    """
    if isinstance(value, int):
        return value
    text = value.strip(" \t\n")
    body = text[1:] if text.startswith("-") else text
    # ASCII only: str.isdigit() is also true of '²' (int() refuses it) and '١٠' (int() reads 10).
    return int(text) if body.isascii() and body.isdigit() else None


def absent_reason(name: str, kernel: KernelVersion | None) -> str | None:
    """Why `name` cannot exist on `kernel` (it came later), or None (it may; unknown kernel).

    >>> absent_reason("vm.defrag_mode", KernelVersion(6, 1))
    'vm.defrag_mode does not exist before Linux 6.15 (this kernel: 6.1)'
    """
    limit = limits_for(name, kernel)
    if limit is None or limit.introduced is None or kernel is None or kernel >= limit.introduced:
        return None
    return (f"{limit.name} does not exist before Linux {_fmt_kernel(limit.introduced)} "
            f"(this kernel: {_fmt_kernel(kernel)})")


def validate(name: str, value: int | str, kernel: KernelVersion | None) -> str | None:
    """Why the kernel would refuse `value` for `name`, or None when it is in range.

    Names without an entry are not judged here (None): the caller decides what to do
    with knobs memstall does not know.
    """
    limit = limits_for(name, kernel)
    if limit is None:
        return None
    full = limit.name
    absent = absent_reason(name, kernel)
    if absent is not None:
        return absent
    number = as_int(value)
    if number is None:
        return f"{full} takes one integer (got {str(value).strip()!r})"
    on = f" on Linux {_fmt_kernel(kernel)}" if kernel is not None else ""
    if limit.max_value is None:
        if number < limit.min_value:
            return f"{full} must be at least {limit.min_value}{on} (got {number})"
    elif not limit.min_value <= number <= limit.max_value:
        return (f"{full} must be between {limit.min_value} and {limit.max_value}{on} "
                f"(got {number})")
    if limit.excluded is not None and limit.excluded[0] <= number <= limit.excluded[1]:
        lo, hi = limit.excluded
        return f"{full} rejects {lo}..{hi}: use 0 (kernel default) or at least {hi + 1} (got {number})"
    return None


__all__ = ["NEWEST", "SysctlLimit", "absent_reason", "as_int", "known_names", "limits_for", "validate"]
