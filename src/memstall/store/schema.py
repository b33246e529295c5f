"""The recorder's SQLite schema, its version and the migrations between versions.

`PRAGMA user_version` holds the schema version. Opening a database of an older version
migrates it (each step in one transaction); a newer version is refused (a newer memstall
wrote it and this one cannot know what its rows mean).

Version history:
  1  runs, layouts, samples, sysctls, findings (the first recorder).
  2  events (kernel-log allocation reports) and markers (tune transactions): one timeline.
  3  trace_intervals and trace_totals: `record --trace`, the stalls traced in each interval.
"""

from __future__ import annotations

SCHEMA_VERSION = 3

V1 = """
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  started_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,            -- 'record', 'snapshot' (an imported capture), 'log'
  source TEXT NOT NULL,          -- the root, capture or log it read
  host TEXT, kernel_release TEXT,
  page_size INTEGER NOT NULL,
  user_hz INTEGER,
  interval_seconds REAL
);
CREATE TABLE layouts (
  id INTEGER PRIMARY KEY,
  names TEXT NOT NULL UNIQUE     -- JSON list: the value names of the rows (store/codec.py)
);
CREATE TABLE samples (
  t_ms INTEGER PRIMARY KEY,      -- wall time in ms since the epoch: the time index
  run INTEGER NOT NULL,
  layout INTEGER NOT NULL,
  kf INTEGER NOT NULL,           -- 1: whole row, 0: change from the run's previous row
  data BLOB NOT NULL
);
CREATE TABLE sysctls (
  t_ms INTEGER NOT NULL,
  name TEXT NOT NULL,            -- without 'vm.'
  value TEXT NOT NULL            -- only when it differs from the last stored value
);
CREATE INDEX sysctls_t ON sysctls (t_ms);
CREATE TABLE findings (
  id INTEGER PRIMARY KEY,
  run INTEGER NOT NULL,
  key TEXT NOT NULL, severity TEXT NOT NULL, subject TEXT NOT NULL,
  first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,   -- active from first to last sample
  summary TEXT NOT NULL,
  evidence TEXT NOT NULL         -- JSON object
);
CREATE INDEX findings_last ON findings (last_ms);
"""

V2 = """
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  t_ms INTEGER NOT NULL,
  run INTEGER NOT NULL,
  kind TEXT NOT NULL,            -- 'stall', 'failure', 'oom'
  alloc_order INTEGER, gfp TEXT, comm TEXT, stall_ms INTEGER, host TEXT,
  origin TEXT NOT NULL           -- file:line it came from
);
CREATE INDEX events_t ON events (t_ms);
CREATE TABLE markers (
  id INTEGER PRIMARY KEY,
  t_ms INTEGER NOT NULL,
  tx_id TEXT NOT NULL,
  action TEXT NOT NULL,          -- 'apply', 'confirm', 'rollback', 'failed'
  text TEXT NOT NULL,            -- the transaction's event line
  changes TEXT NOT NULL,         -- JSON list of [key, before, after]
  UNIQUE (tx_id, action, t_ms)
);
CREATE INDEX markers_t ON markers (t_ms);
"""

V3 = """
CREATE TABLE trace_intervals (
  t_ms INTEGER NOT NULL,         -- the end of the interval: the sample's time
  run INTEGER NOT NULL,
  interval_ms INTEGER NOT NULL,
  method TEXT NOT NULL,          -- 'hist' (reclaim latencies in the kernel) or 'pipe'
  events INTEGER NOT NULL,       -- tracepoint events read from trace_pipe in the interval
  lost_events INTEGER NOT NULL,  -- events the ring buffer overwrote in the interval
  PRIMARY KEY (run, t_ms)
);
CREATE INDEX trace_intervals_t ON trace_intervals (t_ms);
CREATE TABLE trace_totals (
  t_ms INTEGER NOT NULL,         -- the trace_intervals row it belongs to
  run INTEGER NOT NULL,
  kind TEXT NOT NULL,            -- direct_reclaim, memcg_reclaim, direct_compaction, other_compaction
  stalls INTEGER NOT NULL,       -- stalls that ended in the interval
  stall_seconds REAL NOT NULL,   -- their summed duration
  PRIMARY KEY (run, t_ms, kind)
);
CREATE INDEX trace_totals_t ON trace_totals (t_ms);
"""

MIGRATIONS = {0: V1, 1: V2, 2: V3}
"""from version -> the DDL that brings it to version + 1."""

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "V1", "V2", "V3"]
