"""The prefilter (rg or grep -F, each forced by its path) on what its fixed words do not list:
a comm printed alone before a KERN_CONT-split header, quoted-printable soft breaks, far into
a big file; a prefilter that dies; and that every word is needed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from memstall.model.kernlog import AllocEvent
from memstall.parsers.kernlog import LogScanner, scan_lines
from memstall.parsers.kernlog.scanner import HELD_LINES, HELD_SPAN_BYTES, PREFILTER_WORDS, holdable
from memstall.sources.kernlog import LogReader
from test_kernlog_prefilter_qp import REPORTS as QP_REPORTS
from test_kernlog_prefilter_qp import cut_inside

KERNLOG = Path(__file__).parent / "fixtures" / "kernlog"
EVERY_LOG = sorted(p for p in KERNLOG.rglob("*") if p.suffix in (".log", ".txt"))
PROGRAMS = [pytest.param(shutil.which(name) or name, id=name,
                         marks=pytest.mark.skipif(shutil.which(name) is None, reason=f"no {name}"))
            for name in ("grep", "rg")]

pytestmark = pytest.mark.skipif(shutil.which("grep") is None, reason="no grep binary")


def _scan(path: Path, program: str | None, words: tuple[bytes, ...] = PREFILTER_WORDS) -> tuple[object, ...]:
    """Items, skip counts and lines of the prefiltered path (`program`), or of reading every
    block (None)."""
    reader, scanner = LogReader(str(path)), LogScanner("x")
    items = []
    if program is None:
        for block in reader.blocks():
            items += scanner.feed_block(block)
    else:
        for gap, block in reader.sparse_blocks(words, lambda: scanner.busy, hold=holdable,
                                               hold_lines=HELD_LINES, hold_span_bytes=HELD_SPAN_BYTES,
                                               program=program):
            scanner.skip_idle(gap)
            items += scanner.feed_block(block)
    items += scanner.finish()
    return items, dict(scanner.skipped), scanner._no


def _far_apart(pieces: list[bytes], filler_lines: int = 3000) -> bytes:
    """`pieces` far apart in a syslog of other hosts' kernel and daemon lines."""
    kernel = b"Nov 26 07:00:%02d stor-%02d kernel: [ %d.5] eth0: rx %d packets\n"
    daemon = b"Nov 26 07:00:%02d stor-01 sshd[9]: session %d opened\n"
    filler = b"".join(kernel % (n % 60, n % 7, n, n) if n % 3 else daemon % (n % 60, n)
                      for n in range(filler_lines))
    return filler + b"".join(p + filler for p in pieces)


_STALL = b"page allocation stalls for 10004ms, order:0, mode:0x24201ca(GFP_HIGHUSER_MOVABLE|__GFP_COLD)\n"


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_comm_printed_alone_before_a_split_header_far_into_a_big_file(program: str, tmp_path: Path) -> None:
    h = b"Nov 26 08:00:00 web-%d kernel: [ 50.0] "
    pieces = [
        h % 1 + b"rsync: \n" + h % 1 + _STALL,  # right before
        h % 2 + b"tar:\n" + b"Nov 26 08:00:00 web-9 kernel: [ 9.0] eth1: up\n" + b"\n"
        + b"Nov 26 08:00:00 web-2 cron[1]: job\n" + h % 2 + _STALL,  # another host's, blank, daemon's between
        # too far: HELD_LINES lines between
        h % 3 + b"cp: \n" + b"".join(h % 3 + b"line %d\n" % i for i in range(HELD_LINES)) + h % 3 + _STALL,
        b"dd: \n" + _STALL,  # no wrapper at all
        h % 4 + b"gzip:\n" + h % 5 + b"y" * 3000 + b"\n" + h % 4 + _STALL,  # a longer line between
        h % 4 + b"xz:\n" + h % 5 + b"y" * 5000 + b"\n" + h % 4 + _STALL,  # longer than HELD_SPAN_BYTES
        h % 4 + b"zstd:\n" + b"z" * (3 << 20) + b"\n" + h % 4 + _STALL,  # longer than the reader's CHUNK
        b"2017-01-17T11:08:33.754562+03:00 storage8 [335170.452601] rsync: \n"
        b"2017-01-17T11:08:33.754574+03:00 " + _STALL,  # the header lost its host (corpus 008)
    ]
    data = _far_apart(pieces)
    log = tmp_path / "kerncont.log"
    log.write_bytes(data)
    fast = _scan(log, program)
    assert fast == _scan(log, None)
    assert fast[0] == list(scan_lines(data.split(b"\n"), "x"))
    stalls = [e for e in fast[0] if isinstance(e, AllocEvent) and e.kind == "stall"]
    assert [e.comm for e in stalls] == ["rsync", "tar", None, "dd", "gzip", None, None, "rsync"]
    assert [stalls[i].host for i in (0, 1, 2, 4, 7)] == ["web-1", "web-2", "web-3", "web-4", "storage8"]


@pytest.mark.parametrize("program", PROGRAMS)
def test_quoted_printable_far_into_a_big_file(program: str, tmp_path: Path) -> None:
    """A mail archive's quoted-printable OOM report deep in a big syslog: the same events as
    the excerpt alone, and the prefilter path equals reading every line."""
    qp = (KERNLOG / "corpus" / "011-lkml-2020-i386-highmem-oom-quoted-printable.log").read_bytes()
    alone = [(e.kind, e.comm, e.order) for e in scan_lines(qp.split(b"\n"), "x") if isinstance(e, AllocEvent)]
    cut = qp.replace(b"Xorg invoked oom-killer: gfp_mask=3D0x0(), order=3D0, oom_sc=",
                     b"Xorg invoked oom-kil=\nler: gfp_mask=3D0x0(), order=3D0, oom_sc=")
    data = _far_apart([qp, cut])  # the second with `oom-killer` cut by a soft break
    log = tmp_path / "qp.log"
    log.write_bytes(data)
    fast = _scan(log, program)
    assert fast == _scan(log, None)
    assert fast[0] == list(scan_lines(data.split(b"\n"), "x"))
    events = [(e.kind, e.comm, e.order) for e in fast[0] if isinstance(e, AllocEvent)]
    assert events[:len(alone)] == alone != []


@pytest.mark.parametrize("script", ["exit 2", "kill -6 $$", "kill -9 $$",
                                    "yes '1:2:x' | head -c 100000; exit 2"])
@pytest.mark.parametrize("name", ["grep", "rg"])
def test_a_dying_prefilter_falls_back_to_reading_every_block(name: str, script: str, tmp_path: Path) -> None:
    """rg aborts (SIGABRT) when the address-space cap refuses a line's buffer (a 700 MB line
    without a newline, measured); grep fails with 2: the rest is read block by block."""
    log = tmp_path / "x.log"
    log.write_bytes(_far_apart([(KERNLOG / "corpus" / "000-seed-cold-storage-4.9.log").read_bytes()], 500))
    fake = tmp_path / name
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    expected = _scan(log, None)
    assert _scan(log, str(fake)) == expected and expected[0]


def test_every_prefilter_word_is_needed(tmp_path: Path) -> None:
    """Without one of the words the prefilter loses or changes a report of the fixture logs
    (each log far from the next: more than STALE_LINES, so its reports are closed); a header's
    trigger word goes with the cut words that follow it on the header line (CUT_WORDS)."""
    corpus = KERNLOG / "corpus"
    pid = (corpus / "021-spl217-3.8-no-timestamps-percpu.log").read_bytes()
    pieces = [p.read_bytes() for p in EVERY_LOG]
    pieces += [pid.split(b"\n", 1)[1],  # a 3.x `Pid: N, comm:` task line without its header
               b"Out of memory: Kill process 4321 (java) score 950 or sacrifice child\n"
               b"Killed process 4321 (java) total-vm:8123456kB, anon-rss:6012344kB, file-rss:1024kB\n"]
    # quoted-printable headers with a soft break inside the trigger word (CUT_WORDS), and an
    # OOM header cut at the screen edge before its cut word (only `oom-killer` finds it)
    for name, host, word in QP_REPORTS:  # the header alone: no trigger word follows it
        header = next(ln for ln in (corpus / name).read_bytes().split(b"\n") if word in ln)
        pieces.append(cut_inside(header, host, word, 4) + b"\n")
    header, rest = (corpus / "035-blog-rocketmq-oom-3.10-annotated-syslog.log").read_bytes().split(b"\n", 1)
    pieces.append(header[:header.index(b"gfp_m") + 5] + b"\n" + rest)
    log = tmp_path / "all.log"
    log.write_bytes(_far_apart(pieces, 1200))
    expected = _scan(log, None)
    grep = shutil.which("grep") or "grep"
    assert _scan(log, grep) == expected
    # A header line holds its trigger word and the cut word after it: in the corpus, every line
    # with `page allo` that matters holds ` order:` too, so the two are needed together.
    groups: list[tuple[bytes, ...]] = [(w,) for w in PREFILTER_WORDS if w not in (b"page allo", b" order:")]
    groups += [(b"page allo", b" order:")]
    needed = [g for g in groups
              if _scan(log, grep, tuple(x for x in PREFILTER_WORDS if x not in g)) != expected]
    assert needed == groups
    assert {w for g in groups for w in g} == set(PREFILTER_WORDS)
