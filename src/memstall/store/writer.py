"""Write samples, findings, sysctl changes, log events and tune markers into the database.

One `Writer` is one run (a recording, or one imported capture or log). Each sample is one
transaction: a kill -9 loses at most the sample in flight. Rows of a run are deltas from
the run's previous row, with a keyframe every KEYFRAME_EVERY samples and whenever the set
of values changes (a zone or a kernel thread appears).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from memstall.model.state import SystemState
from memstall.rules import AllocEvent, Finding
from memstall.store.codec import encode, flatten
from memstall.store.db import Db

KEYFRAME_EVERY = 300
FINDING_GAP_MS = 60_000
"""A finding absent for up to this long and then back continues its stretch (see _findings)."""
PRUNE_BATCH_ROWS = 2000
"""Retention deletes at most this many samples per call: pruning never holds the write
lock for long (about 10 ms here), so it never delays a sample by an interval."""


@dataclass(frozen=True)
class Marker:
    """One step of a tune transaction, as the recorder saw it in the state directory."""

    t_ms: int
    tx_id: str
    action: str
    """'apply', 'confirm', 'rollback' or 'failed'."""
    text: str
    changes: tuple[tuple[str, str, str | None], ...]
    """(key, value before, value written) per changed setting."""


@dataclass(frozen=True)
class Event:
    """A kernel-log allocation report placed on the timeline."""

    t_ms: int
    kind: str
    order: int | None
    gfp: str | None
    comm: str | None
    stall_ms: int | None
    host: str | None
    origin: str


def event_of(e: AllocEvent, t_ms: int, host: str | None, origin: str) -> Event:
    gfp = e.gfp_mode + (f"({'|'.join(e.gfp_flags)})" if e.gfp_flags else "") if e.gfp_mode else None
    return Event(t_ms, e.kind, e.order, gfp, e.comm, e.stall_ms, host, origin)


@dataclass(frozen=True)
class TraceInterval:
    """The stalls `record --trace` traced between two samples (ending at `t_ms`)."""

    t_ms: int
    interval_ms: int
    method: str
    events: int
    lost_events: int
    by_kind: Mapping[str, tuple[int, float]]  # kind -> (stalls, stall_seconds)


class Writer:
    """Appends one run to the database."""

    def __init__(
        self,
        db: Db,
        *,
        kind: str,
        source: str,
        state: SystemState | None,
        interval_seconds: float | None,
        host: str | None = None,
        now_ms: int | None = None,
    ) -> None:
        self.db = db
        self._layouts: dict[tuple[str, ...], int] = {}
        self._prev: tuple[int, list[int]] | None = None
        self._since_keyframe = 0
        self._last_t = 0
        self._open: dict[tuple[str, str, str], tuple[int, str, int]] = {}
        """(key, subject, severity) -> (row id, severity, last time seen)."""
        with db.transaction() as c:
            cur = c.execute(
                "INSERT INTO runs (started_ms, kind, source, host, kernel_release, page_size, user_hz,"
                " interval_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now_ms if now_ms is not None else int(time.time() * 1000),
                    kind,
                    source,
                    host,
                    state.kernel_release if state else None,
                    state.page_size if state else 4096,
                    state.clock_ticks_per_second if state else None,
                    interval_seconds,
                ),
            )
            self.run = int(cur.lastrowid or 0)
            self._sysctls = dict(
                c.execute(
                    "SELECT name, value FROM sysctls s"
                    " WHERE t_ms = (SELECT max(t_ms) FROM sysctls WHERE name = s.name)"
                )
            )

    def _layout(self, names: tuple[str, ...]) -> int:
        if names not in self._layouts:
            text = json.dumps(names, separators=(",", ":"))
            c = self.db.conn
            c.execute("INSERT OR IGNORE INTO layouts (names) VALUES (?)", (text,))
            self._layouts[names] = int(
                c.execute("SELECT id FROM layouts WHERE names = ?", (text,)).fetchone()[0]
            )
        return self._layouts[names]

    def _time(self, t_ms: int) -> int:
        """A free time key at or after t_ms (two rows never share a millisecond)."""
        c = self.db.conn
        t = max(t_ms, self._last_t + 1)
        while c.execute("SELECT 1 FROM samples WHERE t_ms = ?", (t,)).fetchone():
            t += 1
        self._last_t = t
        return t

    def sample(self, t_ms: int, state: SystemState, findings: Sequence[Finding] = ()) -> int:
        """Store one sample (and the findings active in it, the sysctls that changed); its time key."""
        flat = flatten(state)
        names, values = tuple(flat), list(flat.values())
        with self.db.transaction():
            layout = self._layout(names)
            prev = self._prev[1] if self._prev and self._prev[0] == layout else None
            if self._since_keyframe >= KEYFRAME_EVERY:
                prev = None
            t = self._time(t_ms)
            self.db.conn.execute(
                "INSERT INTO samples (t_ms, run, layout, kf, data) VALUES (?, ?, ?, ?, ?)",
                (t, self.run, layout, int(prev is None), encode(values, prev)),
            )
            self._sysctl_changes(t, state)
            self._findings(t, findings)
        self._since_keyframe = 0 if prev is None else self._since_keyframe + 1
        self._prev = (layout, values)
        return t

    def _sysctl_changes(self, t: int, state: SystemState) -> None:
        if state.sysctl_vm is None:
            return
        changed = [(n, v) for n, v in sorted(state.sysctl_vm.values.items()) if self._sysctls.get(n) != v]
        self.db.conn.executemany(
            "INSERT INTO sysctls (t_ms, name, value) VALUES (?, ?, ?)", [(t, n, v) for n, v in changed]
        )
        self._sysctls.update(changed)

    def _findings(self, t: int, findings: Sequence[Finding]) -> None:
        """One row per stretch of time a finding holds (same key, subject and severity: a rule
        may report one subject twice, at two severities, for two orders).

        A finding that comes back within FINDING_GAP_MS continues its row: a rule that flaps
        around its threshold every second would otherwise add a row, with its evidence, per
        sample. The row keeps the latest summary and evidence.
        """
        c = self.db.conn
        for f in findings:
            key = (f.key, f.subject, f.severity.name)
            evidence = json.dumps(dict(f.evidence), sort_keys=True)
            open_ = self._open.get(key)
            if open_ is not None and open_[1] == f.severity.name and t - open_[2] <= FINDING_GAP_MS:
                c.execute(
                    "UPDATE findings SET last_ms = ?, summary = ?, evidence = ? WHERE id = ?",
                    (t, f.summary, evidence, open_[0]),
                )
                self._open[key] = (open_[0], open_[1], t)
                continue
            cur = c.execute(
                "INSERT INTO findings (run, key, severity, subject, first_ms, last_ms, summary, evidence)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self.run, f.key, f.severity.name, f.subject, t, t, f.summary, evidence),
            )
            self._open[key] = (int(cur.lastrowid or 0), f.severity.name, t)

    def events(self, events: Iterable[Event]) -> int:
        rows = [
            (e.t_ms, self.run, e.kind, e.order, e.gfp, e.comm, e.stall_ms, e.host, e.origin) for e in events
        ]
        if rows:
            with self.db.transaction() as c:
                c.executemany(
                    "INSERT INTO events (t_ms, run, kind, alloc_order, gfp, comm, stall_ms, host,"
                    " origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        return len(rows)

    def markers(self, markers: Iterable[Marker]) -> int:
        """Store markers not stored yet; how many were new."""
        new = 0
        with self.db.transaction() as c:
            for m in markers:
                cur = c.execute(
                    "INSERT OR IGNORE INTO markers (t_ms, tx_id, action, text, changes)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (m.t_ms, m.tx_id, m.action, m.text, json.dumps(m.changes)),
                )
                new += cur.rowcount
        return new

    def trace_interval(self, t: TraceInterval) -> None:
        """Store one interval of `record --trace`: its counts and a row per kind of stall."""
        with self.db.transaction() as c:
            c.execute("INSERT OR REPLACE INTO trace_intervals (t_ms, run, interval_ms, method, events,"
                      " lost_events) VALUES (?, ?, ?, ?, ?, ?)",
                      (t.t_ms, self.run, t.interval_ms, t.method, t.events, t.lost_events))
            c.executemany("INSERT OR REPLACE INTO trace_totals (t_ms, run, kind, stalls, stall_seconds)"
                          " VALUES (?, ?, ?, ?, ?)",
                          [(t.t_ms, self.run, kind, n, sec) for kind, (n, sec) in sorted(t.by_kind.items())])

    def prune(self, before_ms: int) -> int:
        """Delete up to PRUNE_BATCH_ROWS samples older than `before_ms` (and older events,
        markers, findings). Keeps the keyframe the oldest remaining delta rows need. Returns
        how many samples went; call again while it returns PRUNE_BATCH_ROWS."""
        with self.db.transaction() as c:
            keep = c.execute(
                "SELECT max(t_ms) FROM samples WHERE kf = 1 AND t_ms <= ?", (before_ms,)
            ).fetchone()[0]
            if keep is None:
                return 0
            batch_end = c.execute(
                "SELECT t_ms FROM samples ORDER BY t_ms LIMIT 1 OFFSET ?", (PRUNE_BATCH_ROWS,)
            ).fetchone()
            cut = min(int(keep), int(batch_end[0])) if batch_end else int(keep)
            gone = c.execute("DELETE FROM samples WHERE t_ms < ?", (cut,)).rowcount
            c.execute("DELETE FROM events WHERE t_ms < ?", (cut,))
            c.execute("DELETE FROM markers WHERE t_ms < ?", (cut,))
            c.execute("DELETE FROM trace_intervals WHERE t_ms < ?", (cut,))
            c.execute("DELETE FROM trace_totals WHERE t_ms < ?", (cut,))
            c.execute("DELETE FROM findings WHERE last_ms < ?", (cut,))
        if gone:
            with self.db.transaction() as c:
                c.execute("PRAGMA incremental_vacuum(256)")
        return int(gone)


__all__ = ["KEYFRAME_EVERY", "PRUNE_BATCH_ROWS", "Event", "Marker", "TraceInterval", "Writer", "event_of"]
