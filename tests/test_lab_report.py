"""`memstall lab compare DIR --report FILE` on a recorded results directory (a real 2-run
fragmentation lab: tests/fixtures/lab/fragmentation-6.1-tcg-trace): the page's structure
(one series per profile in every chart, the comparison table, each run's numbers), escaping
of what came from the guest or the host, and the page opened in real headless Chromium.
Time in direct reclaim and compaction: recomputed here from the guest's trace text with
plain string handling, not through memstall's trace parser."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, run_cli
from memstall.lab.metrics import METRICS, TRACE_KEYS, run_metrics, trace_metrics
from memstall.lab.stats import percentile
from memstall.outputs.report.page import _csp
from test_report import HOSTILE, _charts, _check_in_chromium

RESULTS = FIXTURES / "lab" / "fragmentation-6.1-tcg-trace"
PROFILES = ("current", "proactive0")
CHARTS = ("free", "high-order", "allocstall", "compact-stall")
_LINE = re.compile(r"^\s*(.+?)-(\d+)\s+\[\d+\]\s+\S+\s+(\d+)\.(\d{6}): (\w+):")


def _report(tmp_path: Path, results: Path = RESULTS, *extra: str) -> tuple[str, dict[str, Any]]:
    out = tmp_path / "report.html"
    r = run_cli("--format", "json", "lab", "compare", str(results), "--report", str(out), *extra)
    assert r.code == 0, r.err
    return out.read_text(), json.loads(r.out)


def _events(text: str) -> list[tuple[int, int, str, str]]:
    """(pid, microseconds, event, comm) of every event line, by hand."""
    out = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            out.append((int(m.group(2)), int(m.group(3)) * 1_000_000 + int(m.group(4)), m.group(5),
                        m.group(1).strip()))
    return out


def _reclaim_us(events: list[tuple[int, int, str, str]]) -> list[int]:
    begin: dict[int, int] = {}
    out = []
    for pid, t, name, _ in events:
        if name == "mm_vmscan_direct_reclaim_begin":
            begin[pid] = t
        elif name == "mm_vmscan_direct_reclaim_end" and pid in begin:
            out.append(t - begin.pop(pid))
    return out


def _compaction_us(events: list[tuple[int, int, str, str]]) -> list[int]:
    """A window opens at try_to_compact_pages and ends at the task's last mm_compaction_end
    before its next window or reclaim (or the end of the trace)."""
    window: dict[int, list[int]] = {}  # pid -> [start, last end]
    out = []
    for pid, t, name, _ in events:
        if name in ("mm_compaction_try_to_compact_pages", "mm_vmscan_direct_reclaim_begin") and pid in window:
            start, last = window.pop(pid)
            out.append(last - start)
        if name == "mm_compaction_try_to_compact_pages":
            window[pid] = [t, t]
        elif name == "mm_compaction_end" and pid in window:
            window[pid][1] = t
    return out + [last - start for start, last in window.values()]


@pytest.mark.parametrize("run", ["run1", "run2"])
def test_trace_times_are_the_paired_events(run: str) -> None:
    text = (RESULTS / run / "trace.txt").read_text()
    events = _events(text)
    assert len(events) == int(re.search(r"entries-in-buffer/entries-written: (\d+)/", text).group(1))  # type: ignore[union-attr]
    got = run_metrics(RESULTS / run)
    reclaim, compaction = _reclaim_us(events), _compaction_us(events)
    assert got["direct_reclaim_seconds"] == pytest.approx(sum(reclaim) / 1e6)
    assert got["compaction_seconds"] == pytest.approx(sum(compaction) / 1e6)
    assert got["direct_reclaim_p99_us"] == pytest.approx(percentile([float(x) for x in reclaim], 99))
    assert got["compaction_p99_us"] == pytest.approx(percentile([float(x) for x in compaction], 99))
    assert got["trace_lost_events"] == 0
    # the guest traced every try_to_compact_pages; compact_stall counts the ones that ran a zone
    assert len(compaction) >= (got["compact_stall"] or 0) > 0
    assert len(reclaim) >= (got["allocstall"] or 0) > 0


def test_absent_trace_is_none_not_zero(tmp_path: Path) -> None:
    run = tmp_path / "run1"
    shutil.copytree(RESULTS / "run1", run)
    (run / "trace.txt").unlink()
    got = run_metrics(run)
    assert {k: got[k] for k in TRACE_KEYS} == dict.fromkeys(TRACE_KEYS)
    # an event the guest kernel could not enable: that kind is unknown, not 0
    text = (RESULTS / "run1" / "trace.txt").read_text()
    enabled = set((RESULTS / "run1" / "trace-events.txt").read_text().split())
    part = trace_metrics(text, enabled - {"compaction:mm_compaction_try_to_compact_pages"})
    assert part["compaction_seconds"] is None and part["compaction_p99_us"] is None
    whole = run_metrics(RESULTS / "run1")
    assert part["direct_reclaim_seconds"] == pytest.approx(whole["direct_reclaim_seconds"])
    # a trace with no stall at all: 0 s, and no p99
    sleep = "      kcompactd0-35 [000] ..... 4.159994: mm_compaction_kcompactd_sleep: nid=0\n"
    quiet = trace_metrics("# tracer: nop\n" + sleep, None)
    assert quiet["direct_reclaim_seconds"] == 0.0 and quiet["direct_reclaim_p99_us"] is None


def test_lost_events_are_counted_and_bad_lines_are_one_line_errors(tmp_path: Path) -> None:
    text = (RESULTS / "run1" / "trace.txt").read_text()
    assert trace_metrics(text + "CPU:1 [LOST 42 EVENTS]\n", None)["trace_lost_events"] == 42
    res = tmp_path / "r"
    shutil.copytree(RESULTS, res)
    (res / "run2" / "trace.txt").write_text(text + "not a trace line\n")
    r = run_cli("lab", "compare", str(res))
    assert r.code != 0 and "Traceback" not in r.err
    line = text.count("\n") + 1
    assert f"{res / 'run2' / 'trace.txt'}:{line}:" in r.err and len(r.err.strip().splitlines()) <= 2


def test_report_structure_one_series_per_profile(tmp_path: Path) -> None:
    page, doc = _report(tmp_path)
    assert f'content="{_csp()}"' in page and page.count("<script") == 2
    data = json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>',
                                page, re.S).group(1))  # type: ignore[union-attr]
    assert sorted(data) == sorted(CHARTS)
    for cid in CHARTS:
        labels = [s[0] for s in data[cid]["s"]]
        per_key = 3 if cid == "free" else 1  # free, low and min watermark per profile
        assert len(labels) == per_key * len(PROFILES)
        for p in PROFILES:
            assert sum(label.split(" ")[0] == p for label in labels) == per_key, labels
    # the comparison table: one row per metric of the document, the traced times among them
    comparison = page.split("<h2>Comparison</h2>")[1].split("<h2>")[0]
    labels = [html.unescape(x) for x in re.findall(r"<tr><td>([^<]+)</td>", comparison)]
    assert labels == [m["label"] for m in doc["metrics"]]
    assert "time in direct compaction (traced)" in labels and "proactive0: beyond noise" in comparison
    runs = page.split("<h2>Runs</h2>")[1]
    assert "run1 (current)" in runs and "run2 (proactive0)" in runs
    # --format json with --report carries the series it was drawn from
    series = doc["profiles"][1]["runs"][0]["series"]
    assert len(series["t_seconds"]) == 4 and series["t_seconds"][0] == 0
    assert series["compact_stall"][-1] == doc["profiles"][1]["runs"][0]["metrics"]["compact_stall"]
    assert {m.name for m in METRICS} >= {m["name"] for m in doc["metrics"]}


def _hostile(tmp_path: Path) -> Path:
    res = tmp_path / "hostile"
    shutil.copytree(RESULTS, res)
    lab = json.loads((res / "lab.json").read_text())
    lab["profiles"][1]["name"] = HOSTILE
    lab["order"][1] = HOSTILE
    lab["kernel"]["release"] = HOSTILE
    lab["qemu"] = HOSTILE
    (res / "lab.json").write_text(json.dumps(lab))
    return res


def test_guest_and_host_strings_are_text(tmp_path: Path) -> None:
    page, _ = _report(tmp_path, _hostile(tmp_path))
    assert HOSTILE not in page and html.escape(HOSTILE) in page and page.count("<script") == 2


def test_the_lab_report_in_chromium(tmp_path: Path) -> None:
    page_path = tmp_path / "report.html"
    _report(tmp_path)
    dom = _check_in_chromium(page_path, tmp_path, "lab-report")
    charts = _charts(dom)
    assert sorted(charts) == sorted(CHARTS)
    for cid, svg in charts.items():
        drawn = re.findall(r'<path d="(M[^"]+)" class="line"', svg)
        assert len(drawn) == (3 if cid == "free" else 1) * len(PROFILES), cid  # every series drawn
    assert "<h2>Comparison</h2>" in dom and "time in direct reclaim (traced)" in dom
    (tmp_path / "h").mkdir()
    _report(tmp_path / "h", _hostile(tmp_path))
    dom = _check_in_chromium(tmp_path / "h" / "report.html", tmp_path, "lab-report-hostile")
    assert html.escape(HOSTILE, quote=False) in dom


def test_report_write_errors_are_one_line(tmp_path: Path) -> None:
    r = run_cli("lab", "compare", str(RESULTS), "--report", str(tmp_path / "no" / "such" / "r.html"))
    assert r.code != 0 and r.err.startswith("memstall: error: ") and "Traceback" not in r.err
    r = run_cli("lab", "run", "--scenario", "fragmentation", "--profile", "current",
                "--report", str(tmp_path / "no" / "r.html"))
    assert r.code == 2 and "--report" in r.err


def test_runs_are_resampled_to_the_same_moments() -> None:
    from memstall.outputs.report.lab import _resampled
    from memstall.outputs.report.series import Timeline

    tl = Timeline(0, 10_000, 10)  # 1 s columns, centres at 0.5 s, 1.5 s, ...
    assert [(t, round(v, 6)) for t, v in _resampled(tl, [0.0, 10.0], [0.0, 100.0])] == \
        [(500 + 1000 * c, 5.0 + 10 * c) for c in range(10)]
    # a run that took its snapshots at other moments lands on the same column centres
    centres = [500 + 1000 * c for c in range(10)]
    assert [t for t, _ in _resampled(tl, [0.0, 3.3, 10.0], [1.0, 2.0, 3.0])] == centres
    assert [t for t, _ in _resampled(tl, [0.0, 3.5, 10.0], [1.0, 2.0, 3.0])] == centres  # 3.5 s: once
    assert _resampled(tl, [0.0, 5.0, 10.0], [0.0, None, 100.0]) == []  # a missing value breaks the line
