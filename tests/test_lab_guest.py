"""memstall lab end to end: boots real QEMU guests (marker `slow`, run by .ci/run).

Skipped, with the reason, unless qemu-system-x86_64, a static busybox, gcc and a kernel
image (the lab cache, as .ci/run fills it, or the host's /boot) are present. Sized for
TCG on the 2-core CI VM: 1 GiB guests with two NUMA nodes; about 5 minutes in all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, guest_skip_reason, run_cli

pytestmark = pytest.mark.slow
SEED_LOG = FIXTURES / "kernlog" / "corpus" / "000-seed-cold-storage-4.9.log"


REASON = guest_skip_reason()
needs_guest = pytest.mark.skipif(REASON is not None, reason=f"memstall lab guest: {REASON}")


def _lab(tmp_path: Path, *argv: str) -> tuple[dict[str, Any], Path]:
    r = run_cli("--format", "json", "lab", "run", "--memory", "1G", "--nodes", "2",
                "-o", str(tmp_path), *argv)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    (results,) = list(tmp_path.iterdir())
    return doc, results


def _vmstat(snap: Path) -> dict[str, int]:
    return {k: int(v) for k, v in (ln.split() for ln in (snap / "proc" / "vmstat").read_text().splitlines())}


def _metric(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in doc["metrics"] if m["name"] == name)


@needs_guest
def test_fragmentation_once_per_profile_raises_compaction(tmp_path: Path) -> None:
    prof = tmp_path / "proactive0.conf"
    prof.write_text("vm.compaction_proactiveness = 0\n")
    page = tmp_path / "lab.html"
    doc, res = _lab(tmp_path / "out", "--scenario", "fragmentation", "--profile", "current",
                    "--profile", str(prof), "--runs", "1", "--duration", "30", "--timeout", "240",
                    "--report", str(page))
    # the report of `lab run`: one free series per profile, drawn from every run's snapshots
    text = page.read_text()
    for name in ("current", "proactive0"):
        assert f"{name} free" in text and f"run{1 if name == 'current' else 2} ({name})" in text
    assert [len(r["series"]["t_seconds"]) for p in doc["profiles"] for r in p["runs"]] == \
        [len(list((res / r["dir"]).glob("snap-*"))) for p in doc["profiles"] for r in p["runs"]]
    stalls = {}
    for p in doc["profiles"]:
        (run,) = p["runs"]
        stalls[p["name"]] = run["metrics"]["compact_stall"]
        assert run["metrics"]["ops"] > 0
    # Direct compaction: on the development VM compact_stall rose 0 -> 1..8 with the default
    # proactiveness (kcompactd does most of the work) and 0 -> 323 with proactiveness 0.
    assert stalls["proactive0"] > 0, stalls
    run_dirs = sorted(res.glob("run*"))
    assert [d.name for d in run_dirs] == ["run1", "run2"]
    for d in run_dirs:
        snaps = sorted(d.glob("snap-*"), key=lambda s: int(s.name[5:]))
        first, last = _vmstat(snaps[0]), _vmstat(snaps[-1])
        # compaction ran in every run, direct or by kcompactd (66483 pages scanned here)
        assert last["compact_migrate_scanned"] > first["compact_migrate_scanned"], d.name
        assert last["compact_isolated"] > first["compact_isolated"], d.name
        cmd = (d / "qemu-cmdline.txt").read_text()
        assert "qemu-system-x86_64" in cmd and "-numa node,nodeid=1" in cmd
        assert "Linux version" in (d / "dmesg.txt").read_text()
        shown = run_cli("--root", str(snaps[-1]), "show", "frag")
        assert shown.code == 0 and "node1/" in shown.out
    _check_traced_stalls(doc, res)
    run2 = json.loads((res / "run2" / "run.json").read_text())
    assert run2["profile"] == "proactive0"
    assert "sysctl vm/compaction_proactiveness=0 (asked 0)" in run2["guest_log"]
    lab = json.loads((res / "lab.json").read_text())
    assert lab["kernel"]["release"] and lab["qemu"].startswith("QEMU emulator")
    assert (res / "profiles" / "proactive0.conf").read_text() == prof.read_text()


def _events(trace: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in trace.read_text().splitlines():
        m = re.search(r" \d+\.\d+: (\w+):", line)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def _kcompactd_runs(trace: Path) -> int:
    return sum(1 for ln in trace.read_text().splitlines()
               if ln.lstrip().startswith("kcompactd") and " mm_compaction_end:" in ln)


def _check_traced_stalls(doc: dict[str, Any], res: Path) -> None:
    """What the kernel guarantees of the guest's trace (tracing on from before the first
    snapshot to after the last; mm/page_alloc.c and mm/vmscan.c, 6.1): every
    try_to_compact_pages call is traced, and compact_stall is counted only after one
    (when no zone was skipped: a deferred zone or one already above its watermark counts,
    with no zone run traced, as in the seed runs); try_to_free_pages traces
    direct_reclaim_begin before do_try_to_free_pages counts allocstall. So, when no event
    was lost, traced windows >= compact_stall and traced reclaims >= allocstall."""
    for p, run in ((prof, r) for prof in doc["profiles"] for r in prof["runs"]):
        m, trace = run["metrics"], res / run["dir"] / "trace.txt"
        if not trace.exists():  # a guest kernel without tracefs: absent, not zero
            assert m["compaction_seconds"] is None and m["direct_reclaim_seconds"] is None
            continue
        events = _events(trace)
        if m["trace_lost_events"] == 0:
            windows = events.get("mm_compaction_try_to_compact_pages", 0)
            assert windows >= m["compact_stall"], (p["name"], events)
            assert events.get("mm_vmscan_direct_reclaim_begin", 0) >= m["allocstall"], (p["name"], events)
        assert m["compaction_seconds"] is not None and m["direct_reclaim_seconds"] is not None
        if events.get("mm_compaction_end", 0) > _kcompactd_runs(trace):
            # compact_zone() runs by the workload: each isolates and migrates pages, which
            # takes microseconds at least (milliseconds under TCG), so the windows are not 0
            assert m["compaction_seconds"] > 0, (p["name"], m)


def _recommended_wsf() -> int:
    r = run_cli("--format", "json", "diagnose", "--log", str(SEED_LOG))
    (rec,) = [x for x in json.loads(r.out)["recommendations"] if x["setting"] == "vm.watermark_scale_factor"]
    return int(rec["proposed"])


@needs_guest
def test_seed_wsf10_against_the_recommended_value(tmp_path: Path) -> None:
    wsf = _recommended_wsf()
    base, rec = tmp_path / "wsf10.conf", tmp_path / f"wsf{wsf}.conf"
    base.write_text("vm.watermark_scale_factor = 10\n")
    rec.write_text(f"vm.watermark_scale_factor = {wsf}\n")
    doc, res = _lab(tmp_path / "out", "--scenario", "seed", "--profile", str(base), "--profile", str(rec),
                    "--runs", "3", "--duration", "20", "--timeout", "240")
    _check_traced_stalls(doc, res)
    name = f"wsf{wsf}"
    low, high = _metric(doc, "wmark_low_bytes"), _metric(doc, "wmark_high_bytes")
    # The kernel's formula: a higher watermark_scale_factor raises low and high in every run
    # (low = min + max(min/4, wsf * managed / 10000); high = low + the same gap).
    assert low["profiles"][name]["min"] > low["profiles"]["wsf10"]["max"]
    assert high["profiles"][name]["min"] > high["profiles"]["wsf10"]["max"]
    for m in (low, high):
        assert m["versus_baseline"][name]["direction"] == "better", m
    # The free band and allocstall are measured, not asserted. On the development VM the band
    # rose in two series (lowest free 8.6 -> 23.8 MiB, 11.0 -> 25.2 MiB, every wsf 196 run above
    # every wsf 10 run), but on the CI VM one series of the same test went the other way
    # (wsf 10 up to 21.4 MiB, wsf 196 mean 19.7 MiB): under TCG the workload's pace decides how
    # deep free memory dips between snapshots. See docs/lab.md "What the guest showed".
    # No p below 0.1 is possible with 3 runs.
    for metric_name in ("free_min_bytes", "allocstall", "high_order_free_min_bytes"):
        per = _metric(doc, metric_name)["profiles"]
        assert set(per) == {"wsf10", name} and all(v["n"] == 3 for v in per.values()), per
    assert doc["test"]["min_p_possible"] == pytest.approx(0.1)
