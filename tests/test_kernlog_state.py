"""analysis/log_state: a log's Mem-Info as the SystemState a live snapshot gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from memstall.analysis.fragmentation import unusable_index_milli
from memstall.analysis.log_state import state_from_mem_info
from memstall.collect import load_state
from memstall.model.kernlog import MemInfoDump
from memstall.outputs.logs_snapshot import snapshot_files
from memstall.parsers.kernlog import scan_text
from memstall.sources import open_root
from memstall.sources.capture import Capture, write_capture

CORPUS = Path(__file__).parent / "fixtures" / "kernlog" / "corpus"


def _dumps(prefix: str) -> list[MemInfoDump]:
    log = next(CORPUS.glob(f"{prefix}-*.log"))
    scan = scan_text(log.read_text(), log.name)
    found = [e.mem_info for e in scan.events if e.mem_info is not None]
    return sorted([*found, *scan.standalone_mem_info], key=lambda d: d.line_no)


ALL_DUMPS = [(p.name[:3], d) for p in sorted(CORPUS.glob("*.log")) for d in _dumps(p.name[:3])]


def test_seed_log_becomes_zoneinfo_buddyinfo_and_meminfo() -> None:
    dump = _dumps("000")[0]
    st = state_from_mem_info(dump, kernel_release="4.9.0-8-amd64")
    assert st.page_size == 4096 and st.kernel is not None and st.kernel.at_least(4, 9)
    assert st.zoneinfo is not None and st.buddyinfo is not None and st.meminfo is not None
    normal = st.zoneinfo.zone(0, "Normal")
    assert normal is not None
    assert (normal.free_pages, normal.min_pages, normal.low_pages, normal.high_pages) == (
        43880 // 4, 44456 // 4, 174456 // 4, 304456 // 4)
    assert (normal.managed_pages, normal.present_pages) == (130008524 // 4, 132120576 // 4)
    assert normal.protection_pages == (0, 0, 0, 0, 0)
    assert st.zoneinfo.zone(0, "DMA").protection_pages == (0, 1346, 128303, 128303, 128303)  # type: ignore[union-attr]
    assert st.zoneinfo.zone(1, "Normal") is None  # the log prints no zone line for node 1
    node1 = st.buddyinfo.zone(1, "Normal")
    assert node1 is not None and node1.free_blocks[:3] == (6038, 2987, 39)
    assert any("node1/Normal: buddy line but no zone line" in n for n in st.notes)
    assert st.meminfo.kib("MemFree") == 153575 * 4
    assert st.meminfo.kib("Dirty") == 1270262 * 4
    assert st.meminfo.kib("Hugetlb") == 2 * 32768 * 2048
    assert st.meminfo.count("HugePages_Total") == 65536
    assert st.meminfo.kib("MemTotal") is None  # node 1's zones are missing: no honest total
    assert sorted(st.node_meminfo) == [0, 1]
    assert st.node_meminfo[1].kib("Active(file)") == 55990052
    assert {n.node for n in st.zoneinfo.nodes} == {0}  # node 1 has no zone to carry its stats
    # the analysis layer runs on it unchanged: nothing free at order 6 or above in node0/Normal
    areas = st.buddyinfo.zone(0, "Normal")
    assert areas is not None and unusable_index_milli(areas.free_blocks, 6) == 1000
    assert "proc/vmstat" in st.unavailable


def test_kern_cont_breakage_node_is_inferred_and_said() -> None:
    st = state_from_mem_info(_dumps("007")[0])
    assert st.zoneinfo is not None and [z.node for z in st.zoneinfo.zones] == [0, 0]
    assert "node0/DMA32: the zone line has no 'Node N' prefix; node 0 inferred" in st.notes
    assert st.zoneinfo.zone(0, "DMA32").min_pages == 44696 // 4  # type: ignore[union-attr]


def test_6x_boost_and_five_entry_reserve() -> None:
    st = state_from_mem_info(_dumps("013")[0])
    dma = st.zoneinfo.zone(0, "DMA")  # type: ignore[union-attr]
    assert dma is not None and dma.boost_pages == 0 and dma.protection_pages == (0, 1631, 95659, 95659, 95659)
    assert st.meminfo is not None and st.meminfo.kib("MemTotal") == (15360 + 1671004 + 96284696)


def test_2_6_16_numa_node1_first_and_empty_zones() -> None:
    st = state_from_mem_info(_dumps("034")[0])
    assert st.zoneinfo is not None
    assert [(z.node, z.zone, z.present_pages) for z in st.zoneinfo.zones][:4] == [
        (1, "DMA", 0), (1, "DMA32", 0), (1, "Normal", 8273920 // 4), (1, "HighMem", 0)]
    assert st.zoneinfo.zone(0, "Normal").managed_pages is None  # type: ignore[union-attr]
    assert [z.subject for z in st.buddyinfo.zones] == ["node1/Normal", "node0/DMA", "node0/DMA32"]  # type: ignore[union-attr]


def test_2_6_3_zone_without_present_is_said() -> None:
    st = state_from_mem_info(_dumps("003")[0])
    assert st.zoneinfo is not None and st.zoneinfo.zone(0, "HighMem").present_pages == 0  # type: ignore[union-attr]
    assert any("present not printed" in n for n in st.notes)


def test_page_size_comes_from_the_buddy_base_block() -> None:
    dump = scan_text("Mem-Info:\nDMA free:6400kB min:640kB low:1280kB high:1920kB present:65536kB\n"
                     "DMA: 3*64kB (M) 1*128kB = 320kB\n").standalone_mem_info[0]
    st = state_from_mem_info(dump)
    assert st.page_size == 65536
    assert st.zoneinfo.zones[0].free_pages == 100 and st.zoneinfo.zones[0].min_pages == 10  # type: ignore[union-attr]
    assert st.buddyinfo.zones[0].free_blocks == (3, 1)  # type: ignore[union-attr]
    assert state_from_mem_info(dump, page_size=4096).buddyinfo is None  # 64kB blocks are not 4k pages


@pytest.mark.parametrize(("num", "dump"), ALL_DUMPS, ids=[f"{n}@{d.line_no}" for n, d in ALL_DUMPS])
def test_every_corpus_dump_converts_exactly(num: str, dump: MemInfoDump) -> None:
    st = state_from_mem_info(dump)
    page_kb = st.page_size // 1024
    printed = {(z.zone, z.free_kb) for z in dump.zones if z.free_kb is not None and z.min_kb is not None
               and z.low_kb is not None and z.high_kb is not None}
    got = {(z.zone, z.free_pages * page_kb) for z in st.zoneinfo.zones} if st.zoneinfo else set()
    assert got == printed, num
    for b in st.buddyinfo.zones if st.buddyinfo else ():
        line = next(x for x in dump.buddy if x.zone == b.zone and x.counts == b.free_blocks)
        assert b.free_pages * page_kb == sum(c * s for c, s in zip(line.counts or (), line.sizes_kb))


@pytest.mark.parametrize(("num", "dump"), [(n, d) for n, d in ALL_DUMPS if d.zones and d.buddy],
                         ids=[f"{n}@{d.line_no}" for n, d in ALL_DUMPS if d.zones and d.buddy])
def test_snapshot_files_read_back_identically(tmp_path: Path, num: str, dump: MemInfoDump) -> None:
    """--as-snapshot writes kernel formats that the ordinary parsers read back to the same model."""
    st = state_from_mem_info(dump, kernel_release="4.9.0")
    files, manifest = snapshot_files(st, dump, "h", None)
    write_capture(Capture(files=files), manifest, str(tmp_path / "s"), 0.0)
    back = load_state(open_root(str(tmp_path / "s")))
    assert back.zoneinfo == st.zoneinfo, num
    assert back.buddyinfo == st.buddyinfo
    assert (back.meminfo is None) == (st.meminfo is None)
    if back.meminfo is not None and st.meminfo is not None:
        assert dict(back.meminfo.fields_kib) == dict(st.meminfo.fields_kib)
        assert dict(back.meminfo.counts) == dict(st.meminfo.counts)
    assert back.page_size == st.page_size and back.kernel_release == "4.9.0"
