"""`memstall logs --format json`: one document built with the json module, whole or absent."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from conftest import run_cli
from memstall.outputs.logs import EVENTS_HOLE, around_events, document, document_text, event_json
from memstall.outputs.render.jsonout import dumps

CORPUS = Path(__file__).parent / "fixtures" / "kernlog" / "corpus"
SEED = CORPUS / "000-seed-cold-storage-4.9.log"
DOM = CORPUS / "007-linuxmm-dom-worker-stall-syslog-4.9.13.log"

SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=12)
DOCS = st.dictionaries(st.text(max_size=6), JSON, max_size=4)


@given(st.lists(DOCS, min_size=1, max_size=4), st.lists(DOCS, max_size=2), DOCS,
       st.dictionaries(st.text(max_size=6), st.integers(0, 99), max_size=3))
@example([{"comm": "a\x85b\u2028c"}], [], {}, {})  # line breaks to splitlines(), not to json
def test_events_written_one_by_one_make_the_whole_document(
        events: list[dict[str, Any]], standalone: list[dict[str, Any]], summary: dict[str, Any],
        skipped: dict[str, int]) -> None:
    head, tail = around_events(document([EVENTS_HOLE], standalone, summary, skipped))
    streamed = head + ",\n".join(event_json(e) for e in events) + tail
    assert streamed == document_text(document(events, standalone, summary, skipped))
    assert json.loads(streamed) == json.loads(dumps(document(events, standalone, summary, skipped)))


def test_a_hole_text_in_the_summary_does_not_move_the_events() -> None:
    """A log's text may hold the hole's words: the events come first all the same."""
    summary = {"by_comm": {EVENTS_HOLE: 1}}
    head, tail = around_events(document([EVENTS_HOLE], [], summary, {}))
    assert head + event_json({"a": 1}) + tail == document_text(document([{"a": 1}], [], summary, {}))


def test_a_truncated_log_leaves_no_half_document_on_stdout(tmp_path: Path) -> None:
    """The events of SEED end before the cut; before, they were on stdout without a closing `]}`."""
    filler = b"".join(b"Jan  1 00:00:%02d h kernel: [%d.0] eth0: link up %d\n" % (n % 60, n, n * 7919)
                      for n in range(200_000))  # more than the reader's 1 MiB chunk after SEED
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(SEED.read_bytes() + filler + DOM.read_bytes())[:-600])
    assert run_cli("logs", "--format", "jsonl", str(cut)).out  # events were found before the cut
    r = run_cli("logs", "--format", "json", str(cut))
    assert r.code == 3 and r.out == ""
    assert r.err.startswith(f"memstall: error: {cut}: cannot be decompressed (gzip)")


def test_the_document_is_the_same_as_the_events_of_jsonl() -> None:
    r = run_cli("logs", "--format", "json", str(SEED), str(DOM))
    jsonl = run_cli("logs", "--format", "jsonl", str(SEED), str(DOM))
    doc = json.loads(r.out)
    assert r.out == document_text(doc) and len(doc["events"]) >= 2
    assert doc["events"] == [json.loads(line) for line in jsonl.out.splitlines()]
