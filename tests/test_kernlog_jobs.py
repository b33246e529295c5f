"""`memstall logs --jobs N`: a file scanned in parts by N processes gives exactly what one scan gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from conftest import load_benchmark, run_cli
from memstall.collect_log import ParallelScan, scan_log, splittable
from memstall.parsers.kernlog import Item, LogScanner
from memstall.sources.kernlog import LogReader

KERNLOG = Path(__file__).parent / "fixtures" / "kernlog"
LOGS = sorted([*(KERNLOG / "corpus").glob("*.log"), *(KERNLOG / "heldback").glob("*.log"),
               *(KERNLOG / "wild").glob("*.log"), *(KERNLOG / "formats").glob("*.txt")])


def _serial(path: Path) -> tuple[list[Item], dict[str, int], int]:
    reader, sc = LogReader(str(path)), LogScanner(str(path))
    items = list(scan_log(reader, sc, prefilter=False))
    return items, dict(sc.skipped), sc.cut_lines + reader.truncated


def _parallel(path: Path, jobs: int, part_bytes: int,
              warm_bytes: int) -> tuple[ParallelScan, tuple[object, ...]]:
    ps = ParallelScan(str(path), str(path), jobs, part_bytes=part_bytes, warm_bytes=warm_bytes)
    items = list(ps)
    return ps, (items, dict(ps.skipped), ps.cut_lines)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Corpus reports back to back and in a fleet syslog (8 hosts, other hosts' lines between
    a report's lines), a missing final newline, a NUL run and an over-long line."""
    gen = load_benchmark("syslog_gen")
    reports = gen.load_reports(KERNLOG / "corpus")
    path = tmp_path_factory.mktemp("jobs") / "mixed.log"
    with path.open("wb") as f:
        gen.write_reports_only(f, 600_000, reports, seed=5)
        gen.write_sparse(f, 400_000, reports, 12, seed=6, interleave=0.3)
        f.write(b"\0" * 300 + b"Nov 26 04:00:00 stor-01 kernel: [1.0] " + b"y" * 70_000 + b"\n")
        gen.write_reports_only(f, 300_000, reports, seed=7)
        f.write(b"Nov 26 04:00:00 stor-02 kernel: [2.0] rsync: ")
    return path


@pytest.fixture(scope="module")
def back_to_back(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gen = load_benchmark("syslog_gen")
    path = tmp_path_factory.mktemp("jobs") / "reports.log"
    with path.open("wb") as f:
        gen.write_reports_only(f, 1_200_000, gen.load_reports(KERNLOG / "corpus"), seed=8)
    return path


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_every_fixture_split_anywhere_gives_the_same_items(path: Path) -> None:
    expected = _serial(path)
    for jobs, part_bytes, warm_bytes in ((2, 1 << 20, 1 << 20), (3, 700, 400), (2, 300, 0)):
        _, got = _parallel(path, jobs, part_bytes, warm_bytes)
        assert got == expected, (jobs, part_bytes, warm_bytes)


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_generated_log_gives_the_same_items(generated: Path, jobs: int) -> None:
    expected = _serial(generated)
    assert len(expected[0]) > 100
    _, got = _parallel(generated, jobs, 200_000, 64 << 10)
    assert got == expected


@pytest.mark.parametrize("jobs", [2, 3])
def test_reports_back_to_back_are_scanned_in_parts(back_to_back: Path, jobs: int) -> None:
    """The warm-up rebuilds the state at every part's start (the corpus's quoted-printable
    excerpt, which makes the rest of a log quoted-printable, recurs within it)."""
    expected = _serial(back_to_back)
    ps, got = _parallel(back_to_back, jobs, 150_000, 256 << 10)
    assert got == expected
    assert ps.serial_parts == []


@pytest.mark.parametrize("jobs", [2, 3])
def test_the_parts_are_a_multiple_of_the_jobs(back_to_back: Path, jobs: int) -> None:
    """Each process gets as many parts: 3 parts on 2 processes left one idle for the last
    third of the file (the 16 MB benchmark log was cut into 3 parts of 8 MiB)."""
    size = back_to_back.stat().st_size
    for part_bytes in (size // 2, size // 2 - 1, size // 3, size // 5 + 1, size, 2 * size):
        ps = ParallelScan(str(back_to_back), "x", jobs, part_bytes=part_bytes)
        parts = ps._parts()
        assert len(parts) % jobs == 0, part_bytes
        assert len(parts) >= -(-size // part_bytes), part_bytes


def test_a_warm_up_too_short_falls_back_to_one_scan_from_where_states_differ(generated: Path) -> None:
    ps, got = _parallel(generated, 2, 100_000, 0)
    assert got == _serial(generated)
    assert ps.serial_parts


@pytest.mark.parametrize("fmt", ["jsonl", "json", "text"])
def test_cli_output_is_byte_identical_for_jobs_1_2_3(generated: Path, fmt: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("memstall.collect_log.PART_BYTES", 150_000)
    monkeypatch.setattr("memstall.collect_log.WARM_BYTES", 50_000)
    outs = {jobs: run_cli("logs", "--format", fmt, "--jobs", str(jobs), str(generated)) for jobs in (1, 2, 3)}
    assert outs[1].code == 0
    assert outs[1].out.count("\n") > 50
    assert outs[2] == outs[1]
    assert outs[3] == outs[1]


def test_corpus_cli_output_is_byte_identical_for_jobs_1_2_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("memstall.collect_log.PART_BYTES", 2_000)
    monkeypatch.setattr("memstall.collect_log.WARM_BYTES", 1_000)
    files = [str(p) for p in sorted((KERNLOG / "corpus").glob("*.log"))]
    outs = [run_cli("logs", "--format", "json", "--jobs", str(jobs), *files) for jobs in (1, 2, 3)]
    assert outs[0].code == 0
    assert outs[1] == outs[0]
    assert outs[2] == outs[0]


def test_compressed_input_and_stdin_are_scanned_in_one_process(tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress((KERNLOG / "corpus" / LOGS[0].name).read_bytes()
                                 if (KERNLOG / "corpus" / LOGS[0].name).exists() else b"x\n"))
    assert not splittable(str(gz))
    assert not splittable("-")
    assert not splittable(str(tmp_path))
    assert splittable(str(LOGS[0]))
    assert run_cli("logs", "--jobs", "2", str(gz)) == run_cli("logs", str(gz))


@pytest.mark.parametrize("bad", ["0", "-1", "x", "257", "٣"])
def test_jobs_must_be_a_small_positive_number(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli("logs", "--jobs", bad, str(LOGS[0]))
    err = res.err + capsys.readouterr().err  # argparse writes its usage errors to sys.stderr
    assert res.code == 2
    assert "argument --jobs: expected a number of processes from 1 to 256" in err
    assert "Traceback" not in err


def test_random_split_points(generated: Path) -> None:
    expected = _serial(generated)
    rng = random.Random(11)
    for _ in range(3):
        _, got = _parallel(generated, rng.choice([2, 3]), rng.randrange(20_000, 400_000),
                           rng.choice([0, 5_000, 100_000]))
        assert got == expected
