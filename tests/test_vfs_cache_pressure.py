"""vm.vfs_cache_pressure: what raising it would reclaim, and when it will not help (issue 9).

The seed's engineer raised it to 10000. Inputs: the seed log (tests/fixtures/kernlog/corpus,
real), and the real hotsos-k8s-5.4 root of ../shared/real-roots, copied with one value
changed (handmade, said at each test).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from conftest import FIXTURES, SHARED, run_cli

SEED = FIXTURES / "kernlog" / "corpus" / "000-seed-cold-storage-4.9.log"
K8S = SHARED / "real-roots" / "hotsos-k8s-5.4"


def _diagnose(*argv: str) -> dict[str, object]:
    doc = json.loads(run_cli("--format", "json", "diagnose", *argv).out)
    assert isinstance(doc, dict)
    return doc


def test_the_seed_stall_is_not_a_dentry_inode_problem() -> None:
    doc = _diagnose("--log", str(SEED))
    (note,) = [n for n in doc["notes"] if n.startswith("vm.vfs_cache_pressure")]  # type: ignore[union-attr]
    assert note.startswith("vm.vfs_cache_pressure will not help (ZONE_BELOW_WATERMARK, LOG_ALLOC_STALLS")
    # What it would reclaim (the Mem-Info's slab_reclaimable), against the page cache.
    assert ("reclaimable slab (dentries and inodes, the only caches it weights) holds 4.0 GiB, "
            "3.3% of usable memory, against 107.2 GiB of page cache") in note
    assert not any(r["setting"] == "vm.vfs_cache_pressure" for r in doc["recommendations"])  # type: ignore[union-attr]
    text = run_cli("diagnose", "--log", str(SEED)).out
    assert "  - vm.vfs_cache_pressure will not help" in text.split("Will not help / not sized")[1]


def _k8s(tmp_path: Path, pressure: int, sreclaimable_kib: int | None = None) -> Path:
    root = tmp_path / "k8s"
    shutil.copytree(K8S, root, symlinks=True)
    (root / "proc/sys/vm/vfs_cache_pressure").write_text(f"{pressure}\n")
    if sreclaimable_kib is not None:
        meminfo = root / "proc/meminfo"
        meminfo.write_text(re.sub(r"SReclaimable: +\d+", f"SReclaimable:   {sreclaimable_kib}",
                                  meminfo.read_text()))
    return root


def test_a_raised_value_with_little_slab_is_said_to_buy_little(tmp_path: Path) -> None:
    # Handmade from real: hotsos-k8s-5.4 with vm.vfs_cache_pressure = 10000 (as the seed's).
    doc = _diagnose("--root", str(_k8s(tmp_path, 10000)))
    notes = [n for n in doc["notes"] if n.startswith("vm.vfs_cache_pressure")]  # type: ignore[union-attr]
    assert len(notes) == 1 and "it is 10000, above the default 100, already" in notes[0]
    assert "holds 169.7 MiB, 4.3% of usable memory" in notes[0]


def test_the_default_without_reclaim_trouble_gets_no_note(tmp_path: Path) -> None:
    doc = _diagnose("--root", str(_k8s(tmp_path, 100)))
    assert not any(n.startswith("vm.vfs_cache_pressure") for n in doc["notes"])  # type: ignore[union-attr]


def test_a_large_slab_gets_a_value_that_says_what_it_would_reclaim(tmp_path: Path) -> None:
    # Handmade from real: hotsos-k8s-5.4 with SReclaimable raised to 1.2 GiB (30 % of RAM).
    doc = _diagnose("--root", str(_k8s(tmp_path, 100, 1207810)))
    (rec,) = [r for r in doc["recommendations"] if r["setting"] == "vm.vfs_cache_pressure"]  # type: ignore[union-attr]
    assert rec["current"] == "100" and int(rec["proposed"]) > 100
    words = "reclaimable slab (dentries and inodes, the only caches it weights) holds 1.2 GiB"
    assert words in rec["rationale"]
    assert "against 2.6 GiB of page cache" in rec["rationale"]
    assert not any(n.startswith("vm.vfs_cache_pressure") for n in doc["notes"])  # type: ignore[union-attr]
