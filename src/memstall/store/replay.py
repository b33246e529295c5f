"""Replay queries for `memstall top --db`: the sample at a time, its neighbours, and the findings,
log events and tune markers around it. Pure queries over an open Db; nothing here renders.

A moment is one stored sample. Moving is by sample time: one sample back or forward, the first
or the last, or to the sample that shows the previous/next event or tune marker. An event or a
marker belongs to the first sample at or after its time (the state the system was in once it
had happened); one later than every sample belongs to the last sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from memstall.store.db import Db, translated
from memstall.store.read import FindingSpan, Point, Run, _points
from memstall.store.writer import Event, Marker

TIMELINE_WINDOW_MS = 300_000
"""Events and markers up to this long before the moment are shown with it (5 minutes)."""
TIMELINE_LINES = 3
"""At most this many of each (events, markers), the newest."""

_RUN_COLUMNS = "id, started_ms, kind, source, host, kernel_release, page_size, user_hz, interval_seconds"


@dataclass(frozen=True)
class Moment:
    """One stored sample with what a frame shows beside it."""

    run: Run
    point: Point
    previous: Point | None
    """The same run's sample before it (the rates), None at the start of a run."""
    index: int
    """1-based position among every stored sample."""
    total: int
    findings: tuple[FindingSpan, ...]
    """The run's findings active at the sample (as recorded: first_ms <= t <= last_ms)."""
    events: tuple[Event, ...]
    """Log events in the TIMELINE_WINDOW_MS up to the sample (the last sample: and any after it),
    oldest first, at most TIMELINE_LINES."""
    markers: tuple[Marker, ...]
    """Tune markers in the same window, oldest first (at most TIMELINE_LINES)."""


class Replay:
    """Moves through the samples of a record database (opened read-only by the caller)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def _one(self, sql: str, *args: object) -> int | None:
        with translated(self.db.path):
            value = self.db.conn.execute(sql, args).fetchone()[0]
        return None if value is None else int(value)

    def first(self) -> int | None:
        """The first sample's time; None when the database holds no samples."""
        return self._one("SELECT min(t_ms) FROM samples")

    def last(self) -> int | None:
        return self._one("SELECT max(t_ms) FROM samples")

    def at(self, t_ms: int) -> int | None:
        """The sample shown at `t_ms`: the last at or before it, else the first."""
        found = self._one("SELECT max(t_ms) FROM samples WHERE t_ms <= ?", t_ms)
        return found if found is not None else self.first()

    def step(self, t_ms: int, samples: int) -> int:
        """`samples` samples later (negative: earlier), stopping at the first and the last."""
        order, cmp = ("DESC", "<") if samples < 0 else ("ASC", ">")
        with translated(self.db.path):
            rows = self.db.conn.execute(
                f"SELECT t_ms FROM samples WHERE t_ms {cmp} ? ORDER BY t_ms {order} LIMIT ?",
                (t_ms, abs(samples)),
            ).fetchall()
        return int(rows[-1][0]) if rows else t_ms

    def _mark_time(self, t_ms: int, later: bool) -> int | None:
        op, agg = (">", "min") if later else ("<=", "max")
        parts = " UNION ALL ".join(f"SELECT {agg}(t_ms) t FROM {table} WHERE t_ms {op} ?"
                                   for table in ("events", "markers"))
        return self._one(f"SELECT {agg}(t) FROM ({parts})", t_ms, t_ms)

    def mark(self, t_ms: int, later: bool) -> int:
        """The sample of the next (`later`) or previous event or marker; `t_ms` when none.

        The previous one is searched at or before the sample before this one: an event between
        the two belongs to this sample, so stepping back to it would not move.
        """
        if later:
            when = self._mark_time(t_ms, later=True)
        else:
            before = self.step(t_ms, -1)
            when = None if before == t_ms else self._mark_time(before, later=False)
        if when is None:
            return t_ms
        after = self._one("SELECT min(t_ms) FROM samples WHERE t_ms >= ?", when)
        return after if after is not None else (self.last() or t_ms)

    def moment(self, t_ms: int) -> Moment | None:
        """The sample at `t_ms` (see `at`) with its neighbours; None when there are no samples."""
        shown = self.at(t_ms)
        if shown is None:
            return None
        with translated(self.db.path):
            return self._moment(shown)

    def _moment(self, t_ms: int) -> Moment | None:
        c = self.db.conn
        (run_id,) = c.execute("SELECT run FROM samples WHERE t_ms = ?", (t_ms,)).fetchone()
        row = c.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        prev_row = c.execute("SELECT max(t_ms) FROM samples WHERE run = ? AND t_ms < ?",
                             (run_id, t_ms)).fetchone()[0]
        points, _skipped = _points(self.db, t_ms if prev_row is None else int(prev_row), t_ms)
        points = [p for p in points if p.run == run_id]
        if row is None or not points or points[-1].t_ms != t_ms:
            return None  # a row that does not decode (its keyframe was cut by retention)
        previous = points[-2] if len(points) > 1 else None
        index = int(c.execute("SELECT count(*) FROM samples WHERE t_ms <= ?", (t_ms,)).fetchone()[0])
        total = int(c.execute("SELECT count(*) FROM samples").fetchone()[0])
        findings = tuple(
            FindingSpan(k, s, subj, f, la, summ, json.loads(ev))
            for k, s, subj, f, la, summ, ev in c.execute(
                "SELECT key, severity, subject, first_ms, last_ms, summary, evidence FROM findings"
                " WHERE run = ? AND first_ms <= ? AND last_ms >= ? ORDER BY first_ms, key, subject",
                (run_id, t_ms, t_ms)))
        since = t_ms - TIMELINE_WINDOW_MS
        last = c.execute("SELECT max(t_ms) FROM samples").fetchone()[0]
        until = t_ms if t_ms < last else 2**62  # the last sample also shows what came after it
        events = tuple(Event(*r) for r in reversed(c.execute(
            "SELECT t_ms, kind, alloc_order, gfp, comm, stall_ms, host, origin FROM events"
            " WHERE t_ms > ? AND t_ms <= ? ORDER BY t_ms DESC, id DESC LIMIT ?",
            (since, until, TIMELINE_LINES)).fetchall()))
        markers = tuple(
            Marker(t, tx, a, text, tuple(tuple(x) for x in json.loads(ch)))
            for t, tx, a, text, ch in reversed(c.execute(
                "SELECT t_ms, tx_id, action, text, changes FROM markers WHERE t_ms > ? AND t_ms <= ?"
                " ORDER BY t_ms DESC, id DESC LIMIT ?", (since, until, TIMELINE_LINES)).fetchall()))
        return Moment(Run(*row), points[-1], previous, index, total, findings, events, markers)


__all__ = ["TIMELINE_LINES", "TIMELINE_WINDOW_MS", "Moment", "Replay"]
