"""Robustness: any text, and real lines mangled, either parse or raise ParseError.

Any other exception (IndexError, ValueError, KeyError...) is a bug: the CLI would show
an internal error instead of `memstall: error: <file>:<line>: expected ...`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from memstall.errors import ParseError
from memstall.parsers.buddyinfo import parse_buddyinfo
from memstall.parsers.extfrag import parse_extfrag
from memstall.parsers.kthread_stat import parse_kthread_stat
from memstall.parsers.meminfo import parse_meminfo
from memstall.parsers.pagetypeinfo import parse_pagetypeinfo
from memstall.parsers.psi import parse_psi
from memstall.parsers.sysctl_vm import parse_sysctl_vm
from memstall.parsers.thp import parse_thp_choice, parse_thp_flag
from memstall.parsers.vmstat import parse_vmstat
from memstall.parsers.zoneinfo import parse_zoneinfo

SAMPLES = Path(__file__).parent.parent / "fixtures" / "samples"

TEXT_PARSERS: dict[str, Callable[[str], object]] = {
    "buddyinfo": parse_buddyinfo,
    "zoneinfo": parse_zoneinfo,
    "vmstat": parse_vmstat,
    "meminfo": parse_meminfo,
    "psi": parse_psi,
    "extfrag_index": parse_extfrag,
    "kthread_stat": parse_kthread_stat,
    "thp": parse_thp_choice,
    "thp_flag": parse_thp_flag,
    "pagetypeinfo": parse_pagetypeinfo,
    "sysctl_vm": lambda text: parse_sysctl_vm({"min_free_kbytes": text, "lowmem_reserve_ratio": text}),
}


def _parses_or_parse_error(parser: Callable[[str], object], text: str) -> None:
    try:
        parser(text)
    except ParseError as err:
        assert err.line_no >= 0
        assert "\n" not in str(err).split(": expected", 1)[0]


def _real_text(name: str) -> str:
    files = sorted((SAMPLES / name / "valid").glob("*.txt"))
    if name == "sysctl_vm":
        return "67584\n"
    if name == "thp_flag":
        return "1\n"
    assert files, f"no valid sample for {name}"
    return files[0].read_text()


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
@given(text=st.text())
@example(text="")
@example(text="\x00")
@example(text="Node 0, zone\n")
@example(text="Node 0, zone DMA ²\n")
def test_any_text(name: str, text: str) -> None:
    _parses_or_parse_error(TEXT_PARSERS[name], text)


# Mutations of real lines: what copies, pastes, editors and broken captures do to files.
def _drop_field(line: str, i: int) -> str:
    parts = line.split(" ")
    return " ".join(parts[:i % len(parts)] + parts[i % len(parts) + 1:])


def _dup_field(line: str, i: int) -> str:
    parts = line.split(" ")
    k = i % len(parts)
    return " ".join([*parts[: k + 1], parts[k], *parts[k + 1:]])


MUTATIONS: dict[str, Callable[[str, int], str]] = {
    "drop_field": _drop_field,
    "dup_field": _dup_field,
    "blank_line": lambda line, _i: line + "\n",
    "crlf": lambda line, _i: line + "\r",
    "trailing_spaces": lambda line, _i: line + "   \t ",
    "nul": lambda line, i: line[: i % (len(line) + 1)] + "\x00" + line[i % (len(line) + 1):],
    "unknown_key": lambda line, _i: line + "\nfrobnicate_pages 42",
    "truncate": lambda line, i: line[: i % (len(line) + 1)],
    "dup_line": lambda line, _i: line + "\n" + line,
    "minus": lambda line, i: line[: i % (len(line) + 1)] + "-" + line[i % (len(line) + 1):],
    "non_ascii_digit": lambda line, i: line[: i % (len(line) + 1)] + "٣" + line[i % (len(line) + 1):],
}


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
@given(data=st.data())
def test_mutated_real_lines(name: str, data: st.DataObject) -> None:
    lines = _real_text(name).splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        k = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        mutation = data.draw(st.sampled_from(sorted(MUTATIONS)))
        i = data.draw(st.integers(0, 200))
        if lines:
            lines[k] = MUTATIONS[mutation](lines[k], i)
    _parses_or_parse_error(TEXT_PARSERS[name], "\n".join(lines) + "\n")


# \d in a Python regex matches any Unicode decimal digit and int() accepts them: a parser
# must not read "٣" (Arabic-Indic three) or "²" as a number the kernel printed.
NON_ASCII = [
    ("buddyinfo", "Node 0, zone      DMA      1      ٣\n"),
    ("zoneinfo", "Node 0, zone DMA\n pages free 1\n min ٣\n low 2\n high 3\n spanned 4\n present 4\n"),
    ("vmstat", "nr_free_pages ٣\n"),
    ("meminfo", "MemTotal:       ٣ kB\n"),
    ("psi", "some avg10=٣.00 avg60=0.00 avg300=0.00 total=0\n"),
    ("extfrag_index", "Node 0, zone   Normal ٣.000\n"),
    ("kthread_stat", "٣ (kswapd0) S 2 0 0 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 38 0 0\n"),
    ("sysctl_vm", "٣\n"),
    ("pagetypeinfo", "Page block order: ٩\nPages per block:  512\n"),
]


@pytest.mark.parametrize(("name", "text"), NON_ASCII, ids=[n for n, _ in NON_ASCII])
def test_non_ascii_digits_are_rejected(name: str, text: str) -> None:
    with pytest.raises(ParseError):
        TEXT_PARSERS[name](text)
