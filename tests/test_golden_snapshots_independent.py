"""The snapshot goldens checked against numbers obtained WITHOUT memstall.

`tests/test_golden_snapshots.py` and `tests/test_diagnose.py` compare memstall's output with
files that memstall itself wrote (`pytest --update-golden`): they catch regressions, not
errors that were there when the golden was written. This file reads each fixture's raw files
with a few lines of its own (str.split and regexes; no memstall parser, model or analysis)
and recomputes the key numbers:

- INDEPENDENT BY HAND (kernel formulas written out below, from FACTS.md 1.1-1.3 and 2.1-2.3):
  buddyinfo free pages, fragmentation index and unusable index per zone and order,
  min/low/high/promo watermarks from managed pages + min_free_kbytes +
  watermark_scale_factor, the khugepaged min_free_kbytes recommendation, which zones are at
  or below their low watermark and which have no free block from some order up;
  kswapd/kcompactd CPU seconds from /proc/<pid>/stat ticks.
- INDEPENDENT BY THE KERNEL: debugfs extfrag_index / unusable_index as the kernel printed
  them in the capture, and /proc/zoneinfo's min/low/high (boost subtracted); sosreport:
  MemTotal as printed by `free` (procps).
- COPIED FROM THE RAW FILE (checks the golden holds the file's numbers, not a parse slip):
  meminfo, vmstat, PSI, sysctls, THP mode.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, TESTS
from kernel_formulas import contig as _contig
from kernel_formulas import fragmentation_milli as _fragmentation_milli
from kernel_formulas import unusable_milli as _unusable_milli

SNAPSHOTS = sorted(d for d in (FIXTURES / "snapshots").glob("*") if d.is_dir())
SOS = FIXTURES / "sosreports" / "x86_64-6.18-hand-assembled"
SOS_ROOT = next(SOS.glob("sosreport-*"))
# (fixture id, root with proc/ and sys/, expected/ dir)
ROOTS = [(d.name, d, d / "expected") for d in SNAPSHOTS] + [("sos", SOS_ROOT, SOS / "expected")]
IDS = [r[0] for r in ROOTS]
DIAGNOSE = TESTS / "golden" / "diagnose"
PAGE_SIZE = 4096  # every fixture here (MANIFEST page_size; the sosreport assumes it too)
PAGEBLOCK_PAGES = 512  # x86-64, 4 KiB pages: pageblock order 9


def _golden(expected: Path, view: str) -> Any:
    return json.loads((expected / f"{view}.json").read_text())


# --- raw readers, on purpose not memstall's ------------------------------------------------

def _buddy(root: Path) -> dict[tuple[int, str], list[int]]:
    out = {}
    for line in (root / "proc/buddyinfo").read_text().splitlines():
        f = line.split()  # "Node 0, zone   Normal   3   4 ..."
        out[(int(f[1].rstrip(",")), f[3])] = [int(n) for n in f[4:]]
    return out


def _zoneinfo(path: Path) -> dict[tuple[int, str], dict[str, int]]:
    zones: dict[tuple[int, str], dict[str, int]] = {}
    current: dict[str, int] = {}
    for line in path.read_text().splitlines():
        head = re.match(r"Node (\d+), zone\s+(\w+)", line)
        if head:
            current = zones.setdefault((int(head[1]), head[2]), {})
            continue
        m = re.match(r"\s+(pages free|min|low|high|promo|boost|spanned|present|managed)\s+(\d+)$", line)
        if m:
            current[m[1].replace("pages ", "")] = int(m[2])
    return zones


def _sysctl(root: Path, name: str) -> int:
    path = root / "proc/sys/vm" / name
    if path.exists():
        return int(path.read_text().split()[0])
    text = (root / "sos_commands/kernel/sysctl_-a").read_text()  # sosreport: no proc/sys
    return int(re.search(rf"^vm\.{name} = (\d+)$", text, re.MULTILINE)[1])  # type: ignore[index]


def _kernel(root: Path) -> tuple[int, int]:
    path = root / "proc/sys/kernel/osrelease"
    uname = root / "sos_commands/kernel/uname_-a"  # sosreport: "Linux host 6.18.44-... #1 ..."
    text = path.read_text() if path.exists() else uname.read_text().split()[2]
    major, minor = re.match(r"(\d+)\.(\d+)", text).groups()  # type: ignore[union-attr]
    return int(major), int(minor)


# --- kernel formulas, written out again (FACTS.md 1.1-1.3, 2.1, 2.3) ------------------------

def _watermarks(zones: dict[tuple[int, str], dict[str, int]], mfk: int, wsf: int,
                kernel: tuple[int, int]) -> dict[tuple[int, str], tuple[int, int, int, int | None]]:
    """__setup_per_zone_wmarks for zones that have managed pages (not HighMem/Movable):
    pages_min = min_free_kbytes in pages; each zone gets its managed share of it as min;
    d = max(share/4, managed * wsf / 10000); low = min + d, high = min + 2d, promo = min + 3d
    (4.6+ form; promo computed since 5.18)."""
    pages_min = mfk * 1024 // PAGE_SIZE
    lowmem = sum(z["managed"] for (_, name), z in zones.items() if name not in ("HighMem", "Movable"))
    out = {}
    for key, z in zones.items():
        if z["managed"] == 0 or key[1] in ("HighMem", "Movable"):
            continue
        share = pages_min * z["managed"] // lowmem
        d = max(share >> 2, z["managed"] * wsf // 10000)
        out[key] = (share, share + d, share + 2 * d, share + 3 * d if kernel >= (5, 18) else None)
    return out


# --- the show views -------------------------------------------------------------------------

@pytest.mark.parametrize(("fid", "root", "expected"), ROOTS, ids=IDS)
def test_buddyinfo_and_frag_goldens_equal_hand_computed_indices(fid: str, root: Path,
                                                                 expected: Path) -> None:
    """Independent: the buddyinfo counts (raw file) and both indices (formulas above)."""
    raw = _buddy(root)
    for view in ("buddyinfo", "frag"):
        zones = _golden(expected, view)["zones"]
        assert {(z["node"], z["zone"]) for z in zones} == set(raw), view
        for z in zones:
            counts = raw[(z["node"], z["zone"])]
            assert z["free_blocks"] == counts
            assert z["free_pages"] == _contig(counts, 0)[0]
            if view == "frag":
                orders = range(len(counts))
                assert z["fragmentation_index"] == [_fragmentation_milli(counts, o) / 1000 for o in orders]
                assert z["unusable_index"] == [_unusable_milli(counts, o) / 1000 for o in orders]


def _debugfs(path: Path) -> dict[tuple[int, str], list[int]]:
    """The kernel's printed "%d.%03d" values back to thousandths (" 0.-500" is -500)."""
    out = {}
    for line in path.read_text().splitlines():
        f = line.split()
        values = []
        for text in f[4:]:
            whole, frac = text.split(".")
            values.append(int(frac) if whole in ("0", "-0") and frac.startswith("-")
                          else int(whole) * 1000 + (-1 if whole.startswith("-") else 1) * int(frac))
        out[(int(f[1].rstrip(",")), f[3])] = values
    return out


@pytest.mark.parametrize(("fid", "root", "expected"),
                         [r for r in ROOTS if (r[1] / "sys/kernel/debug/extfrag").exists()],
                         ids=[r[0] for r in ROOTS if (r[1] / "sys/kernel/debug/extfrag").exists()])
def test_extfrag_golden_is_what_the_kernel_printed(fid: str, root: Path, expected: Path) -> None:
    """Independent: debugfs extfrag_index and unusable_index as the kernel printed them; when
    buddyinfo was stable around the debugfs reads, also the hand formulas on buddyinfo."""
    extfrag = _debugfs(root / "sys/kernel/debug/extfrag/extfrag_index")
    unusable = _debugfs(root / "sys/kernel/debug/extfrag/unusable_index")
    raw = _buddy(root)
    golden = _golden(expected, "extfrag")["zones"]
    assert {(z["node"], z["zone"]) for z in golden} == set(extfrag) == set(unusable)
    for z in golden:
        key = (z["node"], z["zone"])
        assert z["extfrag_index"] == [v / 1000 for v in extfrag[key]]
        assert z["unusable_index"] == [v / 1000 for v in unusable[key]]
        by_hand = ([_fragmentation_milli(raw[key], o) for o in range(len(raw[key]))],
                   [_unusable_milli(raw[key], o) for o in range(len(raw[key]))])
        assert z["matches_buddyinfo"] == (by_hand == (extfrag[key], unusable[key]))
    assert any(z["matches_buddyinfo"] for z in golden)  # the kernel confirms the formulas


@pytest.mark.parametrize(("fid", "root", "expected"), ROOTS, ids=IDS)
def test_watermarks_golden_equals_the_kernel_and_the_hand_formula(fid: str, root: Path,
                                                                  expected: Path) -> None:
    """Independent: reported min/low/high/boost are /proc/zoneinfo's (the kernel's; boost
    included, as the kernel prints them); computed ones are the formula above;
    computed_matches says whether the formula equals the kernel's numbers minus boost."""
    zones = _zoneinfo(root / "proc/zoneinfo")
    mfk, wsf = _sysctl(root, "min_free_kbytes"), _sysctl(root, "watermark_scale_factor")
    by_hand = _watermarks(zones, mfk, wsf, _kernel(root))
    golden = _golden(expected, "watermarks")
    assert golden["sysctl"]["min_free_kbytes"] == mfk and golden["sysctl"]["watermark_scale_factor"] == wsf
    for z in golden["zones"]:
        raw = zones[(z["node"], z["zone"])]
        boost = raw.get("boost", 0)
        kernel = (raw["min"] - boost, raw["low"] - boost, raw["high"] - boost)
        assert (z["min_pages"], z["low_pages"], z["high_pages"]) == (raw["min"], raw["low"], raw["high"])
        # 4.9 prints no boost line (watermark_boost is 5.0+); the golden says 0 there.
        assert z["boost_pages"] == raw.get("boost", 0)
        assert (z["managed_pages"], z["present_pages"], z["free_pages"]) == (
            raw["managed"], raw["present"], raw["free"])
        mine = by_hand.get((z["node"], z["zone"]))
        if mine is None:
            continue
        c = z["computed"]
        assert (c["min_pages"], c["low_pages"], c["high_pages"], c["promo_pages"]) == mine
        assert z["computed_matches"] == (mine[:3] == kernel), z
    # 4.9 and 6.18 captures: the kernel itself agrees with the hand formula in every zone.
    # (The 6.1 QEMU captures do not: their watermarks were set at boot, before managed pages
    # changed, so the kernel's numbers cannot be recomputed from the captured managed counts.)
    if not fid.startswith("x86_64-6.1-"):
        assert all(by_hand[k][:3] == (zones[k]["min"] - zones[k].get("boost", 0),
                                      zones[k]["low"] - zones[k].get("boost", 0),
                                      zones[k]["high"] - zones[k].get("boost", 0)) for k in by_hand)


@pytest.mark.parametrize(("fid", "root", "expected"),
                         [r for r in ROOTS if r[0].startswith("x86_64-6.")],
                         ids=[r[0] for r in ROOTS if r[0].startswith("x86_64-6.")])
def test_thp_recommended_min_free_kbytes_by_hand(fid: str, root: Path, expected: Path) -> None:
    """Independent: set_recommended_min_free_kbytes (FACTS.md 2.3), THP enabled here:
    pageblock pages x populated zones x (2 + MIGRATE_PCPTYPES^2), capped at 5% of the free
    pages above high in lowmem (not reachable on these machines), in kB."""
    populated = sum(1 for (_, name), z in _zoneinfo(root / "proc/zoneinfo").items()
                    if z["managed"] > 0 and name != "Movable")
    rec_kb = PAGEBLOCK_PAGES * populated * (2 + 3 * 3) * PAGE_SIZE // 1024
    origin = _golden(expected, "watermarks")["min_free_kbytes_origin"]
    assert origin["thp_recommended_kbytes"] == rec_kb == _sysctl(root, "min_free_kbytes")


@pytest.mark.parametrize(("fid", "root", "expected"), ROOTS, ids=IDS)
def test_meminfo_vmstat_psi_sysctl_thp_goldens_hold_the_raw_numbers(fid: str, root: Path,
                                                                    expected: Path) -> None:
    """Copied from the raw files with a regex of this test's own."""
    meminfo = dict(re.findall(r"^(\S+):\s+(\d+) kB$", (root / "proc/meminfo").read_text(), re.MULTILINE))
    assert _golden(expected, "meminfo")["fields_kib"] == {k: int(v) for k, v in meminfo.items()}
    vmstat = dict(line.split() for line in (root / "proc/vmstat").read_text().splitlines())
    assert _golden(expected, "vmstat")["counters"] == {k: int(v) for k, v in vmstat.items()}
    if (root / "proc/pressure/memory").exists():
        psi = _golden(expected, "psi")
        for line in (root / "proc/pressure/memory").read_text().splitlines():
            kind, *pairs = line.split()
            values = dict(p.split("=") for p in pairs)
            assert psi[kind] == {"avg10": float(values["avg10"]), "avg60": float(values["avg60"]),
                                 "avg300": float(values["avg300"]), "total_us": int(values["total"])}
    if (root / "proc/sys/vm").exists():
        vm = _golden(expected, "sysctl")["vm"]
        raw = {p.name: p.read_text().strip() for p in (root / "proc/sys/vm").iterdir()}
        # write-only sysctls (stat_refresh, drop_caches...) read back empty: nothing to show
        assert vm == {k: v for k, v in raw.items() if v}
    thp = root / "sys/kernel/mm/transparent_hugepage/enabled"
    if thp.exists():
        assert _golden(expected, "thp")["enabled"] == re.search(r"\[(\w+)\]", thp.read_text())[1]  # type: ignore[index]


def test_sosreport_memtotal_agrees_with_free() -> None:
    """Independent: `free` (procps) output captured beside the sosreport, in KiB."""
    free = (SOS_ROOT / "sos_commands/memory/free").read_text()
    total_kib = int(re.search(r"^Mem:\s+(\d+)", free, re.MULTILINE)[1])  # type: ignore[index]
    assert _golden(SOS / "expected", "meminfo")["fields_kib"]["MemTotal"] == total_kib


@pytest.mark.parametrize(("fid", "root", "expected"), ROOTS, ids=IDS)
def test_kthreads_golden_is_the_stat_ticks(fid: str, root: Path, expected: Path) -> None:
    """By hand from proc/<pid>/stat: utime and stime are fields 14 and 15 (after the comm in
    parentheses), cpu_seconds = (utime + stime) / USER_HZ (100 on these kernels)."""
    stats = sorted((root / "proc").glob("[0-9]*/stat"))
    if not stats:
        assert (expected / "kthreads.error.txt").exists()
        return
    threads = {t["pid"]: t for t in _golden(expected, "kthreads")["threads"]}
    assert set(threads) == {int(p.parent.name) for p in stats}
    for path in stats:
        text = path.read_text()
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        utime, stime = int(fields[11]), int(fields[12])
        t = threads[int(path.parent.name)]
        assert (t["comm"], t["state"], t["utime_ticks"], t["stime_ticks"]) == (comm, fields[0], utime, stime)
        assert t["cpu_seconds"] == round((utime + stime) / 100, 2)


@pytest.mark.parametrize(("fid", "root", "expected"), ROOTS, ids=IDS)
def test_error_goldens_exist_exactly_for_the_missing_inputs(fid: str, root: Path, expected: Path) -> None:
    """Which views fail is decided by which raw files the capture lacks, not by memstall."""
    needs = {"psi": "proc/pressure/memory", "extfrag": "sys/kernel/debug/extfrag/extfrag_index",
             "thp": "sys/kernel/mm/transparent_hugepage/enabled"}
    for view, rel in needs.items():
        assert (expected / f"{view}.error.txt").exists() == (not (root / rel).exists()), view


# --- diagnose goldens of the snapshots ------------------------------------------------------

def _samples(root: Path) -> list[Path]:
    return [root / "proc/zoneinfo", *sorted(root.glob("samples/*/proc/zoneinfo"))]


@pytest.mark.parametrize(("fid", "root", "expected"), ROOTS, ids=IDS)
def test_diagnose_golden_zone_and_order_findings_by_hand(fid: str, root: Path, expected: Path) -> None:
    """ZONE_BELOW_WATERMARK fires for populated zones whose free pages were at or below low in
    some sample (CRITICAL at or below min); HIGH_ORDER_EXHAUSTION for non-DMA zones with no
    free block from some order <= 9 up. Both sets and their numbers are recomputed here."""
    name = f"sosreport-{SOS.name}.json" if fid == "sos" else f"snapshot-{fid}.json"
    doc = json.loads((DIAGNOSE / name).read_text())
    found = {(f["key"], f["subject"]): f for f in doc["findings"]}
    samples = [_zoneinfo(p) for p in _samples(root)]
    below = {}
    for key, z in samples[0].items():
        if z["managed"] and z["present"]:
            worst = min((s[key] for s in samples if key in s), key=lambda s: s["free"] - s["low"])
            if worst["free"] <= worst["low"]:
                below[f"node{key[0]}/{key[1]}"] = worst
    assert {s for k, s in found if k == "ZONE_BELOW_WATERMARK"} == set(below)
    for subject, z in below.items():
        f = found[("ZONE_BELOW_WATERMARK", subject)]
        assert f["severity"] == ("CRITICAL" if z["free"] <= z["min"] else "INFO")
        ev = f["evidence"]
        assert (ev["free_pages"], ev["min_pages"], ev["low_pages"], ev["managed_pages"]) == (
            z["free"], z["min"], z["low"], z["managed"])
    exhausted = {}
    for (node, zone), counts in _buddy(root).items():
        top = max((k for k, n in enumerate(counts) if n), default=-1) + 1
        if zone != "DMA" and top <= 9:
            exhausted[f"node{node}/{zone}"] = (top, counts)
    assert {s for k, s in found if k == "HIGH_ORDER_EXHAUSTION"} == set(exhausted)
    for subject, (top, counts) in exhausted.items():
        ev = found[("HIGH_ORDER_EXHAUSTION", subject)]["evidence"]
        assert ev["exhausted_from_order"] == top and ev["free_pages"] == _contig(counts, 0)[0]
        assert ev["fragmentation_index_by_order"] == " ".join(
            f"{o}:{_fragmentation_milli(counts, o) / 1000:.3f}" for o in range(top, len(counts)))
        assert ev["unusable_index_by_order"] == " ".join(
            f"{o}:{_unusable_milli(counts, o) / 1000:.3f}" for o in range(len(counts)))
