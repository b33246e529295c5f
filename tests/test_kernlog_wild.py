"""Real logs of wrappers the corpus lacks (tests/fixtures/kernlog/wild), scored fact by fact.

Each `*.log` has a hand-written `*.expected.json` (provenance, wrapper, the events' facts read
by eye). The development set must score 100%. `heldback/` holds logs of the same kind kept
out of the development loop: score it with `python tests/test_kernlog_wild.py heldback`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

if __name__ == "__main__":  # run as a script from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from memstall.parsers.kernlog import scan_text

ROOT = Path(__file__).parent / "fixtures" / "kernlog"
WILD = sorted((ROOT / "wild").glob("*.log"))


def _got(e: Any, key: str) -> Any:
    if key == "timestamp":
        return e.time
    if key == "oomkilladj":
        return e.oom_adj
    if key == "has_mem_info":  # the report's own Mem-Info dump was tied to it
        return e.mem_info is not None
    if key == "gfp_flags":
        return list(e.gfp_flags) if e.gfp_flags is not None else None
    return getattr(e, key)


def score(log: Path) -> tuple[int, int, list[str]]:
    """(facts right, facts total, misses) for one log against its expected JSON."""
    want = json.loads(log.with_suffix(".expected.json").read_text(encoding="utf-8"))
    scan = scan_text(log.read_text(encoding="utf-8", errors="replace"), log.name)
    misses: list[str] = []
    total = 1
    if len(scan.events) != len(want["events"]):
        misses.append(f"events: {len(scan.events)} != {len(want['events'])}")
    for i, exp in enumerate(want["events"]):
        got = scan.events[i] if i < len(scan.events) else None
        for key, value in exp.items():
            total += 1
            have = _got(got, key) if got is not None else "<missing>"
            if have != value:
                misses.append(f"events[{i}].{key}: {have!r} != {value!r}")
    dumps = [e.mem_info for e in scan.events if e.mem_info] + list(scan.standalone_mem_info)
    for j, zone in enumerate(want.get("mem_info_zones", [])):
        rows = [z for d in dumps for z in d.zones if z.zone == zone["zone"]]
        for key, value in zone.items():
            total += 1
            have = getattr(rows[0], key) if rows else "<missing>"
            if have != value:
                misses.append(f"zones[{j}].{key}: {have!r} != {value!r}")
    return total - len(misses), total, misses


@pytest.mark.parametrize("log", WILD, ids=[p.name[:3] for p in WILD])
def test_every_fact_of_the_wild_development_set(log: Path) -> None:
    right, total, misses = score(log)
    assert misses == [], misses
    assert right == total


def test_every_wild_log_has_provenance() -> None:
    for log in WILD + sorted((ROOT / "heldback").glob("*.log")):
        want = json.loads(log.with_suffix(".expected.json").read_text(encoding="utf-8"))
        assert want["file"] == log.name and want["source"].split()[0].startswith("http")
        assert want["redacted"] and want["wrapper"] and want["events"]


if __name__ == "__main__":
    folder = ROOT / (sys.argv[1] if len(sys.argv) > 1 else "heldback")
    right_all = total_all = 0
    for path in sorted(folder.glob("*.log")):
        r, t, m = score(path)
        right_all, total_all = right_all + r, total_all + t
        print(f"{path.name}: {r}/{t}" + "".join(f"\n    {x}" for x in m))
    print(f"{folder.name}: {right_all}/{total_all} facts right ({100 * right_all / max(total_all, 1):.1f}%)")
