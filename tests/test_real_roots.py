"""Real /proc captures from other people's machines (../shared/real-roots, issue 9).

The 17 roots are read from the shared folder, never copied here: their provenance is
../shared/real-roots/PROVENANCE.md. Every command runs on every root; a root may lack a
file (exit 3 naming it), but memstall never rejects kernel output it does not know
(`expected ..., got ...` on a real capture) and never crashes.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES, SHARED, run_cli
from memstall.parsers.zoneinfo import parse_zoneinfo

REAL = SHARED / "real-roots"
ROOTS = sorted(p.name for p in REAL.iterdir() if p.is_dir() and not p.name.startswith("_"))
VIEWS = ("buddyinfo", "zones", "frag", "watermarks", "vmstat", "meminfo", "psi", "sysctl", "thp",
         "kthreads", "extfrag")
MISSING = re.compile(r"no such file|not in this sosreport|no such directory|no kswapd or kcompactd|"
                     r"no zone sizes|not captured")


def test_the_shared_roots_are_there() -> None:
    assert len(ROOTS) >= 17, f"{REAL}: expected the 17 real roots of issue 9"


def _acceptable(argv: tuple[str, ...], code: int, out: str, err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code == 3:
        assert MISSING.search(err), (argv, err)  # an absent input, said; never a rejected line
        return
    if "diagnose" in argv:
        assert code in (0, 1, 2), (argv, err)
    elif "whatif" in argv and code == 2:
        assert "does not exist before Linux" in err, (argv, err)
        return
    else:
        assert code == 0, (argv, err)
    if "json" in argv:
        assert "schema" in json.loads(out)


@pytest.mark.parametrize("root", ROOTS)
def test_every_command_runs_on_every_real_root(root: str) -> None:
    base = ("--root", str(REAL / root))
    runs = [(*base, "show", w) for w in VIEWS] + [(*base, "--format", "json", "show", w) for w in VIEWS]
    runs += [(*base, "--format", "json", "diagnose"), (*base, "diagnose"),
             (*base, "--format", "json", "whatif", "--set", "vm.watermark_scale_factor=200")]
    for argv in runs:
        r = run_cli(*argv)
        _acceptable(argv, r.code, r.out, r.err)


# -- 1. a parser meets the unknown ------------------------------------------------------

def test_rhel_8_0_unnamed_per_node_counter_is_left_out_with_its_line() -> None:
    # Real capture: sos-rhel8-4.18 (4.18.0-80.11.2.el8_0), zoneinfo line 30.
    zi = parse_zoneinfo((REAL / "sos-rhel8-4.18/proc/zoneinfo").read_text())
    assert [z.zone for z in zi.zones] == ["DMA", "DMA32", "Normal", "Movable", "Device"]
    assert zi.skipped == ((30, "                   537792"),)
    assert zi.zones[0].min_pages == 33 and zi.nodes[0].counters["nr_written"] == 260861
    r = run_cli("--root", str(REAL / "sos-rhel8-4.18"), "show", "zones")
    assert r.code == 0, r.err
    assert "memstall: note: proc/zoneinfo: left out 1 line of a shape memstall does not read: " \
           "proc/zoneinfo:30 '537792'\n" in r.err


def test_linux_2_6_scanned_and_pcp_lines_are_left_out_with_their_lines() -> None:
    # Real capture: arm720t-2.6.16 (2.6-era zoneinfo: `scanned  0 (a: 0 i: 0)`, `cpu: 0 pcp: 0`).
    zi = parse_zoneinfo((REAL / "arm720t-2.6.16/proc/zoneinfo").read_text())
    z = zi.zones[0]
    assert (z.free_pages, z.min_pages, z.low_pages, z.high_pages) == (5410, 181, 226, 271)
    assert [no for no, _ in zi.skipped] == [8, 13, 17]
    r = run_cli("--root", str(REAL / "arm720t-2.6.16"), "--format", "json", "diagnose")
    notes = json.loads(r.out)["input_notes"]
    assert any("proc/zoneinfo:8 'scanned 0 (a: 0 i: 0)'" in n for n in notes), notes
    text = run_cli("--root", str(REAL / "arm720t-2.6.16"), "diagnose").out
    assert "Notes on the input\n  - page size" in text and "proc/zoneinfo:13 'cpu: 0 pcp: 0'" in text


def _idle_zoneinfo() -> str:
    return (FIXTURES / "snapshots/x86_64-6.18-idle/proc/zoneinfo").read_text()


@given(st.integers(min_value=1, max_value=40),
       st.text(alphabet=" ()#:=*-abcxyz0123456789", min_size=1, max_size=30))
def test_an_unknown_line_anywhere_in_a_zone_block_keeps_every_zone(after: int, junk: str) -> None:
    # Hostile (handmade): a line of an unknown shape inserted into a real 6.18 zoneinfo.
    lines = _idle_zoneinfo().splitlines()
    line = "        " + junk
    words = line.split()
    if not words or words[0] in {"Node", "pages", "protection:", "pagesets", "per-node"} \
            or re.fullmatch(r"\s*[A-Za-z_][\w()]*\s+-?\d+\s*", line) \
            or re.fullmatch(r"\s*[A-Za-z_][\w ]*?:\s*-?\d+\s*", line) \
            or words[0] in {"min", "low", "high", "promo", "boost", "spanned", "present", "managed", "cma"}:
        return  # a known shape, or a field memstall uses: not the case under test
    at = min(after, len(lines) - 1)
    clean = parse_zoneinfo("\n".join(lines))
    dirty = parse_zoneinfo("\n".join([*lines[:at], line, *lines[at:]]))
    assert dirty.skipped == ((at + 1, line),)
    assert [(z.node, z.zone, z.min_pages, z.managed_pages) for z in dirty.zones] == \
           [(z.node, z.zone, z.min_pages, z.managed_pages) for z in clean.zones]


def test_a_bad_value_of_a_used_field_is_still_an_error(tmp_path: Path) -> None:
    # Hostile (handmade): `min forty` is a watermark memstall uses: never half-parsed.
    text = _idle_zoneinfo().replace("        min      ", "        min      forty", 1)
    with pytest.raises(Exception, match=r"proc/zoneinfo:\d+: expected '<key> <int>'"):
        parse_zoneinfo(text)


def test_show_sysctl_runs_on_a_malformed_zoneinfo_and_show_zones_names_the_line(tmp_path: Path) -> None:
    # Hostile (handmade): a zoneinfo whose min line is garbage, in a copy of a real capture.
    root = tmp_path / "root"
    shutil.copytree(REAL / "el9-5.14-droplet", root)
    zi = root / "proc/zoneinfo"
    lines = zi.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == ["min"])
    lines[at] = "        min      forty"
    zi.write_text("\n".join(lines) + "\n")
    r = run_cli("--root", str(root), "show", "sysctl")
    assert r.code == 0, r.err
    assert f"memstall: note: proc/zoneinfo left out: proc/zoneinfo:{at + 1}: expected" in r.err
    r = run_cli("--root", str(root), "show", "zones")
    assert (r.code, r.err.splitlines()[0]) == (
        3, f"memstall: error: proc/zoneinfo:{at + 1}: expected '<key> <int>', got '        min      forty'")
    r = run_cli("--root", str(root), "whatif", "--set", "vm.watermark_scale_factor=200")
    assert r.code == 3 and f"proc/zoneinfo:{at + 1}:" in r.err
