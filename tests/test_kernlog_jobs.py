"""`memstall logs --jobs N`: a file scanned in parts by N processes gives exactly what one scan gives."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_benchmark, run_cli
from memstall.analysis.log_summary import SummaryBuilder
from memstall.collect_log import ParallelScan, scan_log, splittable
from memstall.model.kernlog import AllocEvent
from memstall.parsers.kernlog import Item, LogScanner
from memstall.sources.kernlog import LogReader

KERNLOG = Path(__file__).parent / "fixtures" / "kernlog"
LOGS = sorted([*(KERNLOG / "corpus").glob("*.log"), *(KERNLOG / "heldback").glob("*.log"),
               *(KERNLOG / "wild").glob("*.log"), *(KERNLOG / "formats").glob("*.txt")])


def _serial(path: Path, defer_dumps: tuple[str, ...] = ()) -> tuple[list[Item], dict[str, int], int]:
    reader, sc = LogReader(str(path)), LogScanner(str(path), defer_dumps=defer_dumps)
    items = list(scan_log(reader, sc, prefilter=False))
    return items, dict(sc.skipped), sc.cut_lines + reader.truncated


def _parallel(path: Path, jobs: int, part_bytes: int,
              warm_bytes: int) -> tuple[ParallelScan, tuple[object, ...]]:
    ps = ParallelScan(str(path), str(path), jobs, part_bytes=part_bytes, warm_bytes=warm_bytes)
    items = list(ps)
    return ps, (items, dict(ps.skipped), ps.cut_lines)


def _small_parts(monkeypatch: pytest.MonkeyPatch, part_bytes: int, warm_bytes: int) -> None:
    """`memstall logs --jobs` cuts files into parts of `part_bytes`, warmed up over `warm_bytes`.
    (Setting collect_log.PART_BYTES would not do: ParallelScan's defaults are bound when the
    class is made.)"""
    monkeypatch.setattr("memstall.cli.logs.ParallelScan",
                        partial(ParallelScan, part_bytes=part_bytes, warm_bytes=warm_bytes))


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


@pytest.mark.parametrize("warm_bytes", [64 << 10, 0])
def test_deferred_dumps_are_deferred_in_the_parts_too(generated: Path, warm_bytes: int) -> None:
    """`memstall logs --format text --jobs N` leaves stall and failure dumps unparsed in the
    workers as in one process (and in a part scanned again)."""
    defer = ("stall", "failure")
    expected = _serial(generated, defer)
    assert any(isinstance(i, AllocEvent) and i.mem_info_text is not None for i in expected[0])
    ps = ParallelScan(str(generated), str(generated), 2, part_bytes=200_000, warm_bytes=warm_bytes,
                      defer_dumps=defer)
    items = list(ps)
    assert (items, dict(ps.skipped), ps.cut_lines) == (expected[0], expected[1], expected[2])
    assert ps.serial_parts or warm_bytes


def test_a_warm_up_too_short_falls_back_to_one_scan_from_where_states_differ(generated: Path) -> None:
    ps, got = _parallel(generated, 2, 100_000, 0)
    assert got == _serial(generated)
    assert ps.serial_parts


@pytest.mark.parametrize("fmt", ["jsonl", "json", "text"])
def test_cli_output_is_byte_identical_for_jobs_1_2_3(generated: Path, fmt: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _small_parts(monkeypatch, 150_000, 50_000)
    outs = {jobs: run_cli("logs", "--format", fmt, "--jobs", str(jobs), str(generated)) for jobs in (1, 2, 3)}
    assert outs[1].code == 0
    assert outs[1].out.count("\n") > 50
    assert outs[2] == outs[1]
    assert outs[3] == outs[1]


def test_corpus_cli_output_is_byte_identical_for_jobs_1_2_3(monkeypatch: pytest.MonkeyPatch) -> None:
    _small_parts(monkeypatch, 2_000, 1_000)
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


# --- the output is rendered in the workers: every option gives one process's bytes -----------

FILTERS: dict[str, list[str]] = {
    "kind": ["--kind", "oom"],
    "hosts": ["--host", "stor-08", "--host", "stor-03"],
    "since": ["--since", "3000000"],
    "until-kinds": ["--until", "2500000", "--kind", "stall", "--kind", "failure"],
    "host-range": ["--host", "stor-05", "--since", "2000000", "--until", "3600000"],
    "none-kept": ["--host", "no-such-host"],
    "kernel": ["--kernel", "3.10"],
    "kind-kernel": ["--kind", "failure", "--kernel", "4.9"],
}


FILTER_CASES = [pytest.param(options, fmt, warm, id=f"{name}-{fmt}-{'warm' if warm else 'rescan'}")
                for name, options in FILTERS.items()
                for fmt, warm in (("jsonl", 50_000), ("json", 50_000), ("text", 50_000), ("json", 0))]


@pytest.mark.parametrize(("options", "fmt", "warm_bytes"), FILTER_CASES)
def test_cli_output_with_filters_is_byte_identical_for_jobs_1_3(
        generated: Path, options: list[str], fmt: str, warm_bytes: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker filters and renders its part's events (`cli.logs._RenderPart`); the main
    process only joins the texts and the summaries. Without a warm-up every part but the
    first is scanned again in the main process, which renders it itself."""
    _small_parts(monkeypatch, 150_000, warm_bytes)
    one = run_cli("logs", "--format", fmt, *options, str(generated))
    assert one.code == 0
    assert run_cli("logs", "--format", fmt, "--jobs", "3", *options, str(generated)) == one


def test_the_filters_keep_some_events_and_drop_others(generated: Path) -> None:
    """The filters above are not vacuous: each keeps fewer events than none, and all but one
    keep some."""
    def count(*options: str) -> int:
        return run_cli("logs", "--format", "jsonl", *options, str(generated)).out.count("\n")

    every = count()
    kept = {name: count(*options) for name, options in FILTERS.items()}
    assert every > 100
    assert kept.pop("none-kept") == 0
    assert kept.pop("kernel") == every
    assert all(0 < n < every for n in kept.values()), kept


@pytest.mark.parametrize("options", [[], ["--kind", "oom"], ["--host", "nowhere"]],
                         ids=["all", "oom", "none"])
def test_several_files_with_filters_are_byte_identical_for_jobs_1_2(options: list[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The json events of a file's parts and of the next file join with one ",\\n" each, also
    where a part or a file keeps no event; standalone dumps come in file order."""
    _small_parts(monkeypatch, 2_000, 1_000)
    files = [str(p) for p in sorted((KERNLOG / "corpus").glob("*.log"))]
    for fmt in ("json", "text", "jsonl"):
        one = run_cli("logs", "--format", fmt, *options, *files)
        assert one.code == 0
        assert run_cli("logs", "--format", fmt, "--jobs", "2", *options, *files) == one, fmt


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("options", [[], ["--kind", "failure"]], ids=["all", "failure"])
def test_as_snapshot_writes_the_same_snapshot_with_jobs(generated: Path, options: list[str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The last Mem-Info (and the event around it) comes back from the worker of the last
    part that has one."""
    _small_parts(monkeypatch, 150_000, 50_000)
    runs = {}
    for jobs in (1, 2):
        target = tmp_path / f"snap{jobs}"
        res = run_cli("logs", "--format", "jsonl", "--jobs", str(jobs), *options, str(generated),
                      "--as-snapshot", str(target))
        runs[jobs] = (res.code, res.out, res.err.replace(str(target), "TARGET"), _tree(target))
    assert runs[1][0] == 0 and "MANIFEST.json" in runs[1][3]
    assert runs[2] == runs[1]


def _summary_facts(b: SummaryBuilder) -> tuple[object, ...]:
    return b.build(), b.dumps


def _fed(b: SummaryBuilder, items: Sequence[Item]) -> SummaryBuilder:
    for item in items:
        if isinstance(item, AllocEvent):
            b.add(item)
        else:
            b.add_dump()
    return b


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_summaries_of_parts_merge_into_the_summary_of_the_whole(data: st.DataObject) -> None:
    """`SummaryBuilder.merge`: the workers' summaries, merged part after part, give what one
    builder fed every item gives (first_seen keeps SummaryBuilder's `first or time`, which an
    empty time does not hold)."""
    pool = _corpus_items()
    picks = data.draw(st.lists(st.tuples(st.integers(0, len(pool) - 1),
                                         st.sampled_from([None, "", "t1", "t2", "keep"])), max_size=30))
    items = []
    for k, when in picks:
        item = pool[k]
        if isinstance(item, AllocEvent) and when != "keep":
            item = replace(item, time=when)
        items.append(item)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=4)))
    whole, merged = SummaryBuilder(), SummaryBuilder()
    for start, end in zip([0, *cuts], [*cuts, len(items)]):
        merged.merge(_fed(SummaryBuilder(), items[start:end]))
    _fed(whole, items)
    assert _summary_facts(merged) == _summary_facts(whole)


def test_an_empty_first_time_is_replaced_by_the_next_part_s() -> None:
    """The case above Hypothesis finds least often: a part whose only time is empty, then a
    part with a time (one builder keeps `"" or "t1"`)."""
    event = next(i for i in _corpus_items() if isinstance(i, AllocEvent))
    parts = [[replace(event, time=None)], [replace(event, time="")], [], [replace(event, time="t1")]]
    merged = SummaryBuilder()
    for items in parts:
        merged.merge(_fed(SummaryBuilder(), items))
    whole = _fed(SummaryBuilder(), [i for items in parts for i in items])
    assert _summary_facts(merged) == _summary_facts(whole)
    assert (merged.first, merged.last) == ("t1", "t1")


_POOL: list[Item] = []


def _corpus_items() -> list[Item]:
    """Events and standalone dumps of a few corpus logs (read once)."""
    if not _POOL:
        for path in sorted((KERNLOG / "corpus").glob("*.log"))[:12]:
            _POOL.extend(_serial(path)[0])
    return _POOL
