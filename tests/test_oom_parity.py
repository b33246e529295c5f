"""OOMAnalyser parity: every OOM text its tests feed it, and the values its tests assert.

Inputs: ../shared/peer-parity/oomanalyser/*.log (read in place, never copied). Expected values
are transcribed from OOMAnalyser's own test.py (CarstenGrohmann/OOMAnalyser b35dd5f); each
case names the peer test it comes from. Where memstall reports a value another way (a kill
forced by hand, the "below the low watermark" verdict) the mapping is said beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import SHARED, run_cli
from memstall.analysis.oom_cause import has_free_block
from memstall.model.oom import UNLIMITED_KB, UNLIMITED_KB_32, MemcgCounter
from memstall.parsers.kernlog import scan_text

PEER = SHARED / "peer-parity" / "oomanalyser"
LOGS = sorted(PEER.glob("*.log"))

pytestmark = pytest.mark.skipif(not PEER.is_dir(),
                                reason="../shared/peer-parity is not beside the repository")


def _doc(name: str) -> dict[str, Any]:
    r = run_cli("logs", "--format", "json", str(PEER / f"{name}.log"))
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert len(doc["events"]) == 1, name
    event: dict[str, Any] = doc["events"][0]
    return event


def _event(name: str) -> Any:
    events = scan_text((PEER / f"{name}.log").read_text(), name).events
    assert len(events) == 1
    return events[0]


@pytest.mark.parametrize("path", LOGS, ids=[p.stem for p in LOGS])
def test_every_peer_log_gives_one_oom_event(path: Path) -> None:
    e = _doc(path.stem)
    assert e["kind"] == "oom" and e["oom"] is not None
    incomplete = path.stem in ("begin_but_no_end", "no_begin_but_end")
    assert e["oom"]["incomplete"] is incomplete


# --- TestPython -------------------------------------------------------------------------------

def test_010_trigger_proc_space() -> None:
    assert _doc("rhel7_trigger_proc_space")["comm"] == "VM Monitoring Task"


@pytest.mark.parametrize("name,comm", [("simple", "sed"), ("with-spaces", "VM Monitoring Task"),
                                       ("special-chars", "kworker/0:1"), ("hyphen", "php-fpm")])
def test_020_killed_proc_space(name: str, comm: str) -> None:
    victim = _doc(f"rhel7_killed_name_{name}")["oom"]["victim"]
    assert (victim["pid"], victim["comm"], victim["oom_score"]) == (6576, comm, 651)


def test_060_kill_proc_space() -> None:  # TestBrowserRhel7
    assert _doc("rhel7_kill_proc_space")["oom"]["victim"]["comm"] == "VM Monitoring Task"


@pytest.mark.parametrize("name,rows", [("archlinux_6_1_1", 112), ("proxmox_cgroup_oom", 73), ("rhel7", 85),
                                       ("ubuntu2110", 23)])
def test_045_pstable_index_matches_pstable(name: str, rows: int) -> None:
    """Each PID of the process table once (row counts: `grep -cE '\\[ *[0-9]+\\] +[0-9]'`)."""
    pids = [r["pid"] for r in _doc(name)["oom"]["tasks"]["rows"]]
    assert len(pids) == rows and len(set(pids)) == rows


@pytest.mark.parametrize("name,version", [("rhel7_task_line_ubuntu-5.4", "5.4.0-80-lowlatency"),
                                          ("rhel7_task_line_rhel7-3.10", "3.10.0-1062.9.1.el7.x86_64")])
def test_050_extract_kernel_version(name: str, version: str) -> None:
    assert _doc(name)["kernel_version"] == version


@pytest.mark.parametrize("zone,order,node,count", [
    ("Normal", 6, 0, 0), ("Normal", 6, 1, 2), ("Normal", 0, 0, 1231), ("Normal", 0, 1, 2245),
    ("DMA", 5, 0, 1), ("DMA32", 4, 0, 157)])
def test_090_extract_zoneinfo(zone: str, order: int, node: int, count: int) -> None:
    buddy = {(b["node"], b["zone"]): b for b in _doc("rhel7")["mem_info"]["buddy"]}
    assert buddy[(node, zone)]["counts"][order] == count


@pytest.mark.parametrize("node,total_kb", [(0, 38260), (1, 50836)])
def test_090_extract_zoneinfo_total_free_kb_per_node(node: int, total_kb: int) -> None:
    buddy = {(b["node"], b["zone"]): b for b in _doc("rhel7")["mem_info"]["buddy"]}
    assert buddy[(node, "Normal")]["total_kb"] == total_kb


@pytest.mark.parametrize("zone,node,level,kb", [
    ("Normal", 0, "free", 36692), ("Normal", 0, "min", 36784), ("Normal", 1, "low", 56804),
    ("Normal", 1, "high", 68164), ("DMA", 0, "free", 15872), ("DMA", 0, "high", 60),
    ("DMA32", 0, "free", 59728), ("DMA32", 0, "low", 9788)])
def test_100_extract_zoneinfo(zone: str, node: int, level: str, kb: int) -> None:
    e = _doc("rhel7")
    zones = {(z["node"], z["zone"]): z for z in e["mem_info"]["zones"]}
    assert zones[(node, zone)][f"{level}_kb"] == kb
    assert e["oom"]["cause"]["first_failed"]["node"] == 0  # trigger_proc_numa_node == 0


@pytest.mark.parametrize("name,zones", [("archlinux_6_1_1_without_dma", ["DMA32", "Normal"]),
                                        ("rhel7_without_dma", ["DMA32", "Normal"]),
                                        ("ubuntu2110_without_dma", ["DMA32"])])
def test_107_oom_without_dma_zone(name: str, zones: list[str]) -> None:
    e = _doc(name)
    mi = e["mem_info"]
    assert sorted({b["zone"] for b in mi["buddy"]}) == zones
    assert sorted({z["zone"] for z in mi["zones"]}) == zones
    assert {b["base_kb"] for b in mi["buddy"]} == {4}  # _page_size_guessed is False
    assert all(len(b["counts"]) == 11 for b in mi["buddy"])  # MAX_ORDER 11


@pytest.mark.parametrize("zone,order,node,expected", [
    ("DMA", 0, 0, True), ("DMA", 6, 0, True), ("DMA32", 0, 0, True), ("DMA32", 10, 0, False),
    ("Normal", 0, 0, True), ("Normal", 0, 1, True), ("Normal", 6, 0, False), ("Normal", 6, 1, True),
    ("Normal", 7, 0, False), ("Normal", 7, 1, True), ("Normal", 9, 0, False), ("Normal", 9, 1, False)])
def test_110a_check_free_chunks(zone: str, order: int, node: int, expected: bool) -> None:
    dump = _event("rhel7").mem_info
    buddy = next(b for b in dump.buddy if (b.node, b.zone) == (node, zone))
    assert has_free_block(buddy, order) is expected


def test_110b_search_node_with_memory_shortage() -> None:
    """FAILED_BELOW_LOW_WATERMARK on node 0's Normal: memstall says by how much below min (so
    also below low), and that node 1's Normal was above min but below high at the dump."""
    cause = _doc("rhel7")["oom"]["cause"]
    failed = cause["first_failed"]
    assert (failed["node"], failed["zone"], failed["margin_kb"]) == (0, "Normal", 36692 - 36784)
    assert failed["free_kb"] < 45980  # Normal node 0 low
    assert cause["kind"] == "above_min" and cause["highest_zone"] == "Movable"


def test_120_fragmentation() -> None:
    """Not fragmented: a free chunk of PAGE_ALLOC_COSTLY_ORDER (3) in node 0's Normal."""
    dump = _event("rhel7").mem_info
    assert has_free_block(next(b for b in dump.buddy if (b.node, b.zone) == (0, "Normal")), 3)


def test_125_fragmentation_without_watermarks() -> None:
    e = _doc("rhel7_without_watermarks")
    assert e["mem_info"]["buddy"] and not e["mem_info"]["zones"]
    assert e["oom"]["cause"]["kind"] == "unknown"


def test_130_page_size() -> None:
    assert _doc("rhel7")["oom"]["cause"]["page_kb"] == 4


@pytest.mark.parametrize("name,expected", [
    ("rhel7", {390: "systemd-journal", 433: "systemd-udevd", 868: "sshd", 6576: "mysqld",
               10635: "sftp-server"}),
    ("ubuntu2110", {323: "systemd-journal", 542: "systemd-timesyn", 608: "networkd-dispat",
                    857: "(sd-pam)", 651: "unattended-upgr"})])
def test_150_process_table_full_names(name: str, expected: dict[int, str]) -> None:
    rows = {r["pid"]: r["name"] for r in _doc(name)["oom"]["tasks"]["rows"]}
    assert {pid: rows[pid] for pid in expected} == expected


@pytest.mark.parametrize("limit_kb,expected", [
    (UNLIMITED_KB, True), (UNLIMITED_KB + 1, True), (UNLIMITED_KB - 1, False),
    (UNLIMITED_KB_32, True), (UNLIMITED_KB_32 - 1, False)])
def test_160_cgroup_swap_is_unlimited(limit_kb: int, expected: bool) -> None:
    """The peer's `js-truncated-page-counter-max` case (-4) is a JavaScript artefact: a kernel
    prints no negative limit, and memstall's parser reads no sign there."""
    assert MemcgCounter("swap", 0, limit_kb, 0).unlimited is expected


# --- the browser tests' check_results and explanations ----------------------------------------

def _swap(mi: dict[str, Any]) -> tuple[int, int, int, int]:
    """(cache, used, free, total) kB as the peer shows them: its "used" leaves out the swap
    cache (pages in RAM that also hold a swap slot): total - free - cache."""
    cache = mi["swap_cache_pages"] * 4
    return (cache, mi["total_swap_kb"] - mi["free_swap_kb"] - cache, mi["free_swap_kb"], mi["total_swap_kb"])


def test_TestBroswerArchLinux_020_insert_and_analyse_example() -> None:
    e = _doc("archlinux_6_1_1")
    flags = ["GFP_HIGHUSER_MOVABLE", "__GFP_COMP", "__GFP_ZERO"]
    assert (e["gfp_mode"], e["gfp_flags"]) == ("0x140dca", flags)
    assert (e["comm"], e["pid"]) == ("doxygen", 473206)
    assert _swap(e["mem_info"]) == (99452, 25066284, 84, 25165820)
    oom = e["oom"]
    assert "pgtables_bytes" in oom["tasks"]["columns"]  # "Page Table Bytes"
    assert oom["victim"]["oom_score"] is None  # no "with an OOM score of"
    assert oom["cause"]["kind"] not in ("forced", "fragmented")  # automatic, not fragmented
    assert oom["cause"]["first_failed"]["margin_kb"] < 0  # below the low (and the min) watermark
    tasks = oom["tasks"]
    assert (tasks["rss_kb"], tasks["ram_kb"], tasks["rss_percent_of_ram"]) == (11513452, 16461600, 69)
    dma = next(z for z in e["mem_info"]["zones"] if z["zone"] == "DMA")
    assert (dma["free_kb"], dma["boost_kb"], dma["min_kb"], dma["low_kb"]) == (13312, 0, 64, 80)


def test_TestBrowserRhel7_020_insert_and_analyse_example() -> None:
    e = _doc("rhel7")
    assert (e["gfp_mode"], e["gfp_flags"]) == ("0x201da", ["GFP_HIGHUSER_MOVABLE", "__GFP_COLD"])
    assert (e["comm"], e["pid"], e["oom"]["victim"]["oom_score"]) == ("sed", 29481, 651)
    assert _swap(e["mem_info"]) == (45368, 8343236, 0, 8388604)
    tasks = e["oom"]["tasks"]
    assert "nr_ptes" in tasks["columns"]  # "Page Table Entries"
    assert (tasks["rss_kb"], tasks["ram_kb"], tasks["rss_percent_of_ram"]) == (31705788, 33519336, 94)
    assert e["oom"]["cause"]["kind"] != "forced"


def test_TestBrowserRhel7_070_manually_triggered_OOM() -> None:
    e = _doc("rhel7_manual_order_-1")
    assert e["order"] == -1 and e["oom"]["cause"]["kind"] == "forced"


@pytest.mark.parametrize("name,total", [("rhel7_swap_total_0", 0), ("rhel7_no_swap_lines", None)])
def test_TestBrowserRhel7_080_swap_deactivated(name: str, total: int | None) -> None:
    assert _doc(name)["mem_info"]["total_swap_kb"] == total


def test_TestBrowserUbuntu2110_020_insert_and_analyse_example() -> None:
    e = _doc("ubuntu2110")
    assert (e["gfp_mode"], e["gfp_flags"]) == ("0xcc0", ["GFP_KERNEL"])
    assert e["oom"]["cause"]["kind"] == "forced"  # "OOM killer was manually triggered"
    assert e["mem_info"]["total_swap_kb"] == 0
    tasks = e["oom"]["tasks"]
    assert (tasks["rss_kb"], tasks["ram_kb"], tasks["rss_percent_of_ram"]) == (209520, 2096632, 9)
    assert "pgtables_bytes" in tasks["columns"]
    dma = next(z for z in e["mem_info"]["zones"] if z["zone"] == "DMA")
    assert (dma["free_kb"], dma["min_kb"], dma["low_kb"], dma["high_kb"]) == (15036, 352, 440, 528)


def test_TestBrowserProxmoxCgroupOom_020_insert_and_analyse_example() -> None:
    e = _doc("proxmox_cgroup_oom")
    oom = e["oom"]
    assert oom["cause"]["kind"] == "memcg" and oom["cause"]["memcg_path"] == "/lxc/39004"
    victim = oom["victim"]
    assert (victim["comm"], victim["pid"], victim["rss_kb"]) == ("php-fpm", 3902942, 12781340)
    assert oom["memcg"]["swap"] == {"name": "swap", "usage_kb": 0, "limit_kb": 0, "unlimited": False,
                                    "failcnt": 0}  # "Swap space usage is disabled for this cgroup."
    out = run_cli("logs", str(PEER / "proxmox_cgroup_oom.log")).out
    assert "swap disabled for the cgroup" in out


@pytest.mark.parametrize("name,counter,usage,limit,unlimited", [
    ("proxmox_cgroup_v1_swap", "memory+swap", 33308672, 35405824, False),   # test_030_cgroup_v1_swap_svg
    ("proxmox_cgroup_v2_swap", "swap", 2097152, 4194304, False),            # test_040_cgroup_v2_swap_svg
    ("proxmox_cgroup_v1_swap_unlimited", "memory+swap", 0, UNLIMITED_KB, True),  # test_050
    ("proxmox_cgroup_v2_swap_unlimited", "swap", 0, UNLIMITED_KB, True)])   # test_060
def test_TestBrowserProxmoxCgroupOom_swap(name: str, counter: str, usage: int, limit: int,
                                          unlimited: bool) -> None:
    memcg = _doc(name)["oom"]["memcg"]
    assert memcg["memory"]["usage_kb"] == memcg["memory"]["limit_kb"] == 31211520
    assert (memcg["swap"]["name"], memcg["swap"]["usage_kb"], memcg["swap"]["limit_kb"],
            memcg["swap"]["unlimited"]) == (counter, usage, limit, unlimited)
    assert memcg["task_memcg"].startswith("/lxc/39004/ns/system.slice/docker-")


def test_TestInBrowser_034_begin_but_no_end() -> None:
    e = _doc("begin_but_no_end")
    assert e["oom"]["missing"] == ["end"] and (e["comm"], e["pid"]) == ("sed", 29481)
    assert "incomplete: the report lacks its end" in run_cli("logs", str(PEER / "begin_but_no_end.log")).out


def test_TestInBrowser_035_no_begin_but_end() -> None:
    """The peer stops with "Failed to extract kernel version"; memstall keeps what it can."""
    e = _doc("no_begin_but_end")
    assert e["oom"]["missing"] == ["begin"]
    assert (e["oom"]["victim"]["comm"], e["oom"]["victim"]["oom_score"]) == ("java", 651)


def test_TestInBrowser_036_missing_process_table() -> None:
    assert _doc("rhel7_no_process_table")["oom"]["tasks"] is None
    assert "no task table" in run_cli("logs", str(PEER / "rhel7_no_process_table.log")).out


PREFIXED = sorted(p for p in LOGS if "_prefix_" in p.stem or "_journalctl_" in p.stem)


@pytest.mark.parametrize("path", PREFIXED, ids=[p.stem for p in PREFIXED])
def test_030_removal_of_leading_but_useless_columns_oom(path: Path) -> None:
    """The OOM part of every prefix variant equals the plain report's (test_030/test_040)."""
    plain = "archlinux_6_1_1" if path.stem.startswith("archlinux") else "rhel7"
    assert _doc(path.stem)["oom"] == _doc(plain)["oom"]
