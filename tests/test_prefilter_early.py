"""`start_early` starts a search only for what argparse takes as the FILEs of `logs`, never for
an option's value that names a big file (`--since FILE`, `--as-snapshot FILE`)."""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memstall.cli import build_parser
from memstall.sources import prefilter
from memstall.sources.prefilter import (
    LOGS_VALUED,
    PREFILTER_MIN_BYTES,
    TOP_VALUED,
    asks_jobs,
    log_files,
    start_early,
)

_TOKENS = ["logs", "show", "--root", "--format", "json", "jsonl", "--debug", "--deb", "--since", "--sin",
           "--until", "--kind", "stall", "--kernel", "4.9", "--as-snapshot", "--as", "--jobs", "2",
           "--host", "--since=5", "--format=json", "--", "-", "a.log", "b.log", "c.log", "-5"]


def _parsed_files(args: list[str]) -> list[str] | None:
    """What argparse makes of `args` as FILEs, or None when it stops (an error, --help)."""
    parser = build_parser("logs")
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            ns = parser.parse_args(args)
    except SystemExit:
        return None
    files: list[str] = ns.files
    return files


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=9))
def test_the_files_are_those_argparse_takes(args: list[str]) -> None:
    files = _parsed_files(args)
    if files is not None and "-5" not in files:  # `-5`: a file argparse takes, missed on purpose
        assert log_files(args) == files


@pytest.mark.parametrize(("args", "files"), [
    (["logs", "--since", "big.log", "a.log"], ["a.log"]),
    (["logs", "--as-snapshot", "big.log", "a.log", "b.log"], ["a.log", "b.log"]),
    (["--root", "big.log", "logs", "a.log"], ["a.log"]),
    (["logs", "--sin", "big.log", "a.log", "--kind", "stall"], ["a.log"]),  # an abbreviation
    (["logs", "--since=big.log", "a.log"], ["a.log"]),
    (["logs", "--", "--since", "a.log"], ["--since", "a.log"]),
    (["show", "a.log"], []),
    (["logs", "--help", "a.log"], []),
    (["logs", "a.log", "--he"], []),
])
def test_log_files(args: list[str], files: list[str]) -> None:
    assert log_files(args) == files


def test_the_valued_options_are_those_of_the_parsers() -> None:
    """LOGS_VALUED and TOP_VALUED list exactly the options that take a value."""
    parser = build_parser("logs")

    def valued(p: argparse.ArgumentParser) -> set[str]:
        return {s for a in p._actions if a.nargs != 0 and a.option_strings for s in a.option_strings}

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert valued(sub.choices["logs"]) == set(LOGS_VALUED)
    assert valued(parser) == set(TOP_VALUED)


@pytest.fixture
def big(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "big.log"
    with path.open("wb") as f:
        f.write(b"Nov 26 07:00:00 h kernel: [ 1.0] eth0: up\n" * (PREFILTER_MIN_BYTES // 40 + 1))
    yield path
    prefilter.stop_early()


@pytest.mark.skipif(shutil.which("grep") is None, reason="no grep binary")
def test_a_big_file_given_as_an_options_value_is_not_searched(big: Path, tmp_path: Path) -> None:
    small = tmp_path / "small.log"
    small.write_bytes(b"x\n")
    for option in ("--since", "--until", "--as-snapshot", "--kernel", "--host"):
        start_early(["logs", option, str(big), str(small)])
        assert prefilter._EARLY == {}
    start_early(["--root", str(big), "logs", str(small)])
    assert prefilter._EARLY == {}
    for jobs in (["--jobs", "2"], ["--j", "2"], ["--job=2"], ["--jo", "1"]):
        start_early(["logs", *jobs, str(big)])
        assert prefilter._EARLY == {}, jobs
    start_early(["logs", "--since", "5", str(big)])
    assert [c[-1] for c in prefilter._EARLY] == [str(big)]


@pytest.mark.parametrize(("args", "asked"), [
    (["logs", "--jobs", "2", "a.log"], True), (["logs", "--j", "2"], True), (["logs", "--job=3"], True),
    (["logs", "a.log"], False), (["logs", "--", "a.log"], False), (["logs", "--json"], False),
    (["logs", "-j", "2"], False),
])
def test_asks_jobs(args: list[str], asked: bool) -> None:
    assert asks_jobs(args) is asked
