"""The running kernel vs memstall, digit for digit (opt-in with --live; root on Linux only).

- debugfs extfrag_index / unusable_index vs the indices recomputed from /proc/buddyinfo,
  compared only when buddyinfo read before and after the debugfs files is identical;
- every zone of /proc/zoneinfo vs the watermark calculator (boost subtracted, promo too);
- every file memstall reads parses on this host; MemTotal/MemFree agree with `free -b`.
debugfs is mounted if needed and unmounted only if this test mounted it: that test is
`live_write`, the others only read (`live`).
"""

from __future__ import annotations

import gc
import os
import platform
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from memstall.analysis.fragmentation import fragmentation_index_milli, unusable_index_milli
from memstall.analysis.watermarks import ZoneSize, compute_watermarks
from memstall.analysis.zone_watermarks import watermark_rows
from memstall.collect import load_state
from memstall.model.extfrag import ExtfragIndexFile, ZoneIndex
from memstall.model.kernel import KernelVersion
from memstall.outputs.kernel_text import (
    format_buddyinfo,
    format_extfrag,
    format_meminfo,
    format_vmstat,
)
from memstall.parsers.buddyinfo import parse_buddyinfo
from memstall.parsers.meminfo import parse_meminfo
from memstall.parsers.vmstat import parse_vmstat
from memstall.parsers.zoneinfo import parse_zoneinfo
from memstall.sources import open_root

DEBUGFS = Path("/sys/kernel/debug")
EXTFRAG = DEBUGFS / "extfrag"
TRIALS = 30
MIN_STABLE = 3


def _unmount(path: Path) -> None:
    """Unmount what this test mounted. memstall keeps no descriptor under debugfs
    (sources/live.keepable), but another holder (a reader not yet collected) may: collect,
    then retry; as a last resort detach it (umount -l: gone once the last holder closes),
    so the host is left as the test found it and the test still fails loudly."""
    if subprocess.run(["umount", str(path)], check=False).returncode == 0:
        return
    gc.collect()
    if subprocess.run(["umount", str(path)], check=False).returncode == 0:
        return
    subprocess.run(["umount", "-l", str(path)], check=True)
    pytest.fail(f"{path} was busy at teardown: unmounted lazily (a descriptor was left open in it)")


@pytest.fixture(scope="module")
def debugfs() -> Iterator[Path]:
    mounted = False
    if not EXTFRAG.exists():
        if not os.path.ismount(DEBUGFS):
            done = subprocess.run(["mount", "-t", "debugfs", "debugfs", str(DEBUGFS)],
                                  capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"cannot mount debugfs: {done.stderr.strip()}"
            mounted = True
        if not EXTFRAG.exists():
            if mounted:
                subprocess.run(["umount", str(DEBUGFS)], check=False)
            pytest.skip("no debugfs extfrag directory: kernel without CONFIG_COMPACTION/DEBUG_FS")
    try:
        yield EXTFRAG
    finally:
        if mounted:
            _unmount(DEBUGFS)


def _kernel_line(node: int, zone: str, values_milli: list[int], unusable: bool) -> str:
    """The line outputs/kernel_text writes (mm/vmstat.c: "Node %d, zone %8s " then a value per order)."""
    return format_extfrag(ExtfragIndexFile((ZoneIndex(node, zone, tuple(values_milli)),)), unusable)[:-1]


def _compare(buddy_text: str, extfrag: str, unusable: str) -> int:
    buddy = parse_buddyinfo(buddy_text)
    by_zone = {(z.node, z.zone): z.free_blocks for z in buddy.zones}
    compared = 0
    for text, unusable_file, compute in ((extfrag, False, fragmentation_index_milli),
                                         (unusable, True, unusable_index_milli)):
        for line in text.splitlines():
            head = line.split()
            node, zone = int(head[1].rstrip(",")), head[3]
            blocks = by_zone[(node, zone)]
            mine = _kernel_line(node, zone, [compute(blocks, o) for o in range(len(blocks))], unusable_file)
            assert mine == line, f"memstall {mine!r} != kernel {line!r}"
            compared += len(blocks)
    return compared


@pytest.mark.live_write  # may mount debugfs
def test_extfrag_and_unusable_index_equal_debugfs(debugfs: Path) -> None:
    stable = compared = 0
    for _ in range(TRIALS):
        before = Path("/proc/buddyinfo").read_text()
        extfrag = (debugfs / "extfrag_index").read_text()
        unusable = (debugfs / "unusable_index").read_text()
        after = Path("/proc/buddyinfo").read_text()
        if before != after:
            continue  # not atomic with debugfs (docs/kernel.md#debugfs-extfrag-files): discard the sample
        stable += 1
        compared += _compare(before, extfrag, unusable)
        if stable >= MIN_STABLE:
            break
    assert stable >= MIN_STABLE, f"buddyinfo changed in {TRIALS - stable} of {TRIALS} trials"
    assert compared > 0


def test_kernel_text_writes_buddyinfo_and_vmstat_as_the_kernel_does() -> None:
    """outputs/kernel_text against the kernel itself: parse then write gives the bytes back."""
    buddy = Path("/proc/buddyinfo").read_text()
    assert format_buddyinfo(parse_buddyinfo(buddy)) == buddy
    vmstat = Path("/proc/vmstat").read_text()
    assert format_vmstat(parse_vmstat(vmstat)) == vmstat
    meminfo = Path("/proc/meminfo").read_text()  # the writer puts the HugePages_* counts last
    assert sorted(format_meminfo(parse_meminfo(meminfo)).splitlines()) == sorted(meminfo.splitlines())


def _int_file(path: str) -> int:
    return int(Path(path).read_text().split()[0])


@pytest.mark.live
def test_watermark_calculator_equals_every_zone_of_zoneinfo() -> None:
    zoneinfo = parse_zoneinfo(Path("/proc/zoneinfo").read_text())
    mfk = _int_file("/proc/sys/vm/min_free_kbytes")
    wsf_path = Path("/proc/sys/vm/watermark_scale_factor")
    wsf = _int_file(str(wsf_path)) if wsf_path.exists() else 10
    kernel = KernelVersion.parse(platform.release())
    sizes = [ZoneSize(z.node, z.zone, z.managed_pages if z.managed_pages is not None else z.present_pages)
             for z in zoneinfo.zones]
    computed = compute_watermarks(sizes, mfk, wsf, os.sysconf("SC_PAGE_SIZE"), kernel)
    assert len(computed) == len(zoneinfo.zones) > 0
    for zone, mine in zip(zoneinfo.zones, computed):
        wmin, low, high, promo = zone.watermarks_without_boost()
        assert (mine.min_pages, mine.low_pages, mine.high_pages) == (wmin, low, high), zone.subject
        if promo is not None:  # printed since 6.12
            assert mine.promo_pages == promo, zone.subject
    # The same through memstall's own pipeline (load_state -> watermark_rows).
    rows = watermark_rows(load_state(open_root("/")))
    assert rows
    assert all(r.matches for r in rows), [r.zone.subject for r in rows if not r.matches]


@pytest.mark.live
def test_every_file_memstall_reads_parses_on_this_host() -> None:
    state = load_state(open_root("/"))
    for name in ("buddyinfo", "zoneinfo", "vmstat", "meminfo", "sysctl_vm", "uptime_seconds",
                 "kernel_release"):
        assert getattr(state, name) is not None, f"{name}: {dict(state.unavailable)}"
    if Path("/proc/pressure/memory").exists():
        assert state.psi_memory is not None
    if Path("/proc/pagetypeinfo").exists():
        assert state.pagetypeinfo is not None  # root reads it
    if Path("/sys/kernel/mm/transparent_hugepage/enabled").exists():
        assert state.thp is not None
    assert any(k.comm.startswith("kswapd") for k in state.kthreads)
    nodes = [p for p in Path("/sys/devices/system/node").glob("node[0-9]*") if (p / "vmstat").exists()]
    assert sorted(state.node_vmstat) == sorted(int(p.name[4:]) for p in nodes)
    assert state.buddyinfo is not None and state.zoneinfo is not None
    populated = {(z.node, z.zone) for z in state.zoneinfo.zones if z.present_pages > 0}
    assert {(z.node, z.zone) for z in state.buddyinfo.zones} <= populated | {
        (z.node, z.zone) for z in state.zoneinfo.zones}


def _free_b() -> tuple[int, int]:
    free = shutil.which("free")
    if free is None:
        pytest.skip("free (procps) is not installed")
    out = subprocess.run([free, "-b"], capture_output=True, text=True, check=True).stdout
    mem = next(line for line in out.splitlines() if line.startswith("Mem:")).split()
    return int(mem[1]), int(mem[3])


@pytest.mark.live
def test_meminfo_agrees_with_free() -> None:
    before = parse_meminfo(Path("/proc/meminfo").read_text())
    total_b, free_b = _free_b()
    after = parse_meminfo(Path("/proc/meminfo").read_text())
    assert before.kib("MemTotal") is not None and before.kib("MemFree") is not None
    assert total_b == before.kib("MemTotal") * 1024  # type: ignore[operator]
    # MemFree moves between the reads: free's value lies between ours (plus a little slack).
    lo = min(before.kib("MemFree"), after.kib("MemFree")) * 1024  # type: ignore[type-var,operator]
    hi = max(before.kib("MemFree"), after.kib("MemFree")) * 1024  # type: ignore[type-var,operator]
    slack = 64 * 1024 * 1024
    assert lo - slack <= free_b <= hi + slack
