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


# The general rules the wild logs taught, one line each (the logs themselves test them in context).

def test_a_one_letter_level_column_is_a_variable_field_of_a_learned_prefix() -> None:
    from memstall.parsers.kernlog.prefix import Prefix

    p = Prefix.learn("07-11 20:47:41.300   156   156 I         : CPU: 5 PID: 156 Comm: kswapd0")
    assert p is not None
    assert p.remove("07-11 20:47:41.300   156   156 W       : kswapd0 invoked oom-killer:") == \
        "kswapd0 invoked oom-killer:"
    assert p.remove("07-11 20:47:41.300   156   156 IW      : x") != "x"  # two letters: not a level


def test_mail_quote_marks_and_a_one_space_day_before_a_syslog_line() -> None:
    from memstall.parsers.kernlog.unwrap import unwrap

    for mark in ("> ", ">> ", "> > "):
        quoted = mark + "Feb 4 16:15:15 kernel: x"
        u = unwrap(quoted)
        assert (u.wall, u.body) == ("Feb 4 16:15:15", "x"), quoted
    assert unwrap("> plain prose").body == "> plain prose"  # nothing dated after the marks: kept
    assert unwrap("").body == ""


def test_a_kmsg_record_with_a_caller_field() -> None:
    from memstall.parsers.kernlog.unwrap import unwrap

    u = unwrap("4,19685342,241227987454,-,caller=T12845;dumpsys invoked oom-killer: ")
    assert (u.body, u.stamp, u.caller_pid) == ("dumpsys invoked oom-killer: ", "241227.987454", 12845)
    assert unwrap("6,2,3,-,caller=C1;x").caller_pid is None  # a CPU caller is no pid


def test_task_line_release_without_build_number_and_a_4_9_nodemask() -> None:
    from memstall.parsers.kernlog import classify as c

    t = c.task_line("CPU: 5 PID: 156 Comm: kswapd0 Tainted: G S      W  O      5.10.81-android12-9-24321119")
    assert t is not None and t.version == "5.10.81-android12-9-24321119"
    scan = scan_text("[  1.0] a.out invoked oom-killer: gfp_mask=0x26042c0, nodemask=0, order=0, "
                     "oom_score_adj=0")
    assert scan.events[0].nodemask == "0"


if __name__ == "__main__":
    folder = ROOT / (sys.argv[1] if len(sys.argv) > 1 else "heldback")
    right_all = total_all = 0
    for path in sorted(folder.glob("*.log")):
        r, t, m = score(path)
        right_all, total_all = right_all + r, total_all + t
        print(f"{path.name}: {r}/{t}" + "".join(f"\n    {x}" for x in m))
    print(f"{folder.name}: {right_all}/{total_all} facts right ({100 * right_all / max(total_all, 1):.1f}%)")
