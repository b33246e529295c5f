"""The hand-made 4.9 fixtures against the kernel logs they were rebuilt from.

The log's numbers are read here with a regex of their own (not the builder's code), so a
builder mistake cannot hide: the watermark calculator must reproduce every min/low/high
the log prints, and buddyinfo must be the log's buddy lines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli

SNAP = FIXTURES / "snapshots"
CASES = [
    ("x86_64-4.9-handmade-seed-2node-256g", "000-seed-cold-storage-4.9.log"),
    ("x86_64-4.9-handmade-ixgbe-2node-96g-no-psi-no-thp", "002-linuxmm-ixgbe-dmesgT-wrapped.log"),
]


def _log_text(name: str) -> str:
    path = FIXTURES / "kernlog" / "corpus" / name
    # Drop syslog/dmesg prefixes and join wrapped lines into one stream of tokens.
    lines = [re.sub(r"^(?:.*? kernel: )?\[[^\]]*\] ?", "", raw) for raw in path.read_text().splitlines()]
    return " ".join(lines)


@pytest.mark.parametrize(("fixture", "log"), CASES)
def test_watermarks_reproduce_the_log(fixture: str, log: str) -> None:
    text = _log_text(log)
    zones = re.findall(r"Node (\d) (\w+) free:\d+kB min:(\d+)kB low:(\d+)kB high:(\d+)kB", text)
    assert zones
    doc = json.loads(run_cli("--root", str(SNAP / fixture), "show", "watermarks", "--format",
                             "json").out)
    by_zone = {(z["node"], z["zone"]): z for z in doc["zones"]}
    for node, zone, wmin, low, high in zones:
        z = by_zone[(int(node), zone)]
        expected = (int(wmin) // 4, int(low) // 4, int(high) // 4)
        assert (z["min_pages"], z["low_pages"], z["high_pages"]) == expected
        assert (z["computed"]["min_pages"], z["computed"]["low_pages"],
                z["computed"]["high_pages"]) == expected
    assert all(z["computed_matches"] for z in doc["zones"])
    assert doc["kernel"].startswith("4.9")


@pytest.mark.parametrize(("fixture", "log"), CASES)
def test_buddyinfo_is_the_logs_buddy_lines(fixture: str, log: str) -> None:
    text = _log_text(log)
    found = re.findall(r"Node (\d) (\w+): ((?:\d+\*\d+kB (?:\([A-Z]+\) )?)+)= \d+kB", text)
    assert found
    doc = json.loads(run_cli("--root", str(SNAP / fixture), "show", "buddyinfo", "--format",
                             "json").out)
    got = {(z["node"], z["zone"]): z["free_blocks"] for z in doc["zones"]}
    for node, zone, body in found:
        assert got[(int(node), zone)] == [int(n) for n in re.findall(r"(\d+)\*\d+kB", body)]


@pytest.mark.parametrize(("fixture", "log"), CASES)
def test_manifest_labels_the_fixture_hand_made(fixture: str, log: str) -> None:
    manifest = json.loads((SNAP / fixture / "MANIFEST.json").read_text())
    assert manifest["source"].startswith("HAND-MADE") and log in manifest["source"]
    assert manifest["edited"], "every derivation must be listed"
    assert manifest["numa_nodes"] == 2 and manifest["page_size"] == 4096
    files = {str(p.relative_to(SNAP / fixture)) for p in (SNAP / fixture).rglob("*")
             if p.is_file() and p.parts[-2] != "expected" and p.name != "MANIFEST.json"}
    assert set(manifest["files"]) == files


def test_no_psi_and_zoneinfo_without_boost_on_4_9() -> None:
    for fixture, _ in CASES:
        zoneinfo = (SNAP / fixture / "proc/zoneinfo").read_text()
        assert "boost" not in zoneinfo and "promo" not in zoneinfo and "per-node stats" in zoneinfo
        assert not Path(SNAP / fixture / "proc/pressure").exists()
        r = run_cli("--root", str(SNAP / fixture), "show", "psi")
        assert r.code == 3 and "4.20" in r.err


@pytest.mark.parametrize(("fixture", "log"), CASES)
def test_zone_sizes_and_free_pages_are_the_logs(fixture: str, log: str) -> None:
    """The zones golden against the log's zone lines (kB printed by the kernel, / 4 KiB pages).
    A managed size that differs from the log's must be a hand edit listed in the MANIFEST
    with both numbers (the boot-time size the watermarks were computed from)."""
    text = _log_text(log)
    lines = re.findall(r"Node (\d) (\w+) free:(\d+)kB .*?present:(\d+)kB managed:(\d+)kB", text)
    assert lines
    golden = json.loads((SNAP / fixture / "expected" / "zones.json").read_text())
    by_zone = {(z["node"], z["zone"]): z for z in golden["zones"]}
    edits = [e for e in json.loads((SNAP / fixture / "MANIFEST.json").read_text())["edited"]
             if e.startswith("zoneinfo managed:")]
    for node, zone, free, present, managed in lines:
        z = by_zone[(int(node), zone)]
        assert (z["free_pages"], z["present_pages"]) == (int(free) // 4, int(present) // 4)
        if z["managed_pages"] != int(managed) // 4:
            assert any(f"{zone} {z['managed_pages']} " in e and f"({int(managed) // 4})" in e
                       for e in edits), (zone, z["managed_pages"], edits)
