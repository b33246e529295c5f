"""memstall lab compare: the comparison math on recorded results (no QEMU needed).

A "run" here is two real snapshots of the QEMU guest the lab boots (the committed
qemu-2node fixtures: fresh, then fragmented) plus a latency file; the expected numbers
are read from the fixture files with plain string handling, not through memstall.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from memstall.lab.compare import RunValues, compare
from memstall.lab.metrics import parse_latencies, run_metrics

SNAPS = FIXTURES / "snapshots"
FRESH = SNAPS / "x86_64-6.1-qemu-2node-fresh"
FRAGMENTED = SNAPS / "x86_64-6.1-qemu-2node-fragmented"


def _vmstat(d: Path) -> dict[str, int]:
    return {k: int(v) for k, v in (ln.split() for ln in (d / "proc/vmstat").read_text().splitlines())}


def _zone_free_pages(d: Path) -> int:
    text = (d / "proc/zoneinfo").read_text()
    return sum(int(m) for m in re.findall(r"^\s+pages free\s+(\d+)$", text, re.M))


def _make_results(root: Path, order: list[str], latencies: dict[int, str]) -> Path:
    names = list(dict.fromkeys(order))
    lab = {"schema": "memstall.lab-run/1", "scenario": "fragmentation", "memory_mib": 2048, "nodes": 2,
           "profiles": [{"name": n, "source": n, "settings": []} for n in names], "order": order,
           "accel": "tcg", "kernel": {"release": "6.1.0-56-cloud-amd64"}}
    root.mkdir()
    (root / "lab.json").write_text(json.dumps(lab))
    for k in range(1, len(order) + 1):
        shutil.copytree(FRESH, root / f"run{k}" / "snap-0")
        shutil.copytree(FRAGMENTED, root / f"run{k}" / "snap-1")
        (root / f"run{k}" / "latency_us.txt").write_text(latencies.get(k, "100\n"))
    return root


def test_run_metrics_are_the_snapshot_differences(tmp_path: Path) -> None:
    res = _make_results(tmp_path / "r", ["current"], {1: "10\n20\n30\n40\nfail 900\n"})
    got = run_metrics(res / "run1")
    a, b = _vmstat(FRESH), _vmstat(FRAGMENTED)
    for name in ("compact_stall", "compact_fail", "compact_success", "thp_fault_alloc"):
        assert got[name] == b[name] - a[name]
    assert got["allocstall"] == sum(b[k] - a[k] for k in b if k.startswith("allocstall_"))
    assert got["free_min_bytes"] == min(_zone_free_pages(FRESH), _zone_free_pages(FRAGMENTED)) * 4096
    assert got["latency_p50_us"] == 25.0 and got["latency_max_us"] == 40.0
    assert (got["ops"], got["failed_ops"]) == (5.0, 1.0)


def test_compare_math() -> None:
    lab = {"profiles": [{"name": "a"}, {"name": "b"}], "order": []}
    runs = [RunValues(i, "a", {"allocstall": v, "free_min_bytes": f}) for i, (v, f) in
            enumerate([(10, 100), (12, 110), (11, 120), (13, 130)], 1)]
    runs += [RunValues(i, "b", {"allocstall": v, "free_min_bytes": f}) for i, (v, f) in
             enumerate([(2, 100), (3, 140), (1, 90), (4, 120)], 5)]
    doc = compare(lab, runs)
    m = {x["name"]: x for x in doc["metrics"]}
    stall = m["allocstall"]
    assert stall["profiles"]["a"]["mean"] == 11.5 and stall["profiles"]["b"]["mean"] == 2.5
    v = stall["versus_baseline"]["b"]
    assert v["change_pct"] == pytest.approx((2.5 - 11.5) / 11.5 * 100)
    assert v["p_value"] == pytest.approx(2 / 70) and v["significant"] and v["direction"] == "better"
    free = m["free_min_bytes"]["versus_baseline"]["b"]
    assert not free["significant"] and free["method"] == "exact-ties"  # 100 and 120 tie across profiles
    assert doc["test"]["min_p_possible"] == pytest.approx(2 / 70)
    assert "compact_stall" not in m  # no value at all: left out, not shown as zero


def test_cli_compare_text_and_json(tmp_path: Path) -> None:
    res = _make_results(tmp_path / "r", ["current", "wsf", "wsf", "current"],
                        {1: "100\n", 2: "50\n", 3: "60\n", 4: "110\n"})
    text = run_cli("lab", "compare", str(res))
    assert text.code == 0, text.err
    assert "memstall lab: scenario fragmentation" in text.out
    assert "no p below 0.333 is possible" in text.out
    assert re.search(r"workload latency p50\s+0\.10 ms ± 0\.01\s+0\.06 ms ± 0\.01\s+-47\.6%", text.out)
    js = run_cli("--format", "json", "lab", "compare", str(res))
    doc = json.loads(js.out)
    assert doc["schema"] == "memstall.lab/1" and doc["baseline"] == "current"
    assert [r["dir"] for p in doc["profiles"] for r in p["runs"]] == ["run1", "run4", "run2", "run3"]


def test_each_snapshot_is_readable_by_show(tmp_path: Path) -> None:
    res = _make_results(tmp_path / "r", ["current"], {})
    r = run_cli("--root", str(res / "run1" / "snap-1"), "show", "frag")
    assert r.code == 0 and "node0/DMA32" in r.out


@pytest.mark.parametrize(("setup", "message"), [
    ("missing", "lab.json: No such file or directory"),
    ("badjson", "lab.json: not JSON"),
    ("badlatency", "latency_us.txt:2: expected '<microseconds>' or 'fail <microseconds>', got 'x'"),
    ("norun", "no finished runs"),
])
def test_compare_errors_are_one_line(tmp_path: Path, setup: str, message: str) -> None:
    res = tmp_path / "r"
    if setup == "missing":
        res.mkdir()
    elif setup == "badjson":
        res.mkdir()
        (res / "lab.json").write_text("{")
    elif setup == "badlatency":
        _make_results(res, ["current"], {1: "5\nx\n"})
    else:
        res.mkdir()
        (res / "lab.json").write_text(json.dumps({"order": ["current"], "profiles": []}))
    r = run_cli("lab", "compare", str(res))
    assert r.code == 3
    assert message in r.err and r.err.startswith("memstall: error: ")
    assert "Traceback" not in r.err


def test_parse_latencies() -> None:
    assert parse_latencies("1\n\n2\nfail 3\n") == ([1.0, 2.0], 1)


def test_json_md_documents_every_key(tmp_path: Path) -> None:
    from conftest import json_keys

    res = _make_results(tmp_path / "r", ["current", "wsf"], {})
    doc = json.loads(run_cli("--format", "json", "lab", "compare", str(res)).out)
    section = (FIXTURES.parent.parent / "docs" / "json.md").read_text().split("### `memstall.lab/1`")[1]
    section = section.split("### ")[0]
    # profile names key two open maps (metrics[].profiles, metrics[].versus_baseline)
    keys = json_keys(doc, frozenset({"params"})) - {"current", "wsf"}
    assert {m["name"] for m in doc["metrics"]} <= keys
    missing = sorted(k for k in keys if f"`{k}`" not in section)
    assert missing == []
