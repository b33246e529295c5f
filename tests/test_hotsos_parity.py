"""hotsos parity: every ../shared/peer-parity/hotsos/* case through `diagnose --root`.

Each case holds `root/` and `case.json` (what hotsos asserts, and provenance). memstall must
flag the same problem (severity may differ: the reason is beside each row), or differ only
in a threshold documented in docs/diagnose.md, section "hotsos parity". Data is read from
../shared, never copied here.
"""

from __future__ import annotations

import json
from fnmatch import fnmatch
from pathlib import Path

import pytest

from conftest import SHARED, run_cli
from memstall import specs

HOTSOS = SHARED / "peer-parity" / "hotsos"

HUGE_WARN = {("HUGETLB_SQUEEZES_PAGE_CACHE", "WARNING", "host")}
# hotsos: 'hugepages consuming 320GB of 377GB (85%) ... only 4% actively used' (MemoryWarning).
# Threshold difference (docs): hotsos passes when HugePages_Total is 0, Hugetlb < 80% of RAM or
# MemAvailable > 3%; memstall reports hugetlb >= 25% of RAM (INFO), WARNING when >= 10% unused.
HUGE_INFO = {("HUGETLB_SQUEEZES_PAGE_CACHE", "INFO", "host")}
# hotsos: 'limited high order memory available: node0-normal' (with its block-size threshold
# mocked to 1); memstall flags it at its default threshold, INFO (no allocation is failing).
# COMPACTION_STALLS: hotsos needs compact_success > 10000 and > 10% failing (mocked in
# scenario_memory_w_compaction_failures); memstall reports the since-boot counts at INFO.
MEMORY = {("COMPACTION_STALLS", "INFO", "host"), ("HIGH_ORDER_EXHAUSTION", "INFO", "node0/Normal")}
# hotsos: '1 reports of oom-killer invoked' / zone Normal free below low. memstall: the OOM was
# forced with SysRq-f (order=-1, moom_callback), so INFO, and the Mem-Info zone is below low.
OOM_LOG = {("LOG_ALLOC_STALLS", "INFO", "forced"), ("ZONE_BELOW_WATERMARK", "INFO", "node0/Normal")}

EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "rebuilt_hugepages_fail_with_hugepagesize": HUGE_WARN,
    "scenario_hugepages_fail": HUGE_WARN,  # Hugepagesize inferred as Hugetlb / HugePages_Total
    "rebuilt_hugepages_pass_1_no_comment_lines": HUGE_INFO,  # threshold: HugePages_Total 0, Hugetlb 320G
    "scenario_hugepages_pass_1": HUGE_INFO,  # same, '#' line left out with a note
    "rebuilt_hugepages_pass_2_no_comment_lines": HUGE_INFO,  # threshold: 40% < hotsos's 80%
    "scenario_hugepages_pass_2": HUGE_INFO,
    "rebuilt_hugepages_pass_3_no_comment_lines": HUGE_WARN,  # threshold: MemAvailable 5% > 3%
    "scenario_hugepages_pass_3": HUGE_WARN,
    "scenario_memory": MEMORY,
    "scenario_memory_w_compaction_failures": MEMORY,  # hotsos's compaction numbers are mocks
    "rebuilt_memory_w_compaction_failures_vmstat": MEMORY,  # 1101 of 11102 failed: INFO
    "unit_TestKernelMemoryInfo": MEMORY,  # hotsos at default thresholds: nothing (docs)
    "scenario_kernlog_calltrace_oom_killer": OOM_LOG,
    "unit_TestKernelCallTraceManager_kern_log": OOM_LOG,
    "unit_TestKernelCallTraceManager_journal_file": OOM_LOG,
    "unit_TestKernelCallTraceManager_systemd_journal_mocked": OOM_LOG,
}

CASES = sorted(p.name for p in HOTSOS.glob("*") if (p / "case.json").is_file())


def _findings(*args: str) -> set[tuple[str, str, str]]:
    r = run_cli("diagnose", *args, "--format", "json", "--fail-on", "never")
    assert r.code == 0 and "Traceback" not in r.err, r.err
    return {(f["key"], f["severity"], f["subject"]) for f in json.loads(r.out)["findings"]}


def _logs(case: str) -> list[Path]:
    said = json.loads((HOTSOS / case / "case.json").read_text())
    return [HOTSOS / case / "root" / rel for rel in said["logs"]]


def test_every_case_has_an_expectation() -> None:
    assert CASES, f"no hotsos cases under {HOTSOS}"
    assert set(CASES) == set(EXPECTED)


def _not_where_a_root_keeps_logs(case: str) -> list[Path]:
    """The case's logs that sit where no real host keeps one (hotsos mocks journalctl; the
    parity data saved its output as var/log/journal.txt): those are given with --log."""
    root = HOTSOS / case / "root"
    return [p for p in _logs(case)
            if not any(fnmatch(str(p.relative_to(root)), pat) for pat in specs.ROOT_KERNEL_LOGS)]


@pytest.mark.parametrize("case", CASES)
def test_diagnose_root_flags_what_hotsos_flags(case: str) -> None:
    extra = [a for p in _not_where_a_root_keeps_logs(case) for a in ("--log", str(p))]
    assert _findings("--root", str(HOTSOS / case / "root"), *extra) == EXPECTED[case]


@pytest.mark.parametrize("case", [c for c in CASES if _logs(c)])
def test_oom_in_the_roots_log(case: str) -> None:
    (log,) = _logs(case)
    assert _findings("--log", str(log)) == EXPECTED[case]


def test_show_slab_ranks_what_hotsos_lists_by_memory() -> None:
    """hotsos's test_slab_major_consumers lists buffer_head, anon_vma_chain, radix_tree_node,
    Acpi-State, vmap_area (num_objs * objsize, not in size order); memstall ranks every cache by
    the pages its slabs hold, so ext4_inode_cache (185 MiB, the largest) comes first."""
    r = run_cli("--root", str(HOTSOS / "unit_TestKernelMemoryInfo" / "root"), "show", "slab",
                "--format", "json")
    caches = json.loads(r.out)["caches"]
    names = [c["name"] for c in caches]
    assert names[:3] == ["ext4_inode_cache", "buffer_head", "dentry"]
    by_name = {c["name"]: c for c in caches}
    # hotsos's 'buffer_head (87540.6796875k)' is num_objs * objsize; memstall counts whole slabs.
    bh = by_name["buffer_head"]
    assert bh["num_objs"] * bh["objsize_bytes"] / 1024 == 87540.6796875
    assert bh["bytes"] == 22101 * 4096
    assert {c: by_name[c]["reclaim"] for c in ("dentry", "buffer_head", "anon_vma_chain")} == \
        {"dentry": "vfs", "buffer_head": "other", "anon_vma_chain": None}


GOLDEN = Path(__file__).parent / "golden" / "show"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_show_slab_golden(fmt: str, update_golden: bool) -> None:
    """`show slab` on hotsos's slabinfo (a 5.4 sosreport), text and JSON, byte for byte."""
    r = run_cli("--root", str(HOTSOS / "unit_TestKernelMemoryInfo" / "root"), "show", "slab",
                "--format", fmt)
    assert r.code == 0, r.err
    path = GOLDEN / f"slab-hotsos-unit_TestKernelMemoryInfo.{'txt' if fmt == 'text' else 'json'}"
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(r.out)
    assert r.out == path.read_text(), "`show slab` changed: `pytest --update-golden`, review the diff"
