"""LOG_ALLOC_STALLS: reports of a kernel log grouped by kind, order and flags."""

from __future__ import annotations

from builders import alloc_event, inputs
from memstall.rules import Severity, Skipped
from memstall.rules import log_alloc_stalls as las


def test_stalls_grouped_by_order_and_flags_with_the_longest() -> None:
    events = (alloc_event(stall_ms=12000), alloc_event(stall_ms=15412, comm="java"),
              alloc_event("failure", 4, ("GFP_ATOMIC",), mode="0x480020"))
    found = las.check(inputs(events=events, from_log=True))
    assert not isinstance(found, Skipped)
    stall, failure = found
    assert (stall.subject, stall.severity) == ("order1", Severity.CRITICAL)
    assert stall.evidence["count"] == 2 and stall.evidence["max_stall_ms"] == 15412
    assert stall.evidence["comms"] == "java,python"
    assert (failure.subject, failure.severity) == ("order4", Severity.WARNING)
    assert failure.evidence["gfp_flags"] == "GFP_ATOMIC"


def test_unknown_order_is_not_shown_as_order_minus_one() -> None:
    (f,) = las.check(inputs(events=(alloc_event("failure", None, None, mode=None),), from_log=True))  # type: ignore[misc]
    assert f.subject == "order?" and f.evidence["order"] is None
    assert "flags not printed" in f.summary


def test_log_without_reports_passes() -> None:
    assert las.check(inputs(from_log=True)) == ()


def test_skipped_without_a_log() -> None:
    result = las.check(inputs())
    assert isinstance(result, Skipped) and "--log" in result.reason


def test_a_forced_oom_is_said_to_be_forced_and_is_not_critical() -> None:
    """Issue 16: `order=-1` (SysRq-f, moom_callback) became null and diagnose called the manual
    kill CRITICAL. It keeps -1 and says an administrator forced it."""
    forced = alloc_event("oom", -1, None, mode="0x201da")
    real = alloc_event("oom", 0, ("GFP_KERNEL",), mode="0xcc0")
    findings = las.check(inputs(events=(forced, real), from_log=True))
    assert not isinstance(findings, Skipped)
    by_order = {f.evidence["order"]: f for f in findings}
    assert by_order[-1].severity is Severity.INFO and by_order[-1].subject == "forced"
    assert "administrator forced the OOM killer" in by_order[-1].explanation
    assert by_order[0].severity is Severity.CRITICAL


def test_the_parser_keeps_order_minus_one() -> None:
    from memstall.parsers.kernlog import scan_lines

    log = [b"sed invoked oom-killer: gfp_mask=0x201da, order=-1, oom_score_adj=0",
           b"CPU: 4 PID: 29481 Comm: sed Not tainted 3.10.0-514.6.1.el7.x86_64 #1"]
    (event,) = [i for i in scan_lines(log, "x") if getattr(i, "kind", None) == "oom"]
    assert event.order == -1
