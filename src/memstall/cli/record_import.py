"""`memstall record --import SNAPSHOT` and `--import-log FILE`: one capture or one kernel
log added to a record database as a run of its own, on the same timeline as the samples.

A capture is placed at its MANIFEST `captured` time (later samples at their uptime
offset). A log's reports are placed at their wall-clock stamps (`dmesg -T`, syslog,
journalctl); a report with only an uptime stamp (plain dmesg) has no wall time and is
counted, not stored. The log's last Mem-Info becomes one sample, at its report's time.
"""

from __future__ import annotations

import datetime
import time

from memstall.collect import load_state, read_manifest, sample_count
from memstall.errors import UsageError
from memstall.model.kernlog import AllocEvent
from memstall.pipeline import inputs_from_log, inputs_from_root, wall_time
from memstall.rules import run_rules
from memstall.sources import open_root
from memstall.store import Db, Writer, event_of


def _ms(when: datetime.datetime) -> int:
    if when.tzinfo is None:  # dmesg -T and syslog print local time
        return int(time.mktime(when.timetuple()) * 1000 + when.microsecond // 1000)
    return int(when.timestamp() * 1000)


def import_snapshot(db_path: str, path: str) -> str:
    source = open_root(path)
    manifest = read_manifest(source) or {}
    captured = manifest.get("captured")
    if not isinstance(captured, str):
        raise UsageError(
            f"{path}: the capture records no time (MANIFEST captured), so it has no place on the timeline"
        )
    t0 = _ms(datetime.datetime.fromisoformat(captured.replace("Z", "+00:00")))
    states = [load_state(source, k if k else None) for k in range(max(1, sample_count(source)))]
    inputs, _how = inputs_from_root(path, 0)
    report = run_rules(inputs)
    db = Db(db_path, write=True)
    try:
        host = manifest.get("hostname")
        writer = Writer(
            db,
            kind="snapshot",
            source=path,
            state=states[0],
            interval_seconds=None,
            host=host if isinstance(host, str) else None,
            now_ms=t0,
        )
        up0 = states[0].uptime_seconds
        for k, state in enumerate(states):
            offset = 0.0 if up0 is None or state.uptime_seconds is None else state.uptime_seconds - up0
            last = k == len(states) - 1
            writer.sample(t0 + int(offset * 1000), state, report.findings if last else ())
    finally:
        db.close()
    return f"memstall record: imported {path}: {len(states)} sample{'' if len(states) == 1 else 's'}"


def import_log(db_path: str, path: str) -> str:
    inputs, how, _managed = inputs_from_log(path)
    year = datetime.date.today().year
    placed: list[tuple[int, AllocEvent]] = []
    for e in inputs.events:
        when = wall_time(e, year) if isinstance(e, AllocEvent) else None
        if when is not None and isinstance(e, AllocEvent):
            placed.append((_ms(when), e))
    db = Db(db_path, write=True)
    try:
        host = next((e.host for _, e in placed if e.host), None)
        writer = Writer(
            db,
            kind="log",
            source=path,
            state=inputs.state,
            interval_seconds=None,
            host=host,
            now_ms=placed[0][0] if placed else None,
        )
        writer.events(event_of(e, t, e.host, f"{path}:{e.line_no}") for t, e in placed)
        if placed and inputs.state.zoneinfo is not None:
            writer.sample(placed[-1][0], inputs.state, run_rules(inputs).findings)
    finally:
        db.close()
    unplaced = len(inputs.events) - len(placed)
    msg = f"memstall record: imported {path} ({how}): {len(placed)} reports on the timeline"
    if unplaced:
        msg += (
            f"; {unplaced} without a wall-clock time left out (plain dmesg prints uptime only: "
            "import `dmesg -T` or `journalctl -k` output)"
        )
    return msg


__all__ = ["import_log", "import_snapshot"]
