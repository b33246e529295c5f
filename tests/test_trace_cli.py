"""`memstall trace --input`: the whole pipe path (parse, pair, render) on saved 6.18 text."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXTURES, json_keys, run_cli

TRACE = FIXTURES / "trace"


def test_text_report_of_real_memcg_reclaim() -> None:
    result = run_cli("trace", "--input", str(TRACE / "x86_64-6.18-memcg-reclaim.txt"))
    assert result.code == 0, result.err
    assert "memcg_reclaim order=0 gfp=GFP_NOFS|" in result.out and ": 116 stalls" in result.out
    assert "stall time per process" in result.out and "28124  cat" in result.out
    assert "kcompactd activity" not in result.out  # none in this capture


def test_json_schema() -> None:
    saved = TRACE / "x86_64-6.18-direct-stalls-handmade.txt"
    result = run_cli("trace", "--format", "json", "--input", str(saved))
    doc = json.loads(result.out)
    assert doc["schema"] == "memstall.trace/1" and doc["path"] == "input"
    assert doc["events"]["lost"] == 7 and doc["events"]["lost_by_cpu"] == {"1": 7}
    kinds = {(h["kind"], h["order"]) for h in doc["histograms"]}
    assert kinds == {("direct_reclaim", 0), ("direct_reclaim", 2), ("direct_compaction", 9)}
    compaction = next(h for h in doc["histograms"] if h["kind"] == "direct_compaction")
    assert compaction["buckets_us"] == {"8192": 1} and compaction["total_seconds"] == 0.006
    web = next(p for p in doc["processes"] if p["pid"] == 4200)
    assert web["comm"] == "Web Content" and web["cgroup"] is None and web["stall_seconds"] == 0.001
    assert doc["kswapd"][0]["awake_seconds"] == 0.05 and doc["slowest"][0]["kind"] == "direct_compaction"


def test_errors_are_one_line() -> None:
    bad = run_cli("trace", "--input", str(TRACE / "README.md"))
    assert bad.code == 3 and bad.err.startswith("memstall: error: ") and "README.md:3: expected" in bad.err
    assert run_cli("trace", "--input", "/nonexistent").err.count("\n") == 1
    assert run_cli("trace", "--root", "/tmp", "--duration", "1").code == 2
    assert run_cli("trace", "--buffer-kb", "0").code == 2


def test_json_md_documents_every_key() -> None:
    section = (Path(__file__).parent.parent / "docs" / "json.md").read_text().split(
        "### `memstall.trace/1`", 1)[1]
    saved = TRACE / "x86_64-6.18-direct-stalls-handmade.txt"
    result = run_cli("trace", "--format", "json", "--input", str(saved))
    keys = json_keys(json.loads(result.out), frozenset({"buckets_us", "lost_by_cpu", "by_kind_seconds",
                                                        "wake_orders"}))
    missing = sorted(k for k in keys if f"`{k}`" not in section)
    assert missing == []
