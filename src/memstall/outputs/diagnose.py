"""`memstall diagnose` output: the memstall.diagnosis/1 JSON document and the text report.

The JSON schema is fixed (docs/diagnose.md): a field is never renamed or removed within
schema version 1. It holds everything the text shows: each finding's fix, the notes on
knobs that will not help, the skipped rules and the rules that passed. Text groups
findings by severity, then the recommended settings, the knobs that will not help, the
rules skipped with their reasons, the rules that passed, and the notes on the input (what
memstall assumed, summed or left out).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from memstall.advice.recommend import Advice
from memstall.analysis.log_summary import gfp_view
from memstall.model.kernlog import AllocEvent
from memstall.model.trace import TracedStalls
from memstall.outputs.logs_oom import oom_doc, oom_story, oom_text
from memstall.outputs.render.table import render_table
from memstall.rules import Finding, Report, Severity

SCHEMA = "memstall.diagnosis/1"
WIDTH = 100


def _ooms(events: Sequence[object]) -> list[AllocEvent]:
    # the rules see events through a protocol; the OOM details are the parser's records
    return [e for e in events if isinstance(e, AllocEvent) and e.oom is not None]


def oom_story_doc(events: Sequence[object]) -> dict[str, Any] | None:
    """`oom` of the JSON when the input's logs hold OOM reports: how many, and the last one told
    as `memstall logs` tells it (its story and its `oom` object); None without any."""
    ooms = _ooms(events)
    if not ooms:
        return None
    e = ooms[-1]
    view = gfp_view(e)
    return {"count": len(ooms),
            "last": {"time": e.time, "host": e.host, "comm": e.comm, "pid": e.pid, "order": e.order,
                     "source": e.source, "line_no": e.line_no,
                     "story": [{"label": label, "text": text} for label, text in oom_story(e, view)],
                     "oom": oom_doc(e, view)}}


def oom_story_lines(events: Sequence[object]) -> list[str]:
    """The text section: the last OOM report's story and its zones; [] without any."""
    ooms = _ooms(events)
    if not ooms:
        return []
    e = ooms[-1]
    who = f"{e.comm or '?'}[{e.pid}]" if e.pid is not None else (e.comm or "?")
    when = " ".join(x for x in (e.time, e.host) if x)
    head = f"The last OOM report ({len(ooms)} in the logs): {who}" + (f" at {when}" if when else "")
    return [head + f" ({e.source}:{e.line_no})", *oom_text(e, gfp_view(e)).rstrip("\n").split("\n")]


def trace_doc(traced: TracedStalls | None, unavailable: str | None) -> dict[str, Any]:
    """`trace` of the JSON (only with --trace): what the trace beside the sample measured."""
    if traced is None:
        return {"available": False, "reason": unavailable}
    return {"available": True, "reason": None, "method": traced.method,
            "wall_seconds": traced.wall_seconds, "lost_events": traced.lost_events,
            "kinds": {k.kind: {"stalls": k.stalls, "total_seconds": k.total_seconds,
                               "p50_seconds": k.p50_seconds, "p99_seconds": k.p99_seconds,
                               "max_seconds": k.max_seconds,
                               "by_order": {str(o): n for o, n in k.by_order.items()}}
                      for k in traced.kinds.values()}}


def trace_lines(traced: TracedStalls | None, unavailable: str | None) -> list[str]:
    """The text report's `Trace` section (only with --trace)."""
    if traced is None:
        return [f"Trace: unavailable: {unavailable}", ""]
    out = [f"Trace ({traced.wall_seconds:g} s, {traced.method} path, {traced.lost_events} events lost)"]
    if not traced.kinds:
        out.append("  no direct reclaim, memcg reclaim or compaction stalls were traced")
    for k in traced.kinds.values():
        orders = ", ".join(f"order {o}: {n}" for o, n in k.by_order.items()) or "-"
        out += _wrap(f"{k.kind}: {k.stalls} stalls, {k.total_seconds * 1000:.3f} ms in all, "
                     f"p50 <= {k.p50_seconds * 1000:g} ms, p99 <= {k.p99_seconds * 1000:g} ms, "
                     f"max {k.max_seconds * 1000:g} ms ({orders})", "  - ", "    ")
    return [*out, ""]


def diagnosis_doc(report: Report, advice: Advice) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "findings": [{"key": f.key, "severity": f.severity.name, "subject": f.subject,
                      "evidence": dict(f.evidence), "summary": f.summary,
                      "explanation": f.explanation, "fix": f.fix} for f in report.findings],
        "recommendations": [{"setting": r.setting, "current": r.current, "proposed": r.proposed,
                             "rationale": r.rationale, "effect": r.effect, "risk": r.risk}
                            for r in advice.recommendations],
        "notes": list(advice.notes),
        "input_notes": list(advice.input_notes),
        "skipped": [{"key": s.key, "reason": s.reason} for s in report.skipped],
        "passed": list(report.passed),
    }


def _wrap(text: str, indent: str, more: str | None = None) -> list[str]:
    # Never split a word: GFP flag lists (A|B|C) and key=value evidence stay whole, so they
    # can be searched and copied; a word longer than the width overflows its line instead.
    return textwrap.wrap(text, WIDTH, initial_indent=indent,
                         subsequent_indent=more if more is not None else indent,
                         break_long_words=False, break_on_hyphens=False) or [indent]


def _evidence(f: Finding) -> str:
    return " ".join(f"{k}={v}" for k, v in f.evidence.items() if v is not None)


def _finding(f: Finding) -> list[str]:
    lines = [f"  [{f.key}] {f.summary}"]
    lines += _wrap(f.explanation, "      ")
    lines += _wrap("evidence: " + _evidence(f), "      ")
    lines += _wrap("fix: " + f.fix, "      ")
    return lines


def diagnosis_text(report: Report, advice: Advice, title: str, lead: Sequence[str] = ()) -> str:
    """`lead`: lines told before the findings (the last OOM report's story), under the title."""
    out = [title, ""]
    if lead:
        out += [*lead, ""]
    if not report.findings:
        out += ["No findings: every rule that could run passed.", ""]
    for severity in (Severity.CRITICAL, Severity.WARNING, Severity.INFO):
        group = [f for f in report.findings if f.severity is severity]
        if not group:
            continue
        out.append(f"{severity.name} ({len(group)})")
        for f in group:
            out += _finding(f)
            out.append("")
    if advice.recommendations:
        out.append(render_table(["setting", "current", "proposed"],
                                [[r.setting, r.current or "?", r.proposed]
                                 for r in advice.recommendations],
                                title="Recommended settings").rstrip("\n"))
        for r in advice.recommendations:
            out.append(f"  {r.setting} = {r.proposed}")
            out += _wrap("why: " + r.rationale, "      ")
            out += _wrap("effect: " + r.effect, "      ")
            out += _wrap("risk: " + r.risk, "      ")
        out.append("")
    if advice.notes:
        out.append("Will not help / not sized")
        for note in advice.notes:
            out += _wrap(note, "  - ", "    ")
        out.append("")
    if report.skipped:
        out.append(f"Skipped ({len(report.skipped)})")
        for s in report.skipped:
            out += _wrap(f"{s.key}: {s.reason}", "  - ", "    ")
        out.append("")
    if report.passed:
        out += _wrap("Passed: " + ", ".join(report.passed), "")
        out.append("")
    if advice.input_notes:
        out.append("Notes on the input")
        for note in advice.input_notes:
            out += _wrap(note, "  - ", "    ")
    return "\n".join(out).rstrip("\n") + "\n"
