"""The parsers' fast paths give exactly what the reference (regex) parsers give.

zoneinfo, vmstat and meminfo each have a fast path (str.split / one findall) that the Sampler
takes on every tick, and a reference parser that it falls back to for any text the fast path
does not take. Compared here on every such file of every fixture root (tests/fixtures and
../shared/real-roots), on this machine's /proc, and on generated text with mutated lines:
the same record, or the same error. Each comparison also counts how often the fast path was
taken, so that a fast path that always falls back (and so proves nothing) fails the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import zoneinfo as zoneinfo_models

from memstall.errors import ParseError
from memstall.outputs.kernel_text import format_meminfo, format_vmstat, format_zoneinfo
from memstall.parsers import meminfo, vmstat, zoneinfo

sys_path = Path("/proc")
TESTS = Path(__file__).parent.parent
FIXTURES = TESTS / "fixtures"
SHARED = TESTS.parent.parent / "shared"


def _zone_fast(text: str) -> Any:
    try:
        return zoneinfo.fast_parse_zoneinfo(text)
    except zoneinfo._Fallback:
        return None


PARSERS: dict[str, tuple[Callable[[str], Any], Callable[[str, str], Any], Callable[[str, str], Any]]] = {
    "zoneinfo": (_zone_fast, zoneinfo.parse_zoneinfo, zoneinfo.reference_parse_zoneinfo),
    "vmstat": (vmstat.fast_parse_vmstat, vmstat.parse_vmstat, vmstat.reference_parse_vmstat),
    "meminfo": (meminfo.fast_parse_meminfo, meminfo.parse_meminfo, meminfo.reference_parse_meminfo),
}


def outcome(parse: Callable[[str, str], Any], text: str) -> Any:
    try:
        return parse(text, "f")
    except ParseError as err:
        return ("error", str(err))


def check(kind: str, text: str) -> bool:
    """parse == reference on `text`; whether the fast path took it (then it equals both)."""
    fast, parse, reference = PARSERS[kind]
    expected = outcome(reference, text)
    assert outcome(parse, text) == expected
    took = fast(text)
    if took is not None:
        assert took == expected
    return took is not None


def fixture_files() -> list[Path]:
    roots = [FIXTURES, SHARED / "real-roots"]
    return sorted(p for root in roots if root.is_dir() for name in PARSERS for p in root.rglob(name)
                  if p.is_file())


FILES = fixture_files()


def test_fixture_roots_have_the_files() -> None:
    kinds = {p.name for p in FILES}
    assert kinds == set(PARSERS), kinds
    assert len(FILES) > 50


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p).split("fixtures/")[-1].split("shared/")[-1])
def test_fixture_file(path: Path) -> None:
    check(path.name, path.read_text(encoding="utf-8", errors="replace"))


def test_fast_path_taken_on_most_fixture_files() -> None:
    taken: dict[str, list[bool]] = {k: [] for k in PARSERS}
    for path in FILES:
        taken[path.name].append(check(path.name, path.read_text(encoding="utf-8", errors="replace")))
    for kind, flags in taken.items():  # the odd ones (RHEL 8.0's unnamed counter, 2.6 lines) fall back
        assert sum(flags) >= 0.8 * len(flags), (kind, sum(flags), len(flags))


@pytest.mark.parametrize("rel", ["zoneinfo", "vmstat", "meminfo"])
def test_this_machine(rel: str) -> None:
    path = sys_path / rel
    if not path.exists():
        pytest.skip(f"no {path}")
    assert check(rel, path.read_text())


# Pieces a mutated line is built from: the shapes' words, separators the fast path must not
# take as \s (\r, \v, \x1c, NBSP), digits, signs, colons, brackets.
PIECES = st.sampled_from(["Node", "0,", "1", " zone", " ", "  ", "\t", "\r", "\x0b", "\x1c", "\xa0", ":",
                          "-", "-3", "12", "pages", " free", "free", "per-node", " stats", "pagesets",
                          "protection:", "(0, 5)", "(", ")", "min", "high", "cpu", "vm stats threshold",
                          "nr_free_pages", "kB", " kB", "MB", "Normal", "MemTotal:", "Node 0 ", "x_y",
                          "\n", "", "٣",
                          # the pagesets section's shapes, which the fast path cuts in one regex pass
                          "  pagesets\n", "    cpu: ", "              count: ", "high_min: ", "batch:",
                          "  vm stats threshold: ", "\n  vm stats threshold: 9\n"])
LINE = st.lists(PIECES, max_size=8).map("".join)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    lines = text.split("\n")
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(lines)))
        if draw(st.booleans()) and at < len(lines):
            lines[at] = draw(LINE)
        else:
            lines.insert(at, draw(LINE))
    return "\n".join(lines)


@given(st.data())
def test_zoneinfo_generated_and_mutated(data: st.DataObject) -> None:
    pagesets = data.draw(st.lists(st.tuples(*[st.integers(min_value=0, max_value=99999)] * 3), max_size=3))
    text = format_zoneinfo(data.draw(zoneinfo_models()), cpu_pagesets=pagesets)
    assert check("zoneinfo", text)
    check("zoneinfo", data.draw(mutated(text)))


# One CPU of a pagesets section as 6.7+ prints it (high_min, high_max and the CPU's own
# 'vm stats threshold'): the fast path takes all but the last CPU out without splitting them.
CPU_PAGESET = st.tuples(st.integers(0, 99999), st.integers(0, 99999), st.integers(0, 999), st.booleans(),
                        st.integers(0, 125)).map(
    lambda c: (f"              count:    {c[0]}\n              high:     {c[1]}\n"
               f"              batch:    {c[2]}\n"
               + ("              high_min: 14\n              high_max: 240\n" if c[3] else "")
               + f"  vm stats threshold: {c[4]}"))


@given(st.data())
def test_zoneinfo_many_cpu_pagesets_generated_and_mutated(data: st.DataObject) -> None:
    lines = []
    for line in format_zoneinfo(data.draw(zoneinfo_models())).split("\n"):
        lines.append(line)
        if line == "  pagesets":
            cpus = data.draw(st.lists(CPU_PAGESET, max_size=6))
            lines += [f"    cpu: {n}\n{text}" for n, text in enumerate(cpus)]
    text = "\n".join(lines)
    assert check("zoneinfo", text)
    check("zoneinfo", data.draw(mutated(text)))


COUNTERS = st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True),
                           st.integers(min_value=-2**63, max_value=2**64), min_size=1, max_size=30)


@given(COUNTERS, st.data())
def test_vmstat_generated_and_mutated(counters: dict[str, int], data: st.DataObject) -> None:
    text = format_vmstat(vmstat.VmStat(counters=counters))
    assert check("vmstat", text)
    check("vmstat", data.draw(mutated(text)))


@given(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9_()]{0,20}", fullmatch=True),
                       st.integers(min_value=0, max_value=2**64), min_size=1, max_size=30),
       st.data())
def test_meminfo_generated_and_mutated(fields: dict[str, int], data: st.DataObject) -> None:
    text = format_meminfo(meminfo.MemInfo(fields_kib=fields, counts={}))
    assert check("meminfo", text)
    check("meminfo", data.draw(mutated(text)))


PAGESET_LINE = st.builds(
    "{}{}:{}{}{}".format, st.sampled_from(["", " ", "    ", "              ", "\t"]),
    st.sampled_from(["cpu", "count", "high", "batch", "high_min", "high_max", "vm stats threshold",
                     "node_unreclaimable", "start_pfn", "Count", "cpu 1"]),
    st.sampled_from(["", " ", "    ", "\t"]), st.sampled_from(["0", "12", "-3", "x", "", "1 2", "٣"]),
    st.sampled_from(["", " ", "\t"]))


@given(st.data())
def test_zoneinfo_pagesets_sections(data: st.DataObject) -> None:
    """The pagesets sections (cut by one regex on the fast path) with lines of every nearby shape."""
    pagesets = data.draw(st.lists(st.tuples(*[st.integers(min_value=0, max_value=99999)] * 3),
                                  min_size=1, max_size=6))
    lines = format_zoneinfo(data.draw(zoneinfo_models()), cpu_pagesets=pagesets).split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == "pagesets"]
    for _ in range(data.draw(st.integers(min_value=0, max_value=4))):
        at = data.draw(st.sampled_from(starts)) + data.draw(st.integers(min_value=1, max_value=8))
        lines.insert(min(at, len(lines)), data.draw(PAGESET_LINE))
        starts = [i for i, line in enumerate(lines) if line.strip() == "pagesets"]
    check("zoneinfo", "\n".join(lines))
