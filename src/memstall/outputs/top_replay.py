"""`memstall top --db`: the frame of one recorded moment, a pure function of (moment, size, options).

The moment (store/replay.py) is one stored sample with the sample before it in the same run,
the findings the recorder stored as active then, and the log events and tune markers just
before it. The frame is the live one (outputs/top.py `frame_lines`) with:

- the header saying REPLAY, the sample's time (UTC) and its position among the stored samples;
- rates between the sample and the one before it in its run (none at the start of a run);
- the findings as recorded (not re-run: the rebuilt state holds only the recorded values, and
  the rules that need sysctls or the kernel log would be skipped);
- below the rates, the events and markers of the 5 minutes up to the sample, newest first,
  each with its time and its distance from the sample.
"""

from __future__ import annotations

import datetime
from dataclasses import replace

from memstall.analysis.rates import RateError, Rates, compute_rates
from memstall.model.state import SystemState
from memstall.outputs.render.safe import safe_text
from memstall.outputs.top import FrameOptions, finding_text, frame_lines, state_rate_lines
from memstall.rules import Severity
from memstall.store.read import FindingSpan, state_of
from memstall.store.replay import Moment
from memstall.store.writer import Event, Marker

_NO_CHOICES = FrameOptions()
RUN_START = "the first sample of its recording: rates need the one before"


def utc(t_ms: int, date: bool = True) -> str:
    """`2026-12-04 10:00:03 UTC` (`.250` when the time has milliseconds); `10:00:03` without date."""
    when = datetime.datetime.fromtimestamp(t_ms / 1000, tz=datetime.timezone.utc)
    text = f"{when:%Y-%m-%d %H:%M:%S}" if date else f"{when:%H:%M:%S}"
    if t_ms % 1000:
        text += f".{t_ms % 1000:03d}"
    return text + " UTC" if date else text


def replay_label(moment: Moment) -> str:
    return f"REPLAY {utc(moment.point.t_ms)}  {moment.index}/{moment.total}"


def moment_state(moment: Moment) -> SystemState:
    """The recorded state, named by the run's source (not by the time: the header has it)."""
    return replace(state_of(moment.point, moment.run), source=moment.run.source)


def moment_rates(moment: Moment) -> tuple[Rates | None, str]:
    """Rates between the sample and the one before it, or why there are none."""
    if moment.previous is None:
        return None, RUN_START
    try:
        return compute_rates(state_of(moment.previous, moment.run), state_of(moment.point, moment.run)), ""
    except RateError as err:
        return None, err.message


def _age(t_ms: int, now_ms: int) -> str:
    seconds = round((t_ms - now_ms) / 1000)
    if abs(seconds) >= 120:
        return f"{seconds // 60:+d}m"
    return f"{seconds:+d}s" if seconds else "0s"


def event_text(e: Event, now_ms: int) -> str:
    """One stored allocation report: time, distance from the sample, kind, process, order, stall, GFP."""
    parts = [f"{utc(e.t_ms, date=False)} {_age(e.t_ms, now_ms)}", e.kind, e.comm or "?",
             f"order {e.order if e.order is not None else '?'}"]
    if e.stall_ms is not None:
        parts.append(f"stalled {e.stall_ms} ms")
    parts.append(e.gfp or "-")
    return safe_text("event    " + "  ".join(parts))


def marker_text(m: Marker, now_ms: int) -> str:
    """One tune transaction step: time, distance, action, the transaction's own line."""
    return safe_text(f"tune     {utc(m.t_ms, date=False)} {_age(m.t_ms, now_ms)}  {m.action}  {m.text}")


def _severity(span: FindingSpan) -> int:
    try:
        return int(Severity.parse(span.severity))
    except KeyError:
        return 0


def replay_frame(moment: Moment, width: int, height: int | None = None,
                 options: FrameOptions = _NO_CHOICES) -> list[str]:
    """The frame's lines for a recorded moment (each at most `width`; at most `height` lines)."""
    state = moment_state(moment)
    rates, reason = moment_rates(moment)
    now = moment.point.t_ms
    timeline = [*(event_text(e, now) for e in reversed(moment.events)),
                *(marker_text(m, now) for m in reversed(moment.markers))]
    findings = [finding_text(f.severity, f.key, f.subject, f.summary)
                for f in sorted(moment.findings, key=lambda f: -_severity(f))]
    options = replace(options, replay=replay_label(moment), interval_seconds=None, paused=False)
    return frame_lines(state, state_rate_lines(state, rates, reason) + timeline, findings, width, height,
                       options)


__all__ = ["RUN_START", "event_text", "marker_text", "moment_rates", "moment_state", "replay_frame",
           "replay_label", "utc"]
