"""Absent is not off (issue 9): a file a capture lacks says nothing about the kernel.

Inputs: the real roots of ../shared/real-roots (PROVENANCE.md there), or copies of them
with one file changed (handmade, said at each test).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import SHARED, run_cli

REAL = SHARED / "real-roots"


def _watermarks(root: Path) -> tuple[dict[str, object], str]:
    doc = json.loads(run_cli("--root", str(root), "--format", "json", "show", "watermarks").out)
    text = run_cli("--root", str(root), "show", "watermarks").out
    return doc["min_free_kbytes_origin"], text


def test_thp_not_captured_is_unknown_and_its_recommendation_is_recognised() -> None:
    # Real: hotsos-cephmon-5.4 keeps no sys/kernel/mm/transparent_hugepage; min_free_kbytes
    # 67584 is exactly what khugepaged sets for its 3 zones (512 * 3 * (2 + 9) pages).
    origin, text = _watermarks(REAL / "hotsos-cephmon-5.4")
    assert origin["thp_enabled"] is None and origin["thp_if_enabled_kbytes"] == 67584
    assert origin["origin"] == "THP recommendation (THP assumed enabled: its settings were not captured)"
    assert "THP off" not in text and "administrator" not in text
    assert "67584 kB if THP is enabled (its settings were not captured)" in text


def test_thp_known_off_is_off(tmp_path: Path) -> None:
    # Handmade from real: hotsos-k8s-5.4 (THP 'enabled' captured) with THP set to never.
    root = tmp_path / "k8s"
    shutil.copytree(REAL / "hotsos-k8s-5.4", root, symlinks=True)
    (root / "sys/kernel/mm/transparent_hugepage/enabled").write_text("always madvise [never]\n")
    origin, text = _watermarks(root)
    assert (origin["thp_enabled"], origin["thp_recommended_kbytes"], origin["origin"]) == (
        False, None, "set by an administrator")
    assert "THP recommendation n/a (THP off)" in text


def test_psi_a_sosreport_did_not_collect_is_not_captured() -> None:
    # Real: hotsos-k8s-5.4 is a 5.4 sosreport without proc/pressure: 5.4 has PSI.
    root = str(REAL / "hotsos-k8s-5.4")
    doc = json.loads(run_cli("--root", root, "--format", "json", "diagnose").out)
    reason = next(s["reason"] for s in doc["skipped"] if s["key"] == "PSI_MEMORY_PRESSURE")
    assert "not in this sosreport" in reason and "not captured" in reason and "4.20" not in reason
    r = run_cli("--root", root, "show", "psi")
    assert r.code == 3 and "hint: not captured: this sosreport did not collect it" in r.err
    # A kernel older than PSI, in a capture that is no sosreport, still says why.
    doc = json.loads(run_cli("--root", str(REAL / "ubuntu-3.2-x86"), "--format", "json", "diagnose").out)
    reason = next(s["reason"] for s in doc["skipped"] if s["key"] == "PSI_MEMORY_PRESSURE")
    assert "needs kernel >= 4.20" in reason


def test_a_sysctl_not_captured_is_not_a_sysctl_the_kernel_lacks() -> None:
    # Real: pcp-m1-x86 keeps no proc/sys/vm; ubuntu-3.2-x86 is a 3.2 kernel (no
    # watermark_scale_factor before 4.6, no watermark_boost_factor before 5.0).
    _, text = _watermarks(REAL / "pcp-m1-x86")
    assert "vm.min_free_kbytes=not captured  vm.watermark_scale_factor=not captured" in text
    _, text = _watermarks(REAL / "ubuntu-3.2-x86")
    assert "vm.min_free_kbytes=67584  vm.watermark_scale_factor=-  vm.watermark_boost_factor=-" in text
