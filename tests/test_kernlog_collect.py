"""`read_log_last_dump` (diagnose --log) keeps every event but only the last Mem-Info."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from memstall.collect_log import read_log, read_log_last_dump
from memstall.model.kernlog import AllocEvent, MemInfoDump

CORPUS = Path(__file__).parent / "fixtures" / "kernlog" / "corpus"
LOGS = sorted(CORPUS.glob("*.log"))


def _dumps(items: list[object]) -> list[MemInfoDump]:
    out = [i.mem_info for i in items if isinstance(i, AllocEvent) and i.mem_info is not None]
    return out + [i for i in items if isinstance(i, MemInfoDump)]


@pytest.mark.parametrize("log", LOGS, ids=[p.name[:3] for p in LOGS])
def test_last_dump_only_keeps_the_last_dump_and_every_event(log: Path) -> None:
    _, full = read_log(str(log))
    _, lean = read_log_last_dump(str(log))
    dumps = _dumps(list(full))
    kept = _dumps(list(lean))
    assert kept == ([max(dumps, key=lambda d: d.line_no)] if dumps else [])
    events = [replace(e, mem_info=None) for e in full if isinstance(e, AllocEvent)]
    assert [replace(e, mem_info=None) for e in lean if isinstance(e, AllocEvent)] == events


def test_many_dumps_are_not_kept(tmp_path: Path) -> None:
    one = (CORPUS / next(p.name for p in LOGS if p.name.startswith("000"))).read_text()
    path = tmp_path / "many.log"
    path.write_text(one * 40)
    _, full = read_log(str(path))
    _, lean = read_log_last_dump(str(path))
    assert len(_dumps(list(full))) == 40 and len(_dumps(list(lean))) == 1
