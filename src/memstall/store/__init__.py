"""The recorder's SQLite history: `memstall record` writes it, `memstall report` reads it.

schema.py (versions and migrations), db.py (open, WAL, errors, the single-recorder lock),
codec.py (a sample as packed integers), writer.py (one run: samples, findings, sysctl
changes, log events, tune markers; retention), read.py (a time range back, as named values
and as SystemStates). Only cli and outputs import it; it imports model, analysis and rules types.
"""

from __future__ import annotations

from memstall.store.db import Db, StoreError
from memstall.store.read import FindingSpan, History, Point, Run, bounds, read_history, read_trace, state_of
from memstall.store.schema import SCHEMA_VERSION
from memstall.store.writer import Event, Marker, TraceInterval, Writer, event_of

__all__ = [
    "SCHEMA_VERSION",
    "Db",
    "Event",
    "FindingSpan",
    "History",
    "Marker",
    "Point",
    "Run",
    "StoreError",
    "TraceInterval",
    "Writer",
    "bounds",
    "event_of",
    "read_history",
    "read_trace",
    "state_of",
]
