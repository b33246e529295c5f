"""Every assumption is said (issue 9): page size (inferred from 14 buddy orders on arm64),
kernel version and hugetlb reservations, as notes in `diagnose` and `whatif`, text and JSON.

Inputs: real roots of ../shared/real-roots (PROVENANCE.md there).
"""

from __future__ import annotations

import json

from conftest import SHARED, run_cli
from memstall.collect import load_state
from memstall.sources import open_root

REAL = SHARED / "real-roots"
ARM64 = REAL / "arm64-64k-d05-4.9"  # a HiSilicon D05, 4.9, 64 KiB pages: buddyinfo only
INFERRED = ("page size not recorded in this capture: 65536 bytes inferred from the 14 buddy "
            "orders of proc/buddyinfo (arm64 with 64 KiB pages; 4 KiB pages have 11)")
KERNEL = "kernel release not recorded: the newest kernel's formulas are assumed"
HUGETLB = "hugetlb reservations unknown (no meminfo): none assumed"


def test_fourteen_buddy_orders_are_64k_pages() -> None:
    state = load_state(open_root(str(ARM64)))
    assert state.page_size == 65536
    assert INFERRED in state.notes and not any("assumed 4096" in n for n in state.notes)
    # 250 free order-13 blocks on node 0 are 250 * 512 MiB = 125 GiB (PROVENANCE.md).
    doc = json.loads(run_cli("--root", str(ARM64), "--format", "json", "show", "buddyinfo").out)
    normal = next(z for z in doc["zones"] if (z["node"], z["zone"]) == (0, "Normal"))
    assert normal["free_blocks"][13] == 250 and doc["page_size"] == 65536


def test_eleven_orders_keep_the_4k_assumption_and_say_it() -> None:
    # Real: linuxmm-8node-4.9 (x86_64, 11 orders, no MANIFEST).
    state = load_state(open_root(str(REAL / "linuxmm-8node-4.9")))
    assert state.page_size == 4096
    assert "page size not recorded in this capture: assumed 4096 bytes" in state.notes


def test_diagnose_says_every_assumption_in_text_and_json() -> None:
    doc = json.loads(run_cli("--root", str(ARM64), "--format", "json", "diagnose").out)
    assert doc["input_notes"] == [INFERRED, KERNEL, HUGETLB]
    text = run_cli("--root", str(ARM64), "diagnose").out
    flat = " ".join(text.split("Notes on the input\n", 1)[1].split())
    assert all(" ".join(n.split()) in flat for n in (INFERRED, KERNEL, HUGETLB))


def test_whatif_says_every_assumption_in_text_and_json() -> None:
    # Real: arm720t-2.6.16 has no meminfo and no recorded page size.
    root = str(REAL / "arm720t-2.6.16")
    argv = ("whatif", "--set", "vm.min_free_kbytes=2048")
    doc = json.loads(run_cli("--root", root, "--format", "json", *argv).out)
    assert "page size not recorded in this capture: assumed 4096 bytes" in doc["notes"]
    assert HUGETLB in doc["notes"]
    text = run_cli("--root", root, *argv).out
    assert f"note: {HUGETLB}\n" in text and "note: page size not recorded" in text
    # The kernel-version assumption, on a root without a release (procfs-ttar-x86).
    doc = json.loads(run_cli("--root", str(REAL / "procfs-ttar-x86"), "--format", "json",
                             "whatif", "--set", "vm.watermark_scale_factor=200").out)
    assert KERNEL in doc["notes"]
