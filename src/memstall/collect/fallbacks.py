"""Data present in another form: what the reader uses when a file is absent.

- proc/meminfo, proc/vmstat: the per-node files summed (analysis/node_sums.py), when they
  cover every node that has zones;
- kernel release: proc/version, then a sosreport's `uname -a`, when osrelease is absent;
- kswapd/kcompactd CPU time: a sosreport's `ps auxwww`, when no proc/<pid>/stat is there.

Each use is said in a note. The debugfs extfrag/unusable indices are the one pair that is
computed rather than read (outputs/show_files.py, from buddyinfo).
"""

from __future__ import annotations

from typing import Any, Callable

from memstall import specs
from memstall.analysis.node_sums import missing_nodes, sum_meminfo, sum_vmstat
from memstall.errors import ParseError, SourceUnavailable
from memstall.parsers.ps import parse_ps_kthreads
from memstall.parsers.version import parse_proc_version, parse_uname_a
from memstall.sources import Source

PROC_VERSION, SOS_UNAME_A, SOS_PS = specs.PROC_VERSION, specs.SOS_UNAME_A, specs.SOS_PS

_ABSENT = ("no such file", "not in this sosreport")

# Host-wide file -> (SystemState field, per-node field, summing function, what is lost).
_SUMMED: dict[str, tuple[str, str, Callable[[Any], Any], str]] = {
    specs.MEMINFO: ("meminfo", "node_meminfo", sum_meminfo,
                    "the lines only the host file prints (MemAvailable, Cached, Swap*) are absent, "
                    "and older kernels count a node's present, not managed, pages in its MemTotal"),
    specs.VMSTAT: ("vmstat", "node_vmstat", sum_vmstat,
                   "event counters (pgscan_*, allocstall_*, compact_*) exist only host-wide "
                   "and are absent"),
}


def _zone_nodes(values: dict[str, Any]) -> tuple[int, ...] | None:
    for name in ("zoneinfo", "buddyinfo"):
        table = values.get(name)
        if table is not None:
            return tuple(sorted({z.node for z in table.zones}))
    return None


def summed_from_nodes(values: dict[str, Any], unavailable: dict[str, str]) -> list[str]:
    """Fill an absent (not malformed) meminfo/vmstat from the per-node files; the notes."""
    notes = []
    for rel, (field, per_node, add, lost) in _SUMMED.items():
        nodes = values.get(per_node) or {}
        # Only for a file that is not there: never in place of one refused (a symlink out
        # of the capture, permission denied) or malformed.
        if values.get(field) is not None or not nodes or unavailable.get(rel) not in _ABSENT:
            continue
        pattern = f"{specs.NODE_DIR}/node*/{rel.rsplit('/', 1)[1]}"
        zone_nodes = _zone_nodes(values)
        lacking = missing_nodes(nodes, zone_nodes) if zone_nodes else ()
        if lacking:
            notes.append(f"{rel} is absent and {pattern} lacks node{'s' * (len(lacking) > 1)} "
                         f"{', '.join(map(str, lacking))}: not summed (it would undercount)")
            continue
        values[field] = add(nodes)
        checked = "" if zone_nodes else " (no zoneinfo or buddyinfo to check that every node is there)"
        notes.append(f"{rel} is absent: summed from {pattern} over node{'s' * (len(nodes) > 1)} "
                     f"{', '.join(map(str, sorted(nodes)))}{checked}; {lost}")
    return notes


def _read(source: Source, rel: str, parse: Callable[[str, str], Any]) -> Any:
    """`parse` of `rel`, or None when it is absent or not of its shape (a fallback is optional)."""
    try:
        return parse(source.read_text(rel), rel) if source.exists(rel) else None
    except (SourceUnavailable, ParseError):
        return None


def release_elsewhere(source: Source) -> tuple[str, str] | None:
    """(release, note) from proc/version or `uname -a`, for a root without osrelease."""
    for rel, parse in ((PROC_VERSION, parse_proc_version), (SOS_UNAME_A, parse_uname_a)):
        release = _read(source, rel, parse)
        if release:
            return release, f"kernel release {release} read from {rel} ({specs.OSRELEASE} is absent)"
    return None


def kthreads_from_ps(source: Source) -> tuple[tuple[Any, ...], str | None]:
    """kswapd/kcompactd rows of a sosreport's ps output, and the note saying so."""
    rows = _read(source, SOS_PS, parse_ps_kthreads)
    if not rows:
        return (), None
    return rows, (f"kswapd/kcompactd CPU time read from {SOS_PS} (no proc/<pid>/stat): whole "
                  "seconds, and ps's %CPU is the share since each thread started")


# Buddy orders -> page size, for a capture that did not record its page size. With 4 KiB
# pages every architecture but a custom build has 11 orders (MAX_ORDER 11, 0..10). arm64
# needs an order as large as a PMD huge page: FORCE_MAX_ZONEORDER defaults to 14 with 64
# KiB pages (arch/arm64/Kconfig, 4.x; ARCH_FORCE_MAX_ORDER 13, inclusive, since 6.4), so
# 14 orders are 64 KiB pages (a 512 MiB huge page is order 13).
_ORDERS_PAGE_SIZE = {14: 65536}


def page_size_from_orders(buddyinfo: Any) -> tuple[int, str] | None:
    """(page size, note) inferred from buddyinfo's order count, or None (4 KiB stays)."""
    if buddyinfo is None or not buddyinfo.zones:
        return None
    orders = {len(z.free_blocks) for z in buddyinfo.zones}
    size = _ORDERS_PAGE_SIZE.get(orders.pop()) if len(orders) == 1 else None
    if size is None:
        return None
    return size, (f"page size not recorded in this capture: {size} bytes inferred from the "
                  f"{len(buddyinfo.zones[0].free_blocks)} buddy orders of {specs.BUDDYINFO} "
                  f"(arm64 with {size // 1024} KiB pages; 4 KiB pages have 11)")


# MemTotal is totalram_pages, the sum of every zone's managed pages: on the host they agree
# to the page. lxcfs (LXD, some Docker set-ups) serves a container its cgroup limit as
# MemTotal instead, while zoneinfo/buddyinfo stay the host's.
CONTAINER_RATIO = 0.9
CONTAINER_REASON = "a container's view, not the host's (see the notes)"


def container_view(values: dict[str, Any], page_size: int) -> str | None:
    """Why proc/meminfo is not the host's (its MemTotal well below the zones'), or None."""
    meminfo, zoneinfo = values.get("meminfo"), values.get("zoneinfo")
    total_kib = meminfo.kib("MemTotal") if meminfo is not None else None
    if total_kib is None or zoneinfo is None:
        return None
    zones_kib = sum(z.managed_pages if z.managed_pages is not None else z.present_pages
                    for z in zoneinfo.zones) * page_size // 1024
    if total_kib >= CONTAINER_RATIO * zones_kib:
        return None
    return (f"{specs.MEMINFO} is a container's view (lxcfs, a cgroup limit) or another "
            f"machine's: MemTotal {total_kib} kB, but the zones of {specs.ZONEINFO} manage "
            f"{zones_kib} kB; left out of the analysis so that the two are not mixed "
            "(`show meminfo` still shows it)")
