"""The prefilter of `memstall logs` (rg or grep -F) gives exactly what reading every line gives."""

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
from memstall.parsers.kernlog.scanner import _BLOCK_TRIGGERS, PREFILTER_WORDS
from memstall.sources.kernlog import PREFILTER_MIN_BYTES, LogReader, Prefilter, find_prefilter

KERNLOG = Path(__file__).parent / "fixtures" / "kernlog"
LOGS = sorted([*(KERNLOG / "corpus").glob("*.log"), *(KERNLOG / "formats").glob("*.txt"),
               *(KERNLOG / "noise").glob("*.txt")])
NOISE = (KERNLOG / "noise" / "boot-and-memory-messages.txt").read_bytes()
EVERY_LOG = sorted(p for p in KERNLOG.rglob("*") if p.suffix in (".log", ".txt"))
"""Every log under tests/fixtures/kernlog: corpus, formats, noise, held-back and wild."""

pytestmark = pytest.mark.skipif(shutil.which("grep") is None, reason="no grep binary")
GREP = Prefilter(shutil.which("grep") or "grep", "grep")
RG = Prefilter(shutil.which("rg") or "rg", "rg")
PROGRAMS = [GREP, pytest.param(RG, marks=pytest.mark.skipif(shutil.which("rg") is None, reason="no rg"))]
"""Both prefilter programs, each forced by its path (ripgrep: Debian's `ripgrep`)."""


def _run(path: Path, prefilter: bool, dense_lines: int | None = None,
         program: Prefilter | None = None) -> tuple[object, ...]:
    reader, sc = LogReader(str(path)), LogScanner("x")
    if dense_lines is None:
        items = list(scan_log(reader, sc, prefilter, program))
    else:  # the prefilter gives up on dense input after `dense_lines` lines
        items = []
        for gap, block in reader.sparse_blocks(PREFILTER_WORDS, lambda: sc.busy, dense_lines, program):
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


@pytest.mark.parametrize("program", PROGRAMS, ids=["grep", "rg"])
@pytest.mark.parametrize("path", EVERY_LOG, ids=[str(p.relative_to(KERNLOG)) for p in EVERY_LOG])
def test_grep_path_equals_block_path_on_every_fixture(path: Path, program: Prefilter, tmp_path: Path) -> None:
    data = NOISE + path.read_bytes() + NOISE + path.read_bytes()
    log = tmp_path / "x.log"
    log.write_bytes(data)
    fast = _run(log, True, program=program)
    assert fast == _run(log, False)
    assert fast[0] == list(scan_lines(data.split(b"\n"), "x"))


@pytest.mark.parametrize("program", PROGRAMS, ids=["grep", "rg"])
@pytest.mark.parametrize("seed", range(6))
def test_grep_path_equals_block_path_on_mixed_logs(seed: int, program: Prefilter, tmp_path: Path) -> None:
    rng = random.Random(seed)
    data = _mixed(rng)
    log = tmp_path / "mixed.log"
    log.write_bytes(data)
    fast = _run(log, True, program=program)
    assert fast == _run(log, False)
    # The reader drops NUL bytes (a crashed host's padding) before the scanner sees a line.
    assert fast[0] == list(scan_lines(data.replace(b"\0", b"").split(b"\n"), "x"))
    assert fast[0], "the mixed log has reports"
    # dense input: the prefilter hands over to block reading part-way, same result
    assert _run(log, True, dense_lines=rng.randrange(50, 500), program=program) == fast


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


@pytest.mark.parametrize("program", PROGRAMS, ids=["grep", "rg"])
@pytest.mark.parametrize("seed", range(3))
def test_grep_path_equals_block_path_on_sparse_logs_with_every_report_kind(seed: int, program: Prefilter,
                                                                           tmp_path: Path) -> None:
    data = _sparse(random.Random(seed))
    log = tmp_path / "sparse.log"
    log.write_bytes(data)
    fast = _run(log, True, program=program)
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


def _grep_lines(lines: list[bytes], tmp_path: Path, program: Prefilter) -> set[int]:
    log = tmp_path / "lines.log"
    log.write_bytes(b"".join(ln + b"\n" for ln in lines))
    out = subprocess.run(program.command(PREFILTER_WORDS, str(log)), capture_output=True,
                         env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}, check=False).stdout
    return {int(row.split(b":", 1)[0]) for row in out.split(b"\n") if row}


_PIECES = st.sampled_from([*_BLOCK_TRIGGERS, b"page", b" allo", b"Mem", b"-", b":", b"=", b" ", b"\r",
                           b"PID", b"free", b"\x00", b"\xff", b"a", b"$", b"|", b"(", b"."])


@pytest.mark.parametrize("program", PROGRAMS, ids=["grep", "rg"])
@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.lists(_PIECES, max_size=6).map(b"".join).map(lambda b: b.replace(b"\n", b"")),
                      min_size=1, max_size=40))
def test_prefilter_lists_exactly_the_lines_with_a_trigger(program: Prefilter, lines: list[bytes]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        hits = _grep_lines(lines, Path(tmp), program)
    expected = {i for i, ln in enumerate(lines, 1) if any(t in ln for t in _BLOCK_TRIGGERS)}
    assert hits == expected


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
    for gap, block in reader.sparse_blocks(PREFILTER_WORDS, busy):
        sc.skip_idle(gap)
        items += sc.feed_block(block)
    items += sc.finish()
    expected = _run(log, False)
    events = [i for i in items if isinstance(i, AllocEvent)]
    stalls = [e for e in events if e.kind == "stall"]  # the noise adds its two lone OOM kills
    assert appended and len(stalls) == 2 and (items, dict(sc.skipped), sc._no) == expected[:3]


@pytest.mark.parametrize("kind", ["grep", "rg"])
@pytest.mark.parametrize("script", ["exit 2", "echo 'grep: unrecognized option' >&2; exit 2",
                                    "kill -9 $$", "kill -6 $$", "yes 'x:y:z' | head -c 2000000"])
def test_a_failing_prefilter_falls_back_to_reading_every_block(script: str, kind: str,
                                                                tmp_path: Path) -> None:
    """A grep without GNU options (BusyBox), an rg that aborts (a line past its memory limit)
    or one that dies: the result is still complete."""
    log = tmp_path / "x.log"
    log.write_bytes(NOISE + (KERNLOG / "corpus" / "000-seed-cold-storage-4.9.log").read_bytes() + NOISE)
    expected = _run(log, False)
    fake = tmp_path / kind
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    assert _run(log, True, program=Prefilter(str(fake), kind)) == expected and expected[0]


def test_the_prefilter_is_rg_when_on_path_else_grep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in ("grep", "rg"):
        (tmp_path / kind).write_text("#!/bin/sh\n")
        (tmp_path / kind).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_prefilter() == Prefilter(str(tmp_path / "rg"), "rg")
    (tmp_path / "rg").unlink()
    assert find_prefilter() == Prefilter(str(tmp_path / "grep"), "grep")


def _far_apart(pieces: list[bytes], filler_lines: int = 3000) -> bytes:
    """`pieces` far apart in a syslog of other hosts' kernel and daemon lines (a few MB)."""
    line = b"Nov 26 07:00:%02d stor-%02d kernel: [ %d.5] eth0: rx %d packets\n"
    filler = b"".join(line % (n % 60, n % 7, n, n)
                      if n % 3 else b"Nov 26 07:00:%02d stor-01 sshd[9]: session %d opened\n" % (n % 60, n)
                      for n in range(filler_lines))
    return filler + b"".join(p + filler for p in pieces)


_STALL = b"page allocation stalls for 10004ms, order:0, mode:0x24201ca(GFP_HIGHUSER_MOVABLE|__GFP_COLD)\n"


@pytest.mark.parametrize("program", PROGRAMS, ids=["grep", "rg"])
def test_a_comm_printed_alone_is_found_before_a_split_header_far_into_a_big_file(program: Prefilter,
                                                                                  tmp_path: Path) -> None:
    """KERN_CONT split `rsync: ` from its header: the comm comes from the lines before the
    header that its host printed (other hosts' and daemons' lines between are passed over),
    at most LOOKBACK_LINES back; not from a prefilter-passing line."""
    h = b"Nov 26 08:00:00 web-%d kernel: [ 50.0] "
    pieces = [
        h % 1 + b"rsync: \n" + h % 1 + _STALL,  # right before
        h % 2 + b"tar:\n" + b"Nov 26 08:00:00 web-9 kernel: [ 9.0] eth1: up\n"
        + b"Nov 26 08:00:00 web-2 cron[1]: job\n" + h % 2 + _STALL,  # another host's, a daemon's line between
        h % 3 + b"cp: \n" + b"".join(h % 3 + b"line %d\n" % i for i in range(4)) + h % 3 + _STALL,  # too far
        b"dd: \n" + _STALL,  # no wrapper at all
        b"[ 51.0] gzip:\n" + b"x" * 600 + b"\n" + b"[ 51.1] " + _STALL,  # a long line between
        b"2017-01-17T11:08:33.754562+03:00 storage8 [335170.452601] rsync: \n"
        b"2017-01-17T11:08:33.754574+03:00 " + _STALL,  # the header lost its host (corpus 008)
    ]
    data = _far_apart(pieces)
    assert len(data) > 1 << 20
    log = tmp_path / "kerncont.log"
    log.write_bytes(data)
    fast = _run(log, True, program=program)
    assert fast == _run(log, False)
    assert fast[0] == list(scan_lines(data.split(b"\n"), "x"))
    stalls = [e for e in fast[0] if isinstance(e, AllocEvent) and e.kind == "stall"]
    assert [e.comm for e in stalls] == ["rsync", "tar", None, "dd", None, "rsync"]
    assert [stalls[i].host for i in (0, 1, 2, 5)] == ["web-1", "web-2", "web-3", "storage8"]


@pytest.mark.parametrize("program", PROGRAMS, ids=["grep", "rg"])
def test_quoted_printable_far_into_a_big_file(program: Prefilter, tmp_path: Path) -> None:
    """A mail archive's quoted-printable OOM report (soft breaks, `=3D`) deep in a big file:
    from its first `=3D` the scanner reads every line, and finds what it finds alone."""
    qp = (KERNLOG / "corpus" / "011-lkml-2020-i386-highmem-oom-quoted-printable.log").read_bytes()
    alone = [(e.kind, e.comm, e.order) for e in scan_lines(qp.split(b"\n"), "x") if isinstance(e, AllocEvent)]
    data = _far_apart([qp])
    log = tmp_path / "qp.log"
    log.write_bytes(data)
    fast = _run(log, True, program=program)
    assert fast == _run(log, False)
    assert fast[0] == list(scan_lines(data.split(b"\n"), "x"))
    assert [(e.kind, e.comm, e.order) for e in fast[0] if isinstance(e, AllocEvent)] == alone != []


def test_every_prefilter_word_is_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A prefilter without one of the words loses or changes a report of the fixture logs."""
    log = tmp_path / "all.log"
    corpus = KERNLOG / "corpus"
    sysrq = (corpus / "003-lkml-2004-sysrq-m-highmem-2.6.3.log").read_bytes()
    pid = (corpus / "021-spl217-3.8-no-timestamps-percpu.log").read_bytes()
    qp = (corpus / "011-lkml-2020-i386-highmem-oom-quoted-printable.log").read_bytes()
    pieces = [
        sysrq.split(b"\n", 1)[1],  # `Mem-info:` without the SysRq line (`Mem-`)
        sysrq.split(b"\n", 2)[0] + b"\n" + sysrq.split(b"\n", 2)[2],  # `SysRq` without `Mem-info:`
        pid.split(b"\n", 1)[1],  # a 3.x task line `Pid: N, comm:` without its header (`Pid: `)
        *_HEADERLESS[:2],  # OOM ends without their beginning (`ut of memory`)
        # quoted-printable with `oom-killer` cut by a soft break (`=3D`)
        qp.replace(b"Xorg invoked oom-killer: gfp_mask=3D0x0(), order=3D0, oom_sc=",
                   b"Xorg (a long comm to pad it, here) invoked oom-kil=\n"
                   b"ler: gfp_mask=3D0x0(), order=3D0, oom_sc="),
    ]
    logs = sorted((p.read_bytes() for p in EVERY_LOG), key=lambda b: b"=3D" in b)  # then all is read
    logs[-1:-1] = pieces
    log.write_bytes(_far_apart(logs, 1200))  # more than STALE_LINES: each report is closed
    expected = _run(log, False)
    missed = []
    for word in PREFILTER_WORDS:
        fewer = tuple(w for w in PREFILTER_WORDS if w != word)
        reader, scanner = LogReader(str(log)), LogScanner("x")
        items = []
        for gap, block in reader.sparse_blocks(fewer, lambda sc=scanner: sc.busy, prefilter=GREP):
            scanner.skip_idle(gap)
            items += scanner.feed_block(block)
        items += scanner.finish()
        missed += [word] if (items, dict(scanner.skipped)) == expected[:2] else []
    # A region starts LOOKBACK_RAW_BYTES before its hit and goes on REGION bytes: a word whose
    # lines always have another word's line that close (`Mem-` before a zone's `free:`,
    # `SysRq` before `Mem-info:`, `Pid: ` after its header, `=3D` beside `oom-killer`) is not
    # needed on these logs; the other six are.
    assert missed == [b"Mem-", b"Pid: ", b"SysRq", b"=3D"], missed
