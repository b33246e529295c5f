"""The grep prefilter of `memstall logs` gives exactly what reading every line gives."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from memstall.collect_log import scan_log
from memstall.model.kernlog import AllocEvent
from memstall.parsers.kernlog import LogScanner, scan_lines
from memstall.parsers.kernlog.scanner import (
    HELD_BYTES,
    HELD_LINES,
    HELD_SPAN_BYTES,
    PREFILTER_WORDS,
    holdable,
)
from memstall.sources.kernlog import PREFILTER_MIN_BYTES, LogReader, prefilter_command

KERNLOG = Path(__file__).parent / "fixtures" / "kernlog"
LOGS = sorted([*(KERNLOG / "corpus").glob("*.log"), *(KERNLOG / "formats").glob("*.txt"),
               *(KERNLOG / "noise").glob("*.txt")])
NOISE = (KERNLOG / "noise" / "boot-and-memory-messages.txt").read_bytes()
EVERY_LOG = sorted(p for p in KERNLOG.rglob("*") if p.suffix in (".log", ".txt"))
"""Every log under tests/fixtures/kernlog: corpus, formats, noise, held-back and wild."""

pytestmark = pytest.mark.skipif(shutil.which("grep") is None, reason="no grep binary")


def _run(path: Path, prefilter: bool, dense_lines: int | None = None) -> tuple[object, ...]:
    reader, sc = LogReader(str(path)), LogScanner("x")
    if dense_lines is None:
        items = list(scan_log(reader, sc, prefilter))
    else:  # the prefilter gives up on dense input after `dense_lines` lines
        items = []
        for gap, block in reader.sparse_blocks(PREFILTER_WORDS, lambda: sc.busy, dense_lines,
                                               hold=holdable, hold_lines=HELD_LINES,
                                               hold_span_bytes=HELD_SPAN_BYTES):
            sc.skip_idle(gap)
            items += sc.feed_block(block)
        items += sc.finish()
    return items, dict(sc.skipped), sc._no, sc.cut_lines + reader.truncated


def _mixed(rng: random.Random) -> bytes:
    """Corpus reports, noise, CRLF, quoted-printable and comm-alone lines, other hosts' lines."""
    parts = []
    for log in rng.sample(LOGS, 12):
        lines = log.read_bytes().split(b"\n")
        if rng.random() < 0.3:
            lines = [ln + b"\r" for ln in lines]
        for ln in lines:
            parts.append(ln)
            if rng.random() < 0.1:
                parts.append(b"Aug 11 16:51:0%d other-%d kernel: [ 1.0] eth0: link up:" % (rng.randrange(10),
                                                                                         rng.randrange(3)))
        parts += NOISE.split(b"\n")[: rng.randrange(200)]
        parts.append(b"x" * rng.randrange(58, 80) + b"=")  # a soft break, or not
        parts += [b"rsync: ", b"", b"\x00\xff junk"]
    return b"\n".join(parts) + (b"" if rng.random() < 0.5 else b"\n")


@pytest.mark.parametrize("path", EVERY_LOG, ids=[str(p.relative_to(KERNLOG)) for p in EVERY_LOG])
def test_grep_path_equals_block_path_on_every_fixture(path: Path, tmp_path: Path) -> None:
    data = NOISE + path.read_bytes() + NOISE + path.read_bytes()
    log = tmp_path / "x.log"
    log.write_bytes(data)
    fast = _run(log, True)
    assert fast == _run(log, False)
    assert fast[0] == list(scan_lines(data.split(b"\n"), "x"))


@pytest.mark.parametrize("seed", range(6))
def test_grep_path_equals_block_path_on_mixed_logs(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    data = _mixed(rng)
    log = tmp_path / "mixed.log"
    log.write_bytes(data)
    fast = _run(log, True)
    assert fast == _run(log, False)
    # The reader drops NUL bytes (a crashed host's padding) before the scanner sees a line.
    assert fast[0] == list(scan_lines(data.replace(b"\0", b"").split(b"\n"), "x"))
    assert fast[0], "the mixed log has reports"
    # dense input: the prefilter hands over to block reading part-way, same result
    assert _run(log, True, dense_lines=rng.randrange(50, 500)) == fast


# Report kinds a sparse syslog may hold, beside the corpus's reports: OOM ends without their
# beginning (select + kill lines, global and memcg), a lone kill line (its report rate-limited
# away: not a report), and a header whose comm KERN_CONT printed on the line before.
_HEADERLESS = (
    b"Out of memory: Kill process 4321 (java) score 950 or sacrifice child\n"
    b"Killed process 4321 (java) total-vm:8123456kB, anon-rss:6012344kB, file-rss:1024kB\n",
    b"Memory cgroup out of memory: Kill process 77 (stress) score 1000 or sacrifice child\n"
    b"Killed process 77 (stress) total-vm:1050000kB, anon-rss:1048000kB, file-rss:0kB\n",
    b"Out of memory: Killed process 31769 (chromium) total-vm:3512344kB, anon-rss:1201404kB, "
    b"file-rss:0kB, shmem-rss:7968kB, UID:1000 pgtables:4024kB oom_score_adj:300\n",
    b"rsync: \n"
    b"page allocation stalls for 10004ms, order:0, mode:0x24201ca(GFP_HIGHUSER_MOVABLE|__GFP_COLD)\n",
)


def _sparse(rng: random.Random) -> bytes:
    """A sparse syslog: a few MB of background (fleet daemon lines and the noise file, with
    prefilter-passing lines that open nothing) with every corpus report, a SysRq Mem-Info
    without a header (corpus 003, 040) and the header-less pieces above embedded far apart."""
    background = [b"%s stor-%02d systemd[1]: Started Session %d of user u%d." % (
        b"Nov 26 07:00:%02d" % (n % 60), n % 8, n, n % 5) for n in range(400)]
    background += [*NOISE.split(b"\n"), b"Nov 26 07:01:00 stor-03 kernel: [ 9.0] eth0: link up:",
                   b"Nov 26 07:01:00 stor-04 kernel: [ 9.1] Call Trace:"]
    pieces = [p.read_bytes() for p in sorted((KERNLOG / "corpus").glob("*.log"))] + list(_HEADERLESS) * 2
    rng.shuffle(pieces)
    out = []
    for piece in pieces:
        out += rng.sample(background, rng.randrange(50, len(background)))
        out.append(piece.rstrip(b"\n"))
    out += background
    return b"\n".join(out) + b"\n"


@pytest.mark.parametrize("seed", range(3))
def test_grep_path_equals_block_path_on_sparse_logs_with_every_report_kind(seed: int, tmp_path: Path) -> None:
    data = _sparse(random.Random(seed))
    log = tmp_path / "sparse.log"
    log.write_bytes(data)
    fast = _run(log, True)
    assert fast == _run(log, False)
    assert fast[0] == list(scan_lines(data.split(b"\n"), "x"))
    items = fast[0]
    events = [i for i in items if isinstance(i, AllocEvent)]
    assert {e.kind for e in events} == {"stall", "failure", "oom"}
    ends = [e for e in events if e.oom is not None and not e.oom.has_begin]
    assert len(ends) >= 2 * 2  # the two select + kill pairs, twice; the lone kill lines are not reports
    assert any(not isinstance(i, AllocEvent) for i in items)  # standalone Mem-Info (SysRq)
    assert any(e.comm == "rsync" for e in events)  # the KERN_CONT-split header


def test_long_lines_are_cut_where_they_are_read(tmp_path: Path) -> None:
    seed = (KERNLOG / "corpus" / "000-seed-cold-storage-4.9.log").read_bytes()
    log = tmp_path / "long.log"
    log.write_bytes(b"A" * (1 << 18) + b"\n" + b"B" * (1 << 18) + b" page allocation\n" + seed
                    + b"C" * (1 << 18))
    items, skipped, lines, cut = _run(log, True)
    assert (items, skipped, lines) == _run(log, False)[:3]
    assert len(items) == 1 and lines == seed.count(b"\n") + 3
    assert cut == 3  # B and C by the reader, B again by the scanner; A is never read


PROGRAMS = [p for p in (shutil.which("rg"), shutil.which("grep")) if p]


def _search_lines(program: str, lines: list[bytes], tmp_path: Path) -> set[int]:
    log = tmp_path / "lines.log"
    log.write_bytes(b"".join(ln + b"\n" for ln in lines))
    out = subprocess.run(prefilter_command(PREFILTER_WORDS, str(log), program), capture_output=True,
                         env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}, check=False).stdout
    return {int(row.split(b":", 1)[0]) for row in out.split(b"\n") if row}


_PIECES = st.sampled_from([*PREFILTER_WORDS, b"page", b" allo", b"Mem", b"-", b":", b"=", b" ", b"\r",
                           b"PID", b"free", b"\x00", b"\xff", b"a", b"$", b"|", b"(", b".", b"\\", b"*"])


@pytest.mark.parametrize("program", PROGRAMS)
@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.lists(_PIECES, max_size=6).map(b"".join).map(lambda b: b.replace(b"\n", b"")),
                      min_size=1, max_size=40))
def test_prefilter_finds_exactly_the_block_triggers(program: str, lines: list[bytes]) -> None:
    """ripgrep and GNU grep, each as prefilter_command runs it: the lines holding a trigger."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        hits = _search_lines(program, lines, Path(tmp))
    expected = {i for i, ln in enumerate(lines, 1) if any(t in ln for t in PREFILTER_WORDS)}
    assert hits == expected


def test_the_reader_holds_what_the_scanner_holds() -> None:
    assert holdable(b"rsync: ") and holdable(b"rsync:") and holdable(b"x" * 70 + b"=\r")
    assert not holdable(b"x" * (HELD_BYTES - 1) + b"= ") and not holdable(b"y" * HELD_BYTES + b":")


def _big_log(tmp_path: Path) -> Path:
    reports = b"".join(p.read_bytes() for p in sorted((KERNLOG / "corpus").glob("*.log"))[:8])
    chunks = [NOISE] * (PREFILTER_MIN_BYTES // len(NOISE) + 1)
    chunks[len(chunks) // 3] += reports
    chunks[-2] += reports
    log = tmp_path / "big.log"
    log.write_bytes(b"".join(chunks))
    return log


def test_cli_on_a_big_plain_file_equals_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    log = _big_log(tmp_path)
    reader = LogReader(str(log))
    assert reader.prefilterable() and not LogReader("-").prefilterable()
    reader.close()
    fast = run_cli("logs", "--format", "json", str(log))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(log.read_bytes())))
    slow = run_cli("logs", "--format", "json", "-")
    assert fast.code == slow.code == 0
    assert json.loads(fast.out)["events"]
    assert fast.out == slow.out.replace('"<stdin>"', json.dumps(str(log)))


def test_without_grep_the_python_path_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _big_log(tmp_path)
    fast = run_cli("logs", "--format", "jsonl", str(log))
    monkeypatch.setenv("PATH", str(tmp_path))  # no grep on PATH
    reader = LogReader(str(log))
    assert not reader.prefilterable()
    reader.close()
    slow = run_cli("logs", "--format", "jsonl", str(log))
    assert fast.out == slow.out and fast.out.count("\n") > 2


@pytest.mark.parametrize("data", [b"", b"x", b"\n\n", b"abc:", b"rsync:\n", b"a\r\nb=\r\n",
                                  b"kernel: page allocation", b"\x00" * 100 + b"\nMem-Info:",
                                  b"y" * 70 + b"=\n" + b"z" * 10])
def test_grep_path_on_edge_inputs(data: bytes, tmp_path: Path) -> None:
    log = tmp_path / "edge.log"
    log.write_bytes(data)
    assert _run(log, True) == _run(log, False)


def test_a_log_that_grows_during_the_scan_is_read_to_its_end(tmp_path: Path) -> None:
    seed = (KERNLOG / "corpus" / "000-seed-cold-storage-4.9.log").read_bytes()
    log = tmp_path / "live.log"
    log.write_bytes(NOISE + seed + b"filler line\n" * 8000)
    reader, sc = LogReader(str(log)), LogScanner("x")
    appended = []

    def busy() -> bool:
        if not appended and not sc.busy:  # a second report arrives after the first was read
            appended.append(True)
            time.sleep(0.3)  # grep is done with the 100 KB file by now
            with log.open("ab") as f:
                f.write(NOISE + seed)
        return sc.busy

    items = []
    for gap, block in reader.sparse_blocks(PREFILTER_WORDS, busy, hold=holdable, hold_lines=HELD_LINES,
                                               hold_span_bytes=HELD_SPAN_BYTES):
        sc.skip_idle(gap)
        items += sc.feed_block(block)
    items += sc.finish()
    expected = _run(log, False)
    events = [i for i in items if isinstance(i, AllocEvent)]
    stalls = [e for e in events if e.kind == "stall"]  # the noise adds its two lone OOM kills
    assert appended and len(stalls) == 2 and (items, dict(sc.skipped), sc._no) == expected[:3]


@pytest.mark.parametrize("script", ["exit 2", "echo 'grep: unrecognized option' >&2; exit 2",
                                    "kill -9 $$", "yes 'x:y:z' | head -c 2000000"])
def test_a_failing_grep_falls_back_to_reading_every_block(script: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A grep without GNU options (BusyBox) or one that dies: the result is still complete."""
    log = tmp_path / "x.log"
    log.write_bytes(NOISE + (KERNLOG / "corpus" / "000-seed-cold-storage-4.9.log").read_bytes() + NOISE)
    expected = _run(log, False)
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("grep", "rg"):  # whichever the reader picks
        (fake / name).write_text(f"#!/bin/sh\n{script}\n")
        (fake / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    assert shutil.which("grep") == str(fake / "grep") and shutil.which("rg") == str(fake / "rg")
    assert _run(log, True) == expected and expected[0]


def test_the_scanners_triggers_are_the_prefilters_words() -> None:
    from memstall.sources.prefilter import TRIGGER_WORDS

    assert PREFILTER_WORDS == TRIGGER_WORDS


def test_the_cli_starts_the_search_before_its_imports_and_takes_it(tmp_path: Path) -> None:
    """`memstall logs BIG` starts the prefilter before importing the command and the reader
    takes that very process: the output is the same, and no search is left running."""
    import sys

    log = _big_log(tmp_path)
    script = (
        "import sys\n"
        "from memstall.sources import prefilter\n"
        "started, taken = [], []\n"
        "real_start, real_take = prefilter.start, prefilter.take_early\n"
        "prefilter.start = lambda c: started.append(c) or real_start(c)\n"
        "from memstall.sources import kernlog\n"
        "kernlog.take_early = lambda c: taken.append(real_take(c)) or taken[-1]\n"
        "from memstall.cli import main\n"
        "code = main(['logs', '--format', 'jsonl', '--kind', 'stall', sys.argv[1]])\n"
        "print(len(started), sum(t is not None for t in taken), len(prefilter._EARLY), code,"
        " file=sys.stderr)\n")
    run = subprocess.run([sys.executable, "-c", script, str(log)], capture_output=True, text=True,
                         check=True, timeout=120)
    assert run.stderr.split() == ["1", "1", "0", "0"]
    plain = run_cli("logs", "--format", "jsonl", "--kind", "stall", str(log))
    assert run.stdout == plain.out and plain.out.count("\n") >= 2


@pytest.mark.parametrize("block_bytes", [1, 90, 700, 5000])
def test_held_lines_carry_across_blocks(block_bytes: int) -> None:
    """A comm printed alone at the end of one block, its header at the start of the next:
    feed_block in blocks of whole lines gives what feeding each line gives (and the held
    lines are fed: the KERN_CONT-split header gets its comm)."""
    data = _sparse(random.Random(7))
    sc, items, pos = LogScanner("x"), [], 0
    while pos < len(data):
        cut = data.find(b"\n", pos + block_bytes)
        cut = len(data) if cut < 0 else cut + 1
        items += sc.feed_block(data[pos:cut])
        pos = cut
    items += sc.finish()
    reference = LogScanner("x")
    expected = [i for ln in data.split(b"\n")[:-1] for i in reference.feed(ln)] + reference.finish()
    assert items == expected
    # feed_block counts every skipped idle line as outside a report (blank ones too)
    assert sum(sc.skipped.values()) == sum(reference.skipped.values())
    assert any(isinstance(i, AllocEvent) and i.comm == "rsync" for i in items)
    assert holdable(b"rsync: ") and HELD_LINES >= 1
