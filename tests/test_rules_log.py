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


def test_diagnose_decodes_a_hex_only_mask_as_logs_does() -> None:
    """Issue 16: `diagnose --log` said "flags not printed" for the 3.10 bare-hex mask
    (`gfp_mask=0x201da`, corpus 035) that `logs` decodes; both now use `gfp_view`."""
    from pathlib import Path

    from memstall.analysis.log_summary import gfp_view
    from memstall.parsers.kernlog import scan_text
    from memstall.pipeline.log_inputs import inputs_from_log

    log = Path(__file__).parent / "fixtures/kernlog/corpus/035-blog-rocketmq-oom-3.10-annotated-syslog.log"
    (event,) = scan_text(log.read_text(encoding="utf-8")).events
    assert event.gfp_mode == "0x201da" and event.gfp_flags is None  # the kernel printed hex only
    logs_view = gfp_view(event)
    assert logs_view.names == ("GFP_HIGHUSER_MOVABLE", "__GFP_COLD")
    diag_inputs, _, _ = inputs_from_log(str(log))
    found = las.check(diag_inputs)
    assert not isinstance(found, Skipped)
    (oom,) = (f for f in found if f.evidence["kind"] == "oom")
    assert oom.evidence["gfp_flags"] == logs_view.text
    assert logs_view.text == "GFP_HIGHUSER_MOVABLE|__GFP_COLD (decoded, guessed era)"
    assert "flags not printed" not in oom.summary


def test_a_known_kernel_decodes_without_guessing() -> None:
    """The release of `inputs.kernel` (the log's or the host's) picks the era when the report
    names none."""
    from dataclasses import replace

    from memstall.model.kernel import KernelVersion
    events = (replace(alloc_event("failure", 0, None, mode="0x10d0"), kernel_version=None),)
    found = las.check(inputs(events=events, from_log=True, kernel=KernelVersion(3, 10)))
    assert not isinstance(found, Skipped)
    assert found[0].evidence["gfp_flags"] == "GFP_KERNEL|__GFP_NORETRY (decoded)"
