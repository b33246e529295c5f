"""Micro-benchmark of `parse_mem_info`: every Mem-Info dump of a log, parsed in process.

The dumps' arguments (lines, source, line number, complete) are captured once by scanning
the log; then each parser named on the command line parses all of them, best of `--repeat`,
old and new in the same minute. Prints microseconds per dump, and checks that every parser
returns the same MemInfoDump as the first one.

    python benchmarks/meminfo_parse.py /var/tmp/lb/memstall-bench-*/reports-only.log
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from memstall.parsers.kernlog import meminfo, report, scanner

Args = tuple[Sequence[str], str, int, bool]


def capture(path: Path) -> list[Args]:
    """The arguments of every parse_mem_info call while the log is scanned."""
    calls: list[Args] = []
    names = vars(report)  # report imports parse_mem_info by name: replace it there
    real = names["parse_mem_info"]

    def record(lines: Sequence[str], source: str, line_no: int, complete: bool) -> Any:
        calls.append((list(lines), source, line_no, complete))
        return real(lines, source, line_no, complete)

    names["parse_mem_info"] = record
    try:
        with path.open("rb") as f:
            for _ in scanner.scan_lines(f, str(path)):
                pass
    finally:
        names["parse_mem_info"] = real
    return calls


def best_of(parse: Callable[..., Any], calls: list[Args], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for lines, source, line_no, complete in calls:
            parse(lines, source, line_no, complete)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--parsers", default="reference_parse_mem_info,parse_mem_info",
                    help="names in memstall.parsers.kernlog.meminfo, comma-separated")
    ns = ap.parse_args()
    calls = capture(ns.log)
    lines = sum(len(c[0]) for c in calls)
    print(f"{len(calls)} dumps, {lines / max(len(calls), 1):.1f} lines each")
    parsers = [(name, getattr(meminfo, name)) for name in ns.parsers.split(",")]
    first = [parsers[0][1](*c) for c in calls]
    for name, parse in parsers[1:]:
        same = sum(parse(*c) == r for c, r in zip(calls, first))
        print(f"{name}: {same}/{len(calls)} dumps equal to {parsers[0][0]}'s")
    for name, parse in parsers:
        s = best_of(parse, calls, ns.repeat)
        print(f"{name:28} {s * 1e6 / len(calls):8.1f} us per dump ({s:.3f} s, best of {ns.repeat})")


if __name__ == "__main__":
    main()
