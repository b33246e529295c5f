"""The line-wise Mem-Info parser gives exactly what the token walker gives.

`parse_mem_info` takes `fast_parse_mem_info` when every line has a usual shape and
`reference_parse_mem_info` (the token walker) otherwise. Both are compared, by `==` and by
`repr` (which also fixes the order of every dict), on every dump of every log under
tests/fixtures/kernlog and on corpus dumps mutated line by line (cut, joined, split, a token
changed or dropped, a line repeated or dropped, numbers made huge, negative or non-ASCII).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError, fields
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load_benchmark
from memstall.model.kernlog import BuddyLine, HugepagesLine, MemInfoDump, MemInfoZone, assemble
from memstall.parsers.kernlog import meminfo
from memstall.parsers.kernlog.meminfo import parse_mem_info, reference_parse_mem_info
from memstall.parsers.kernlog.meminfo_fast import fast_parse_mem_info, read_lines

FIXTURES = Path(__file__).parent / "fixtures" / "kernlog"
LOGS = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".log", ".txt"))

Args = tuple[list[str], str, int, bool]


_capture: Callable[[Path], list[Args]] = load_benchmark("meminfo_parse").capture
"""The arguments of every parse_mem_info call while a log is scanned (the benchmark's own)."""


@cache
def _all_dumps() -> tuple[Args, ...]:
    return tuple(call for path in LOGS for call in _capture(path))


def _same(args: Args) -> bool:
    """parse == reference (eq and repr); True when the fast path took the dump."""
    expected = reference_parse_mem_info(*args)
    got = parse_mem_info(*args)
    assert got == expected
    assert repr(got) == repr(expected)
    fast = fast_parse_mem_info(*args)
    if fast is not None:
        assert repr(fast) == repr(expected)
    return fast is not None


def test_every_fixture_dump_agrees_and_both_paths_are_taken() -> None:
    dumps = _all_dumps()
    assert len(dumps) > 25
    taken = sum(_same(args) for args in dumps)
    assert taken >= 10, (taken, len(dumps))  # the comparison is not vacuous
    resumed = 0
    for lines, *_ in dumps:  # the walker started in the middle, with what the lines gave
        read = read_lines(lines)
        resumed += read is not None and 0 < read[3] < len(read[0]) and read[2].any_construct
    assert resumed >= 5, resumed


_TOKENS = ["0", "7", "-3", "99999999999999999999", "٣", "12kB", "0KB", "=", "= 5kB", "empty",
           "Node", "Node 0", "free:", "free:1kB", "high:2kB", "all_unreclaimable?", "yes",
           "pages_scanned:4", "managed:73", "lowmem_reserve[]:", "protections[]:", "1*4kB",
           "(UME)", "total", "pages", "RAM", "reserved", "Free swap", "swap:", "DMA", "DMA:",
           "hugepages_total=1", "hugepages_size=2048kB", "[<ffffffff81000000>]",
           "dump_stack+0x1/0x2", "key: 5kB", "a:b:5kB", "Swap cache: add 1, delete 1, find 1/1",
           "Mem-Info:", "CPU    0: hi:  186, btch:  31 usd:   0", "Free pages: 5kB", "[...]",
           "DMA per-cpu:", "Node 0 hugepages_total=1 per-cpu:", "per-cpu:", "a:1kB per-cpu: 2kB",
           "cpu 0 hot: high 0, batch 1 used:0", "Swap cache stats: add 1, delete 2, find 3/4"]


@st.composite
def _mutated(draw: st.DrawFn) -> Args:
    lines, source, line_no, complete = draw(st.sampled_from(_all_dumps()))
    lines = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        op = draw(st.integers(0, 8))
        words = line.split(" ")
        k = draw(st.integers(0, len(words)))
        if op == 0:  # cut the line at a word
            lines[i] = " ".join(words[:k])
        elif op == 1:  # break it in two
            lines[i:i + 1] = [" ".join(words[:k]), " ".join(words[k:])]
        elif op == 2 and i + 1 < len(lines):  # join it with the next one
            lines[i:i + 2] = [f"{line} {lines[i + 1]}"]
        elif op == 3:  # put a token in
            words.insert(k, draw(st.sampled_from(_TOKENS)))
            lines[i] = " ".join(words)
        elif op == 4 and words:  # drop a word
            del words[min(k, len(words) - 1)]
            lines[i] = " ".join(words)
        elif op == 5:  # a whole line of its own
            lines.insert(i, draw(st.sampled_from(_TOKENS)))
        elif op == 6:
            lines.insert(i, line)
        elif op == 7:
            del lines[i]
        else:  # a character changed
            j = draw(st.integers(0, max(len(line) - 1, 0)))
            lines[i] = line[:j] + draw(st.sampled_from([":", " ", "0", "k", "B", "*", "=", "x", "  "])) \
                + line[j + 1:]
    return lines, source, line_no, draw(st.booleans()) and complete


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_corpus_dumps_agree(args: Args) -> None:
    _same(args)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=12).map(" ".join), st.integers(0, 30))
def test_a_strange_line_anywhere_agrees(line: str, at: int) -> None:
    lines, source, line_no, complete = _all_dumps()[0]
    _same(([*lines[:at], line, *lines[at:]], source, line_no, complete))


@pytest.mark.parametrize("cls, values", [
    (MemInfoZone, {"node": 0, "zone": "DMA", "fields_kb": {"free": 1}, "fields": {},
                   "all_unreclaimable": None, "lowmem_reserve": (0, 1), "complete": True}),
    (BuddyLine, {"node": None, "zone": "DMA", "base_kb": 4, "counts": (1,), "types": ("U",),
                 "total_kb": 4, "adds_up": True, "empty": False}),
    (HugepagesLine, {"node": 0, "total": 1, "free": 1, "surp": 0, "size_kb": 2048}),
])
def test_assemble_is_the_constructor(cls: type, values: dict[str, object]) -> None:
    assert [f.name for f in fields(cls)] == list(values)
    built: object = assemble(cls, values)
    assert built == cls(**values) and repr(built) == repr(cls(**values))
    assert hash(assemble(HugepagesLine, {"node": 0, "total": 1, "free": 1, "surp": 0,
                                         "size_kb": 2048})) == hash(HugepagesLine(0, 1, 1, 0, 2048))
    with pytest.raises(FrozenInstanceError):
        built.zone = "x"  # type: ignore[attr-defined]


def test_dump_fields_are_all_given() -> None:
    """assemble applies no default: the fast path names every MemInfoDump field."""
    dump = fast_parse_mem_info(*_all_dumps()[0])
    assert dump is not None
    assert set(vars(dump)) == {f.name for f in fields(MemInfoDump)}
    assert meminfo.parse_mem_info is parse_mem_info
