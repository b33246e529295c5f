"""`memstall diagnose --trace N`: traced stall latencies as rule evidence, and the trace section.

The rule tests build their inputs (tests/builders.py) and a StallTracker fed from a real
capture; the live tests (marker live_write: they create a tracefs instance) run the
command as root and as nobody, and stop it with SIGTERM mid-trace.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from builders import inputs, rates, state
from conftest import FIXTURES
from memstall.analysis.stall_summary import by_kind_order, traced_stalls
from memstall.analysis.stall_trace import DIRECT_COMPACTION, DIRECT_RECLAIM, StallTracker
from memstall.outputs.diagnose import trace_doc, trace_lines
from memstall.parsers.trace_pipe import parse_trace_pipe
from memstall.rules import Finding, Skipped, compaction_stalls, direct_reclaim
from memstall.rules._base import Result

HANDMADE = FIXTURES / "trace" / "x86_64-6.18-direct-stalls-handmade.txt"
TRACEFS = Path("/sys/kernel/tracing")


def _tracker() -> StallTracker:
    tracker = StallTracker()
    for event in parse_trace_pipe(HANDMADE.read_text()).events:
        tracker.feed(event)
    tracker.finish()
    return tracker


def test_summary_of_a_trace() -> None:
    traced = traced_stalls(_tracker(), 1.5, "pipe", lost_events=7)
    reclaim = traced.kinds[DIRECT_RECLAIM]
    hists = by_kind_order(_tracker())
    assert reclaim.stalls == sum(h.n for (k, _), h in hists.items() if k == DIRECT_RECLAIM)
    assert reclaim.by_order == {o: h.n for (k, o), h in hists.items()
                                if k == DIRECT_RECLAIM and o is not None}
    assert reclaim.max_seconds >= reclaim.p99_seconds >= reclaim.p50_seconds > 0
    assert traced.kinds[DIRECT_COMPACTION].total_seconds == 0.006  # tests/test_trace_cli.py's number


def _findings(result: Result) -> Sequence[Finding]:
    assert not isinstance(result, Skipped), result
    return result


def test_findings_carry_the_traced_latencies() -> None:
    traced = traced_stalls(_tracker(), 1.5, "hist")
    busy = rates(allocstall_normal=5.0, pgscan_direct=100.0, pgscan_kswapd=10.0, compact_stall=4.0,
                 compact_fail=4.0, compact_success=1.0)
    plain = _findings(direct_reclaim.check(inputs(state(), rates=busy)))
    (finding,) = _findings(direct_reclaim.check(inputs(state(), rates=busy, traced=traced)))
    assert isinstance(finding.evidence, direct_reclaim.TracedEvidence)
    assert dict(plain[0].evidence).items() <= dict(finding.evidence).items()  # the rule's own, unchanged
    lat = traced.kinds[DIRECT_RECLAIM]
    assert finding.evidence["traced_stalls"] == lat.stalls and finding.evidence["traced_method"] == "hist"
    assert finding.explanation.startswith(plain[0].explanation)
    assert f"Traced for 1.5 s (hist path): {lat.stalls} direct reclaims took" in finding.explanation
    (compaction,) = _findings(compaction_stalls.check(inputs(state(), rates=busy, traced=traced)))
    assert isinstance(compaction.evidence, compaction_stalls.TracedPerSecondEvidence)
    assert compaction.evidence["traced_stall_seconds"] == 0.006


def test_no_stall_of_the_kind_traced() -> None:
    traced = traced_stalls(StallTracker(), 10.0, "pipe")
    busy = rates(allocstall_normal=5.0, pgscan_direct=100.0, pgscan_kswapd=10.0)
    (finding,) = _findings(direct_reclaim.check(inputs(state(), rates=busy, traced=traced)))
    assert finding.evidence["traced_stalls"] == 0
    assert "the trace saw no direct reclaims" in finding.explanation


def test_trace_section() -> None:
    traced = traced_stalls(_tracker(), 1.5, "pipe")
    doc = trace_doc(traced, None)
    assert doc["available"] and doc["kinds"][DIRECT_RECLAIM]["stalls"] == traced.kinds[DIRECT_RECLAIM].stalls
    assert trace_doc(None, "no tracefs") == {"available": False, "reason": "no tracefs"}
    assert trace_lines(None, "no tracefs")[0] == "Trace: unavailable: no tracefs"
    assert any(line.startswith("  - direct_reclaim: ") for line in trace_lines(traced, None))


def _diagnose(*args: str, user: bool = False) -> subprocess.Popen[str]:
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if user else []
    return subprocess.Popen([*prefix, sys.executable, "-m", "memstall", "--format", "json", "diagnose",
                             "--fail-on", "never", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.live_write
def test_live_trace_beside_the_samples() -> None:
    proc = _diagnose("--interval", "0.5", "--trace", "1.5")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    trace = json.loads(out)["trace"]
    assert trace["available"] and trace["method"] in ("hist", "pipe") and trace["wall_seconds"] >= 1.4
    assert not (TRACEFS / "instances" / f"memstall-{proc.pid}").exists()


@pytest.mark.live_write
def test_live_without_root_diagnose_still_runs() -> None:
    proc = _diagnose("--interval", "0", "--trace", "1", user=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    trace = json.loads(out)["trace"]
    assert trace["available"] is False and "root" in trace["reason"]


@pytest.mark.live_write
def test_live_sigterm_mid_trace_cleans_up() -> None:
    proc = _diagnose("--interval", "0", "--trace", "60")
    instance = TRACEFS / "instances" / f"memstall-{proc.pid}"
    deadline = time.monotonic() + 30
    while not instance.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3 and not instance.exists(), err
