"""Measured stall latencies as evidence (`memstall diagnose --trace N`).

A rule whose finding is about a kind of stall (DIRECT_RECLAIM: direct reclaim,
COMPACTION_STALLS: direct compaction) declares `TracedEvidence(TracedFields, Evidence)`-style
classes and, when `inputs.traced` is there, emits those with the trace's numbers and a
sentence more in its explanation. Without a trace the findings are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.model.trace import KindLatency
from memstall.rules._base import Inputs, Text

_SEEN = (" Traced for {traced_seconds:g} s ({traced_method} path): {traced_stalls} {what} took"
         " {traced_stall_seconds:.3f} s in all; half took at most {traced_p50_ms:g} ms, 99% at most"
         " {traced_p99_ms:g} ms, the longest {traced_max_ms:g} ms.")
_NONE = (" Traced for {traced_seconds:g} s ({traced_method} path): the trace saw no {what}; the"
         " counters above cover another moment.")


@dataclass(frozen=True)
class TracedFields:
    """The trace's numbers for one kind of stall (log2-bucket bounds for the percentiles)."""

    traced_stalls: int
    traced_stall_seconds: float
    traced_p50_seconds: float
    traced_p99_seconds: float
    traced_max_seconds: float
    traced_seconds: float
    traced_method: str


def traced_fields(inputs: Inputs, kind: str) -> TracedFields | None:
    """The trace's numbers for `kind` (zeros when none was seen), None without a trace."""
    trace = inputs.traced
    if trace is None:
        return None
    lat = trace.kinds.get(kind) or KindLatency(kind, 0, 0.0, 0.0, 0.0, 0.0)
    return TracedFields(lat.stalls, round(lat.total_seconds, 6), lat.p50_seconds, lat.p99_seconds,
                        lat.max_seconds, trace.wall_seconds, trace.method)


def with_trace(text: Text, fields: TracedFields, what: str) -> tuple[Text, dict[str, object]]:
    """The rule's Text with the trace sentence appended, and the display values it uses."""
    sentence = _SEEN if fields.traced_stalls else _NONE
    display = {"what": what, "traced_p50_ms": fields.traced_p50_seconds * 1000,
               "traced_p99_ms": fields.traced_p99_seconds * 1000,
               "traced_max_ms": fields.traced_max_seconds * 1000}
    return Text(text.summary, text.explanation + sentence, text.fix), display
