"""Every command over real /proc captures from other people's machines (issue 9).

Inputs: tests/fixtures/real-captures/<arch>-<kernel>-<source>/, copied byte for byte from public
repositories (PROVENANCE.md there; each MANIFEST.json names repository, commit, path and licence).
Each root gets the commands of ../shared/real-roots/run.sh: `show W` (text and JSON) for every W,
`diagnose --format json` and `whatif --set vm.watermark_scale_factor=200 --format json`. Every run
must be ok, a one-line "missing input" error (exit 3), or whatif's refusal on a kernel before 4.6;
never an internal error. The fragmentation and unusable indices and the watermarks memstall shows
are then recomputed here from the raw buddyinfo/zoneinfo text with the kernel's integer formulas
(../shared/kernel/FACTS.md sections 1 and 2; mm/vmstat.c, mm/page_alloc.c).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from kernel_formulas import fragmentation_milli as _frag_index
from kernel_formulas import unusable_milli as _unusable_index

CAPTURES = Path(__file__).parent / "fixtures" / "real-captures"
ROOTS = sorted(p.name for p in CAPTURES.iterdir() if p.is_dir())
WHATS = ("buddyinfo", "zones", "frag", "watermarks", "vmstat", "meminfo", "psi", "sysctl", "thp",
         "kthreads", "extfrag")
MISSING = re.compile(r"no such file|not in this sosreport|not in /|no such directory"
                     r"|no kswapd or kcompactd|no zone sizes")
REFUSED = re.compile(r"does not exist before Linux")
INTERNAL_EXIT = 70

# Captures on which a command fails in a way that is a memstall bug, not the capture's: the
# reason names the fault. strict: the test starts failing (XPASS) once it is fixed.
KNOWN_BUGS: dict[tuple[str, str], str] = {
    # (fixed: whatif on x86_64-5.10-chromeos-syslogs, no zoneinfo and no proc/sys/vm, now names
    # both missing files instead of "neither readable nor inferable")
}


def _manifest(root: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((CAPTURES / root / "MANIFEST.json").read_text())
    return doc


def _commands() -> list[tuple[str, str, tuple[str, ...]]]:
    cmds: list[tuple[str, str, tuple[str, ...]]] = []
    for what in WHATS:
        cmds.append((f"show {what}", "text", ("show", what)))
        cmds.append((f"show {what} json", "json", ("show", what, "--format", "json")))
    cmds.append(("diagnose json", "diagnose", ("diagnose", "--format", "json")))
    cmds.append(("whatif json", "whatif",
                 ("whatif", "--set", "vm.watermark_scale_factor=200", "--format", "json")))
    return cmds


def _cases() -> list[Any]:
    cases = []
    for root in ROOTS:
        for label, kind, argv in _commands():
            reason = KNOWN_BUGS.get((root, label.split()[0]))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(root, kind, argv, marks=marks, id=f"{root}:{label}"))
    return cases


def _error_lines(err: str) -> list[str]:
    """Lines memstall wrote as errors (notes and the `hint:` line after an error are not)."""
    return [ln for ln in err.splitlines()
            if ln.startswith("memstall") and not ln.startswith("memstall: note:")]


@pytest.mark.parametrize(("root", "kind", "argv"), _cases())
def test_every_command_runs_on_real_capture(root: str, kind: str, argv: tuple[str, ...]) -> None:
    r = run_cli("--root", str(CAPTURES / root), *argv)
    assert r.code != INTERNAL_EXIT, r.err
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    ok = r.code == 0 or (kind == "diagnose" and r.code in (1, 2) and r.out)
    if ok:
        if kind != "text":
            doc = json.loads(r.out)
            assert isinstance(doc, dict)
            assert re.fullmatch(r"memstall\.[a-z.-]+/\d+", doc["schema"]), doc.get("schema")
        else:
            assert r.out.strip()
        return
    errors = _error_lines(r.err)
    assert len(errors) == 1, r.err
    assert errors[0].startswith("memstall: error: "), r.err
    if kind == "whatif" and r.code == 2 and REFUSED.search(errors[0]):
        release = _manifest(root)["kernel"]
        assert tuple(int(x) for x in release.split(".")[:2]) < (4, 6), errors[0]
        return
    assert r.code == 3 and MISSING.search(errors[0]), (r.code, r.err)


# --- independent recomputation ------------------------------------------------------------

def _buddyinfo(root: str) -> dict[tuple[int, str], list[int]]:
    out = {}
    for line in (CAPTURES / root / "proc" / "buddyinfo").read_text().splitlines():
        m = re.match(r"Node (\d+), zone\s+(\S+)\s+(.*)$", line)
        assert m, line
        out[(int(m.group(1)), m.group(2))] = [int(x) for x in m.group(3).split()]
    return out


def _zoneinfo(root: str) -> dict[tuple[int, str], dict[str, int]]:
    zones: dict[tuple[int, str], dict[str, int]] = {}
    cur: dict[str, int] | None = None
    for line in (CAPTURES / root / "proc" / "zoneinfo").read_text().splitlines():
        m = re.match(r"Node (\d+), zone\s+(\S+)$", line)
        if m:
            cur = zones.setdefault((int(m.group(1)), m.group(2)), {})
            continue
        words = line.split()
        if cur is None or len(words) < 2:
            continue
        if words[0] == "pages" and words[1] == "free":
            cur["free"] = int(words[2])
        elif words[0] in ("min", "low", "high", "managed", "present", "spanned", "boost") \
                and words[1].isdigit():
            cur.setdefault(words[0], int(words[1]))
    return zones


def _index_text(thousandths: int, width: int) -> str:
    whole = int(thousandths / 1000)  # C truncating division, as debugfs prints it
    return f"{whole:{width}d}.{abs(thousandths) % 1000:03d}"


def _json(root: str, *argv: str) -> dict[str, Any]:
    r = run_cli("--root", str(CAPTURES / root), *argv, "--format", "json")
    assert r.code == 0, r.err
    doc: dict[str, Any] = json.loads(r.out)
    return doc


BUDDY_ROOTS = [r for r in ROOTS if (CAPTURES / r / "proc" / "buddyinfo").exists()]
ZONE_ROOTS = [r for r in ROOTS if (CAPTURES / r / "proc" / "zoneinfo").exists()]


@pytest.mark.parametrize("root", BUDDY_ROOTS)
def test_frag_indices_match_kernel_formula(root: str) -> None:
    raw = _buddyinfo(root)
    doc = _json(root, "show", "frag")
    shown = {(z["node"], z["zone"]): z for z in doc["zones"]}
    assert set(shown) == set(raw)
    for key, counts in raw.items():
        z = shown[key]
        assert z["free_blocks"] == counts
        assert z["free_pages"] == sum(n << k for k, n in enumerate(counts))
        frag = [_frag_index(counts, o) for o in range(len(counts))]
        unusable = [_unusable_index(counts, o) for o in range(len(counts))]
        assert z["fragmentation_index_text"] == [_index_text(v, 2).strip() for v in frag], key
        assert z["fragmentation_index"] == [v / 1000 for v in frag], key
        assert z["unusable_index"] == [v / 1000 for v in unusable], key


def _lowmem_pages(zones: dict[tuple[int, str], dict[str, int]]) -> int:
    return sum(z.get("managed", 0) for (_, name), z in zones.items() if name != "HighMem")


def _computed_wmarks(z: dict[str, int], lowmem: int, min_free_kbytes: int, release: str,
                     scale_factor: int | None) -> tuple[int, int, int]:
    """__setup_per_zone_wmarks (mm/page_alloc.c) for a lowmem zone with 4 KiB pages."""
    tmp = (min_free_kbytes >> 2) * z["managed"] // lowmem
    version = tuple(int(x) for x in release.split(".")[:2])
    if version < (4, 6):  # watermark_scale_factor came with 4.6 (795ae7a0de6b)
        return tmp, tmp + (tmp >> 2), tmp + (tmp >> 1)
    band = max(tmp >> 2, z["managed"] * (scale_factor or 10) // 10000)
    return tmp, tmp + band, tmp + 2 * band


@pytest.mark.parametrize("root", ZONE_ROOTS)
def test_watermarks_match_zoneinfo_and_kernel_formula(root: str) -> None:
    raw = _zoneinfo(root)
    doc = _json(root, "show", "watermarks")
    shown = {(z["node"], z["zone"]): z for z in doc["zones"]}
    assert set(shown) <= set(raw) and shown
    for key, z in shown.items():
        r = raw[key]
        assert (z["min_pages"], z["low_pages"], z["high_pages"]) == (r["min"], r["low"], r["high"])
        assert z["free_pages"] == r["free"]
        assert z["managed_pages"] == r.get("managed", z["managed_pages"])
        assert z["present_pages"] == r["present"]
    sysctl_file = CAPTURES / root / "proc" / "sys" / "vm" / "min_free_kbytes"
    # The raw sysctl when captured; otherwise the value memstall inferred, so that its
    # calculator is still checked against this one.
    min_free_kbytes = (int(sysctl_file.read_text()) if sysctl_file.exists()
                       else doc["sysctl"]["min_free_kbytes"])
    assert min_free_kbytes == doc["sysctl"]["min_free_kbytes"]
    lowmem = _lowmem_pages(raw)
    for key, z in shown.items():
        if z["computed"] is None or not raw[key].get("managed"):
            continue
        want = _computed_wmarks(raw[key], lowmem, min_free_kbytes, _manifest(root)["kernel"],
                                doc["sysctl"]["watermark_scale_factor"])
        got = (z["computed"]["min_pages"], z["computed"]["low_pages"], z["computed"]["high_pages"])
        assert got == want, key


def test_at_least_five_captures_with_provenance() -> None:
    assert len(ROOTS) >= 5
    text = (CAPTURES / "PROVENANCE.md").read_text()
    for root in ROOTS:
        m = _manifest(root)
        prov = m["provenance"]
        assert re.fullmatch(r"[0-9a-f]{40}", prov["commit"]) and prov["repository"] in m["source"]
        assert prov["licence"] and m["edited"] == []
        assert root in text and prov["commit"] in text
        files = sorted(str(p.relative_to(CAPTURES / root)) for p in (CAPTURES / root).rglob("*")
                       if p.is_file() and p.name != "MANIFEST.json")
        assert files == m["files"]
