"""Deferred dumps (`LogScanner(defer_dumps=...)`): an output that prints no event's dump leaves
it unparsed, and parsing it later gives exactly what the scanner would have given at once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from memstall.collect_log import scan_last_dump
from memstall.model.kernlog import KINDS, AllocEvent
from memstall.parsers.kernlog import Item, LogScanner, parse_dump_text
from memstall.sources.kernlog import LogReader
from test_kernlog_scanner import mutated_logs

KERNLOG = Path(__file__).parent / "fixtures" / "kernlog"
LOGS = sorted(p for p in KERNLOG.rglob("*") if p.is_file() and p.suffix not in (".json", ".md"))


def _items(data: bytes, defer: tuple[str, ...], source: str = "x") -> list[Item]:
    sc = LogScanner(source, defer_dumps=defer)
    return [*sc.feed_block(data), *sc.finish()]


def _parsed(item: Item) -> Item:
    if isinstance(item, AllocEvent) and item.mem_info_text is not None:
        assert item.mem_info is None  # never both
        return replace(item, mem_info=parse_dump_text(item.mem_info_text), mem_info_text=None)
    return item


def _check(data: bytes, defer: tuple[str, ...]) -> None:
    """Deferred items parsed equal the items of a scan that parses (test_the_fixtures_defer_dumps_
    of_every_kind shows the fixtures defer some)."""
    now, later = _items(data, ()), _items(data, defer)
    assert len(now) == len(later)
    for a, b in zip(now, later):
        if isinstance(b, AllocEvent):
            assert b.has_mem_info == (a.mem_info is not None)  # type: ignore[union-attr]
            assert (b.mem_info_text is not None) == (b.kind in defer and b.has_mem_info)
        assert _parsed(b) == a


@pytest.mark.parametrize("path", LOGS, ids=[f"{p.parent.name}/{p.name}" for p in LOGS])
def test_every_fixture_log_parses_the_same_later(path: Path) -> None:
    _check(path.read_bytes(), KINDS)


def test_the_fixtures_defer_dumps_of_every_kind() -> None:
    """So that the test above cannot pass by deferring nothing."""
    kinds = set()
    for path in LOGS:
        for item in _items(path.read_bytes(), KINDS):
            if isinstance(item, AllocEvent) and item.mem_info_text is not None:
                kinds.add(item.kind)
    assert kinds == set(KINDS)


@settings(max_examples=200, deadline=None)
@given(mutated_logs(), st.sets(st.sampled_from(KINDS)))
def test_mutated_logs_parse_the_same_later(lines: list[bytes], defer: set[str]) -> None:
    _check(b"\n".join(lines) + b"\n", tuple(sorted(defer)))


@pytest.mark.parametrize("path", LOGS, ids=[f"{p.parent.name}/{p.name}" for p in LOGS])
def test_scan_last_dump_keeps_the_last_dump_parsed(path: Path) -> None:
    """diagnose --log: every event, and only the dump with the highest line number, parsed."""
    reader = LogReader(str(path))
    full = _items(path.read_bytes(), (), reader.label)
    dumps = [(i.mem_info if isinstance(i, AllocEvent) else i) for i in full]
    last = max((d.line_no for d in dumps if d is not None), default=None)
    expected = [item if dump is None or dump.line_no == last else replace(item, mem_info=None)
                for item, dump in zip(full, dumps) if isinstance(item, AllocEvent) or dump.line_no == last]
    assert scan_last_dump(reader) == expected


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl"])
@pytest.mark.parametrize("flags", [(), ("--kind", "oom"), ("--kind", "stall", "--kind", "failure")])
def test_cli_output_is_the_same(fmt: str, flags: tuple[str, ...]) -> None:
    """`memstall logs` parses only the dumps it prints (`cli.logs.SCAN_DEFERS`); its bytes equal
    those of a scan that parses every dump, on every fixture log, filtered or not."""
    for path in LOGS:
        deferred = run_cli("logs", "--format", fmt, *flags, str(path))
        mp = pytest.MonkeyPatch()
        mp.setattr("memstall.cli.logs.SCAN_DEFERS", ())
        try:
            parsed = run_cli("logs", "--format", fmt, *flags, str(path))
        finally:
            mp.undo()
        assert (deferred.code, deferred.out, deferred.err) == (parsed.code, parsed.out, parsed.err), path
