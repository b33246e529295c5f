"""Every fact of every real corpus log (tests/fixtures/kernlog/corpus, see its INDEX.md).

Each `NNN-*.log` is scanned and compared with its hand-written `NNN-*.expected.json`. A fact
the scanner does not reproduce must be listed in DEVIATIONS with the reason; the main test
asserts that the mismatches are exactly the documented ones (so a fixed deviation fails
until it is removed from the table), and each deviation also has its own strict xfail test
that asserts the expected value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memstall.model.kernlog import AllocEvent, MemInfoDump
from memstall.parsers.kernlog import scan_text

CORPUS = Path(__file__).parent / "fixtures" / "kernlog" / "corpus"
LOGS = sorted(CORPUS.glob("*.log"))

# (file number, fact path) -> reason the expected value is not produced.
DEVIATIONS: dict[tuple[str, str], str] = {
    ("034", "events[0].timestamp"):
        "the expected JSON leaves the time null although the header line carries the syslog stamp "
        "'Mar 28 18:03:47' (015 and 028 record the syslog stamp in the same situation); we report it",
    ("035", "events[0].timestamp"):
        "the expected JSON leaves the time null although the header line carries the syslog stamp "
        "'Jun  4 17:19:10' (015 and 028 record the syslog stamp in the same situation); we report it",
    ("017", "mem_info[0].buddy"):
        "three streams interleaved fragment by fragment: the expected buddy rows were reassembled by "
        "eye; the scanner refuses to report them (the dump is flagged interleaved and partial instead)",
    ("017", "mem_info[0].lowmem_reserve"):
        "the reserve numbers are glued to buddy fragments ('070*32kB', '0(UME)'): not recoverable "
        "without guessing",
}

_EVENT_KEYS = ("kind", "comm", "pid", "cpu", "order", "gfp_mode", "gfp_flags", "stall_ms",
               "oom_score_adj", "nodemask", "cpuset", "mems_allowed", "kernel_version", "uid", "memcg")
_ZONE_KEYS = ("free_kb", "min_kb", "low_kb", "high_kb", "managed_kb", "present_kb")
_TAIL_KEYS = ("total_pagecache_pages", "pages_ram", "pages_reserved", "total_swap_kb")


def _num(path: Path) -> str:
    return path.name[:3]


def _dumps(events: tuple[AllocEvent, ...], standalone: tuple[MemInfoDump, ...]
           ) -> list[tuple[MemInfoDump, int | None]]:
    found = [(e.mem_info, i) for i, e in enumerate(events) if e.mem_info is not None]
    found += [(d, None) for d in standalone]
    return sorted(found, key=lambda pair: pair[0].line_no)  # type: ignore[union-attr]


def _event_facts(e: AllocEvent) -> dict[str, Any]:
    got = {k: getattr(e, k) for k in _EVENT_KEYS}
    got["gfp_flags"] = list(e.gfp_flags) if e.gfp_flags is not None else None
    got["timestamp"] = e.time
    got["oomkilladj"] = e.oom_adj  # the 2.6.x name of the field (005)
    return got


def _zone_rows(dump: MemInfoDump) -> list[dict[str, Any]]:
    return [{"node": z.node, "zone": z.zone, **{k: getattr(z, k) for k in _ZONE_KEYS}}
            for z in dump.zones]


def _buddy_rows(dump: MemInfoDump) -> list[dict[str, Any]]:
    rows = []
    for b in dump.buddy:
        if b.empty:
            rows.append({"node": b.node, "zone": b.zone, "empty": True})
        else:
            rows.append({"node": b.node, "zone": b.zone, "base_kb": b.base_kb,
                         "counts": list(b.counts) if b.counts is not None else None,
                         "total_kb": b.total_kb, "adds_up": b.adds_up})
    return rows


def _subset(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> bool:
    """Same length, and every key the expected row gives has the same value."""
    if len(expected) != len(got):
        return False
    return all(all(g.get(k) == v for k, v in e.items() if k != "note") for e, g in zip(expected, got))


def _dump_mismatches(prefix: str, exp: dict[str, Any], dump: MemInfoDump, owner: int | None
                     ) -> dict[str, tuple[Any, Any]]:
    out: dict[str, tuple[Any, Any]] = {}
    if exp.get("belongs_to_event") != owner:
        out[f"{prefix}.belongs_to_event"] = (exp.get("belongs_to_event"), owner)
    if not _subset(exp.get("zones", []), _zone_rows(dump)):
        out[f"{prefix}.zones"] = (exp.get("zones", []), _zone_rows(dump))
    if not _subset(exp.get("buddy", []), _buddy_rows(dump)):
        out[f"{prefix}.buddy"] = (exp.get("buddy", []), _buddy_rows(dump))
    for key in ("summary", "summary_pages"):
        if key in exp and any(dump.summary_pages.get(k) != v for k, v in exp[key].items()):
            out[f"{prefix}.{key}"] = (exp[key], dict(dump.summary_pages))
    for key in _TAIL_KEYS:
        if key in exp and exp[key] != getattr(dump, key):
            out[f"{prefix}.{key}"] = (exp[key], getattr(dump, key))
    if "hugepages" in exp:
        got = [{"node": h.node, "size_kb": h.size_kb, "total": h.total, "free": h.free}
               for h in dump.hugepages]
        if got != exp["hugepages"]:
            out[f"{prefix}.hugepages"] = (exp["hugepages"], got)
    if "lowmem_reserve" in exp and [list(r) for r in dump.lowmem_reserve] != exp["lowmem_reserve"]:
        out[f"{prefix}.lowmem_reserve"] = (exp["lowmem_reserve"], dump.lowmem_reserve)
    if exp.get("partial") and not dump.partial:
        out[f"{prefix}.partial"] = (True, dump.partial)
    if exp.get("unreliable") and not dump.interleaved:  # 017: three streams interleaved
        out[f"{prefix}.unreliable"] = (True, dump.interleaved)
    return out


def mismatches(log: Path) -> dict[str, tuple[Any, Any]]:
    """fact path -> (expected, got) for every expected fact the scan does not reproduce."""
    expected = json.loads(log.with_suffix(".expected.json").read_text())
    scan = scan_text(log.read_text(encoding="utf-8", errors="replace"), log.name)
    out: dict[str, tuple[Any, Any]] = {}
    if len(scan.events) != len(expected["events"]):
        out["events"] = (len(expected["events"]), len(scan.events))
    for i, (exp, ev) in enumerate(zip(expected["events"], scan.events)):
        got = _event_facts(ev)
        for key, value in exp.items():
            if key in got and got[key] != value:
                out[f"events[{i}].{key}"] = (value, got[key])
    dumps = _dumps(scan.events, scan.standalone_mem_info)
    if len(dumps) != len(expected["mem_info"]):
        out["mem_info"] = (len(expected["mem_info"]), len(dumps))
    for i, (exp, (dump, owner)) in enumerate(zip(expected["mem_info"], dumps)):
        out.update(_dump_mismatches(f"mem_info[{i}]", exp, dump, owner))
    return out


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_corpus_facts(log: Path) -> None:
    found = mismatches(log)
    documented = {fact for (num, fact) in DEVIATIONS if num == _num(log)}
    undocumented = {k: v for k, v in found.items() if k not in documented}
    assert not undocumented, "facts not reproduced:\n" + "\n".join(
        f"  {k}: expected {v[0]!r}, got {v[1]!r}" for k, v in sorted(undocumented.items()))
    stale = documented - set(found)
    assert not stale, f"documented deviations that now pass (remove them from DEVIATIONS): {stale}"


@pytest.mark.parametrize(("num", "fact"), sorted(DEVIATIONS), ids=[f"{n}-{f}" for n, f in sorted(DEVIATIONS)])
def test_documented_deviation(num: str, fact: str, request: pytest.FixtureRequest) -> None:
    request.applymarker(pytest.mark.xfail(reason=DEVIATIONS[(num, fact)], strict=True))
    log = next(p for p in LOGS if _num(p) == num)
    assert fact not in mismatches(log)


# Expected-JSON keys the comparison above reads; any other key would be a fact silently ignored.
_CHECKED_EVENT_KEYS = {*_EVENT_KEYS, "timestamp", "oomkilladj"}
_CHECKED_DUMP_KEYS = {"belongs_to_event", "zones", "buddy", "summary", "summary_pages", *_TAIL_KEYS,
                      "hugepages", "lowmem_reserve", "partial", "unreliable"}
_NOT_FACTS = {
    "note": "free text for the reader",
    "trigger": "what printed a standalone dump (SysRq-M): the scanner keeps no trigger text; the "
               "dump's standalone place (belongs_to_event null) is checked",
}


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_every_expected_fact_is_compared(log: Path) -> None:
    expected = json.loads(log.with_suffix(".expected.json").read_text())
    for event in expected["events"]:
        assert set(event) - _CHECKED_EVENT_KEYS - set(_NOT_FACTS) == set()
    for dump in expected["mem_info"]:
        assert set(dump) - _CHECKED_DUMP_KEYS - set(_NOT_FACTS) == set()
        for row in dump.get("zones", []) + dump.get("buddy", []):
            assert set(row) - {"node", "zone", "empty", "base_kb", "counts", "total_kb", "adds_up",
                               *_ZONE_KEYS} - set(_NOT_FACTS) == set()


def test_corpus_is_complete() -> None:
    """Every log has its expected JSON, and the provenance table lists every log."""
    index = (CORPUS / "INDEX.md").read_text()
    assert len(LOGS) >= 30
    for log in LOGS:
        assert log.with_suffix(".expected.json").exists(), log.name
        assert log.name in index, f"{log.name} missing from INDEX.md"
