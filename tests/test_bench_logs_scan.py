"""The synthetic syslog generator of benchmarks/logs_scan.py (the benchmark itself is not a test)."""

from __future__ import annotations

import io
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, load_benchmark

BENCH = Path(__file__).parent.parent / "benchmarks"
CORPUS = FIXTURES / "kernlog" / "corpus"  # the repo's copy: a clean clone has it
SYSLOG = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d stor-\d\d \S")


gen = load_benchmark("syslog_gen")


@pytest.mark.parametrize(("line", "text"), [
    ("Mar 16 10:04:09 host kernel: [12345.678901] DOM Worker: page allocation stalls for 10ms",
     "DOM Worker: page allocation stalls for 10ms"),
    ("2017-01-31T03:59:09.925355+01:00 host kernel: [  2.5] Mem-Info:", "Mem-Info:"),
    ("[Tue Aug 15 11:53:27 2017] swapper/0: page allocation failure: order:0,",
     "swapper/0: page allocation failure: order:0,"),
    ("[  +0.002367] CPU: 0 PID: 1 Comm: init", "CPU: 0 PID: 1 Comm: init"),
    ("[    5.123456] Node 0 DMA: 1*4kB (U) = 4kB", "Node 0 DMA: 1*4kB (U) = 4kB"),
    ("kernel: Out of memory", "Out of memory"),
    ("28-159 kernel: [4395803.602414] python: page allocation stalls",
     "python: page allocation stalls"),
    ("Call Trace:", "Call Trace:"),
])
def test_unwrap_strips_every_wrapper(line: str, text: str) -> None:
    assert gen.unwrap_line(line) == text


def test_unwrap_drops_user_space_lines() -> None:
    assert gen.unwrap_line("Sep 10 20:51:02 host earlyoom[845]: mem avail: 0 of 7881 MiB") is None


def test_background_never_matches_the_grep_pattern() -> None:
    pool = gen.background_pool(random.Random(1), size=3000)
    pattern = re.compile(r"page allocation|oom-killer")
    assert not [t for _, t in pool if pattern.search(t)]
    assert {k for k, _ in pool} == {True, False}


def test_sparse_log_has_the_reports_and_only_syslog_lines() -> None:
    reports = gen.load_reports(CORPUS)
    out = io.BytesIO()
    events = gen.write_sparse(out, 2_000_000, reports, 10, seed=5)
    lines = out.getvalue().decode().splitlines()
    assert len(out.getvalue()) >= 2_000_000
    assert all(SYSLOG.match(x) for x in lines)
    assert events == sum(r.events for r in reports[:10])
    inserted = sum(1 for r in reports[:10] for t in r.lines if re.search("page allocation|oom-killer", t))
    assert sum(1 for x in lines if re.search("page allocation|oom-killer", x)) == inserted
    assert len({x.split()[3] for x in lines}) == len(gen.HOSTS)
    stamps = [x[:15] for x in lines]
    assert stamps == sorted(stamps)  # one day: the fixed-width stamp sorts in time order


def test_interleaved_reports_keep_their_own_lines_in_order() -> None:
    reports = gen.load_reports(CORPUS)
    plain, mixed = io.BytesIO(), io.BytesIO()
    gen.write_sparse(plain, 500_000, reports, 3, seed=9)
    gen.write_sparse(mixed, 500_000, reports, 3, seed=9, interleave=0.5)
    def report_texts(data: bytes) -> list[str]:
        wanted = {t for r in reports[:3] for t in r.lines}
        return [x.split("] ", 1)[1] for x in data.decode().splitlines()
                if " kernel: [" in x and x.split("] ", 1)[1] in wanted]
    assert report_texts(mixed.getvalue()) == report_texts(plain.getvalue())
    assert _foreign_inside_first_report(plain.getvalue(), reports[0]) == 0
    assert _foreign_inside_first_report(mixed.getvalue(), reports[0]) > 0


def _foreign_inside_first_report(data: bytes, report: object) -> int:
    """Lines of other hosts between the first and the last line of the first inserted report."""
    lines = data.decode().splitlines()
    first_text, last_text = report.lines[0], report.lines[-1]  # type: ignore[attr-defined]
    start = next(i for i, x in enumerate(lines) if x.endswith("] " + first_text))
    host = lines[start].split()[3]
    end = next(i for i in range(start, len(lines)) if lines[i].endswith("] " + last_text))
    return sum(1 for x in lines[start:end] if x.split()[3] != host)


def test_reports_only_log_and_uptimes_per_host_increase() -> None:
    reports = gen.load_reports(CORPUS)
    out = io.BytesIO()
    events = gen.write_reports_only(out, 300_000, reports, seed=5)
    lines = out.getvalue().decode().splitlines()
    assert events >= sum(r.events for r in reports)  # every excerpt at least once
    last: dict[str, float] = {}
    for x in lines:
        m = re.match(r"^.{15} (\S+) kernel: \[\s*(\d+\.\d+)\] ", x)
        assert m, x
        host, up = m.group(1), float(m.group(2))
        assert up >= last.get(host, 0.0)
        last[host] = up


def test_build_only_cli_writes_under_the_workdir_and_cleans_up(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(BENCH / "logs_scan.py"), "--size-gb", "0.002", "--reports", "3",
                        "--reports-mb", "0.2", "--build-only", "--workdir", str(tmp_path),
                        "--corpus", str(CORPUS)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert "reports-only.log" in r.stdout
    assert list(tmp_path.iterdir()) == []  # without --keep nothing is left behind
