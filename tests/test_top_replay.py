"""`memstall top --db`: replaying a record database (store/replay.py, outputs/top_replay.py).

The database is written by the recorder's own code from the seed capture at known times
(tests/replay_db.py): five samples 10 s apart, a stall report with a hostile comm at +15 s,
a tune marker at +32 s. The frames are checked against goldens at 80x24 and 160x48, and the
moves (a sample at a time, event to event, first/last) against those times.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import replay_db
from conftest import TESTS, json_keys, run_cli
from memstall.outputs.top_replay import RUN_START, replay_frame, utc
from memstall.outputs.top_tui import REPLAY_KEYS, replay_move, split_keys
from memstall.store import Db
from memstall.store.replay import Moment, Replay

T0, STEP = replay_db.T0_MS, replay_db.STEP_MS
GOLDEN = TESTS / "golden" / "top"
JSON_MD = TESTS.parent / "docs" / "json.md"


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay_db.build(tmp_path_factory.mktemp("replay"))


@pytest.fixture
def rec(db_path: Path) -> Replay:
    db = Db(str(db_path), write=False)
    yield Replay(db)  # type: ignore[misc]
    db.close()


def _moment(rec: Replay, t_ms: int) -> Moment:
    moment = rec.moment(t_ms)
    assert moment is not None
    return moment


def test_the_frame_at_a_time_shows_the_sample_at_or_before_it(rec: Replay) -> None:
    for k in range(replay_db.SAMPLES):
        for offset in (0, STEP // 2):  # between two samples: the earlier one
            moment = _moment(rec, T0 + k * STEP + offset)
            assert moment.point.t_ms == T0 + k * STEP
            assert (moment.index, moment.total) == (k + 1, replay_db.SAMPLES)
            head = replay_frame(moment, 80, 24)[0]
            assert head.startswith(f"memstall top  REPLAY {utc(T0 + k * STEP)}  {k + 1}/5")
    assert _moment(rec, T0 - 60_000).point.t_ms == T0  # before the recording: the first sample


def test_rates_from_the_previous_sample_and_findings_as_recorded(rec: Replay) -> None:
    first = "\n".join(replay_frame(_moment(rec, T0), 120, None))
    assert f"rates/s  none: {RUN_START}" in first
    text = "\n".join(replay_frame(_moment(rec, T0 + STEP), 120, None))
    # per 10 s: allocstall +100, pgscan_direct +2000, kswapd +5000, pgsteal +4000, pgalloc +100000
    assert "rates/s  allocstall 10  pgscan direct 200 kswapd 500  pgsteal 400  pgalloc 10k" in text
    assert "compact  stall 3 fail 2 success 1" in text
    assert "CRITICAL ZONE_BELOW_WATERMARK node0/Normal: free 42.9 MiB" in text
    assert "CRITICAL DIRECT_RECLAIM host: 10.0 direct reclaims/s" in text
    assert "DIRECT_RECLAIM" not in first  # the recorder stored no rates finding for the first sample


def test_events_and_markers_show_at_their_time(rec: Replay) -> None:
    def timeline(t: int) -> list[str]:
        return [line for line in replay_frame(_moment(rec, t), 200, None)
                if line.startswith(("event", "tune"))]

    assert timeline(T0 + STEP) == []  # the stall at +15 s has not happened yet
    (stall,) = timeline(T0 + 2 * STEP)
    assert stall.startswith("event    10:00:15 -5s  stall  py\\u001b]52;c;aGk=\\u0007\\u202ethon  order 1"
                            "  stalled 15412 ms  0x26040c0(GFP_KERNEL|__GFP_COMP|__GFP_NOTRACK)")
    stall_later, marker = timeline(T0 + 4 * STEP)
    assert stall_later.startswith("event    10:00:15 -25s  stall")
    assert marker == f"tune     10:00:32 -8s  apply  {replay_db.MARKER_TEXT}"


def test_moves_by_sample_by_event_and_to_the_ends(rec: Replay) -> None:
    at = [T0 + k * STEP for k in range(replay_db.SAMPLES)]
    assert rec.step(at[2], 1) == at[3] and rec.step(at[2], -1) == at[1]
    assert rec.step(at[0], -1) == at[0] and rec.step(at[4], 1) == at[4]  # stops at the ends
    assert rec.step(at[0], 3) == at[3]
    # next: the stall (+15 s) shows at +20 s, the marker (+32 s) at +40 s, then no more
    assert [rec.mark(at[0], later=True), rec.mark(at[2], later=True), rec.mark(at[4], later=True)] == \
        [at[2], at[4], at[4]]
    # previous: from +40 s back to the stall's sample, then nothing earlier
    assert rec.mark(at[4], later=False) == at[2] and rec.mark(at[2], later=False) == at[2]
    assert rec.mark(at[3], later=False) == at[2]
    assert (rec.first(), rec.last()) == (at[0], at[4])
    keys = split_keys("\x1b[C\x1b[D]\x1b[5~\x1b[6~gG\x1bOC\x1b[Zq")
    assert keys == ["right", "left", "]", "pgup", "pgdn", "g", "G", "right", "esc", "q"]
    moves = [replay_move(rec, at[1], REPLAY_KEYS[k]) for k in keys if k in REPLAY_KEYS]
    assert moves == [at[2], at[0], at[2], at[1], at[2], at[0], at[4], at[2]]


@pytest.mark.parametrize(("width", "height"), [(80, 24), (160, 48)])
def test_golden_replay_frames(rec: Replay, width: int, height: int, update_golden: bool) -> None:
    """The last sample: rates, the hostile stall report as text, the marker, the findings."""
    lines = replay_frame(_moment(rec, T0 + 4 * STEP), width, height)
    assert len(lines) <= height and all(len(line) <= width for line in lines)
    text = "\n".join(lines) + "\n"
    assert "\x1b" not in text and "\u202e" not in text and "\\u202e" in text
    path = GOLDEN / f"replay-seed-{width}x{height}.txt"
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden {path.name}: run pytest --update-golden"
    assert text == path.read_text(), f"{path.name} differs: review, then pytest --update-golden"


def test_once_with_at_prints_that_frame(db_path: Path, rec: Replay) -> None:
    for at, t in (("2026-12-04T10:00:25", T0 + 2 * STEP), ("2026-12-04T11:00:25+01:00", T0 + 2 * STEP),
                  ("-10s", T0 + 3 * STEP), ("-1h", T0)):
        r = run_cli("top", "--db", str(db_path), f"--at={at}", "--once", "--width", "80")
        assert r.code == 0, r.err
        assert r.out == "\n".join(replay_frame(_moment(rec, t), 80, None)) + "\n", at
    last = run_cli("top", "--db", str(db_path), "--once", "--width", "80")  # default: the last sample
    assert last.out.startswith(f"memstall top  REPLAY {utc(T0 + 4 * STEP)}  5/5")


def _one_line_error(*argv: str) -> str:
    """The error line and its hint line (if any), as one string."""
    r = run_cli(*argv)
    assert r.code != 0 and r.out == ""
    lines = r.err.splitlines()
    assert lines[0].startswith("memstall: error: ") and "Traceback" not in r.err
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("hint: ")), r.err
    return r.err


def test_a_bad_database_is_one_line(tmp_path: Path, db_path: Path) -> None:
    missing = tmp_path / "none.db"
    assert f"{missing}: no such database" in _one_line_error("top", "--db", str(missing), "--once")
    text = tmp_path / "text.db"
    text.write_text("not sqlite at all, but long enough to have a header of sorts...\n" * 4)
    assert "file is not a database\nhint: it is not a memstall database" in \
        _one_line_error("top", "--db", str(text), "--once")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()
    assert "not a memstall database (no schema)" in _one_line_error("top", "--db", str(empty), "--once")
    newer = tmp_path / "newer.db"
    newer.write_bytes(db_path.read_bytes())
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    assert "written by a newer memstall (schema 99" in _one_line_error("top", "--db", str(newer), "--once")
    assert "--at 'yesterday'" in _one_line_error("top", "--db", str(db_path), "--at", "yesterday", "--once")
    assert "give --db too" in _one_line_error("top", "--at=-1h", "--once")
    assert "--db and --root" in _one_line_error("--root", str(tmp_path), "top", "--db", str(db_path))


def test_json_of_a_replayed_sample_and_of_a_capture(db_path: Path) -> None:
    r = run_cli("top", "--db", str(db_path), "--at", "2026-12-04T10:00:40", "--format", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["schema"] == "memstall.top/1" and doc["source"] == "seed-host"
    assert doc["rates"]["per_second"]["allocstall"] == 10.0 and doc["rates"]["interval_seconds"] == 10.0
    replay = doc["replay"]
    assert replay["t_ms"] == T0 + 4 * STEP and (replay["index"], replay["total"]) == (5, 5)
    (event,) = doc["replay"]["events"]
    assert event["comm"] == replay_db.HOSTILE_COMM and event["t_ms"] == replay_db.EVENT_MS  # the real name
    assert doc["replay"]["markers"][0]["text"] == replay_db.MARKER_TEXT
    normal = next(z for z in doc["zones"] if (z["node"], z["zone"]) == (0, "Normal"))
    assert normal["free_pages"] < normal["min_pages"] and normal["free_blocks"][6:] == [0] * 5
    assert "\x1b" not in r.out and "\u202e" not in r.out  # escaped in the JSON text, as \u001b
    section = JSON_MD.read_text().split("### `memstall.top/1`", 1)[1]
    live = json.loads(run_cli("--root", str(replay_db.SEED), "top", "--format", "json").out)
    assert live["replay"] is None and live["rates"] is None and live["rates_reason"]
    skip = frozenset({"per_second", "kthread_cpu_ratio"})
    keys = json_keys(doc, skip) | json_keys(live, skip) | set(doc["rates"]["per_second"])
    assert sorted(k for k in keys if f"`{k}`" not in section and k not in ("source", "kernel_release",
                                                                        "page_size")) == []
    assert "--trace is text only" in run_cli("top", "--format", "json", "--trace").err
