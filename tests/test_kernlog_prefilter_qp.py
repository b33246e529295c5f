"""A quoted-printable soft break that cuts a report header's trigger word itself (`page al=` /
`location failure: ...`): the prefilter path of a big plain file and the block path both find
the report, with the header of the same log not quoted-printable."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from memstall.collect_log import scan_log
from memstall.model.kernlog import AllocEvent
from memstall.parsers.kernlog import LogScanner, scan_lines
from memstall.parsers.kernlog.scanner import CUT_WORDS, PREFILTER_WORDS
from memstall.sources.kernlog import LogReader
from memstall.sources.prefilter import PREFILTER_MIN_BYTES

CORPUS = Path(__file__).parent / "fixtures" / "kernlog" / "corpus"
QP_COLUMNS = 76
"""RFC 2045: an encoded line is at most 76 characters, the soft break's `=` included."""
REPORTS = [  # (corpus log, its host, the trigger word of its first header)
    ("028-rpi5395-syslog-armv7-6.1-unwind-from.log", b"dill", b"page allo"),  # failure, 6.1
    ("007-linuxmm-dom-worker-stall-syslog-4.9.13.log", b"x61s-44a5", b"page allo"),  # stall, 4.9
    ("035-blog-rocketmq-oom-3.10-annotated-syslog.log", b"iZ23tpcto8eZ", b"oom-killer"),  # oom, 3.10
    ("034-lkml-2006-x86_64-2.6.16-numa-flowed-wrap.log", b"t06", b"page allo"),  # `failure.`, 2.6.16
]

pytestmark = pytest.mark.skipif(shutil.which("grep") is None, reason="no grep binary")


def quoted_printable(data: bytes) -> bytes:
    """`data` encoded as a mail archive does: `=` as `=3D`, lines cut at QP_COLUMNS with a
    trailing `=` (a soft break), never inside an `=XX` escape."""
    out = []
    for line in data.split(b"\n"):
        line = line.replace(b"=", b"=3D")  # noqa: PLW2901
        while len(line) > QP_COLUMNS - 1:
            cut = QP_COLUMNS - 1
            esc = line.rfind(b"=", cut - 2, cut)
            cut = esc if esc >= 0 else cut
            out.append(line[:cut] + b"=")
            line = line[cut:]  # noqa: PLW2901
        out.append(line)
    return b"\n".join(out)


def cut_inside(log: bytes, host: bytes, word: bytes, keep: int) -> bytes:
    """`log` with its host renamed so that the soft break of its first header line falls
    after the first `keep` bytes of `word`, then quoted-printable."""
    first = next(ln for ln in log.split(b"\n") if word in ln)
    pad = QP_COLUMNS - 1 - keep - first.index(word)
    assert -len(host) < pad, "the header starts too far right to be cut there"
    renamed = host[:len(host) + pad] if pad < 0 else host + b"x" * pad
    coded = quoted_printable(log.replace(host, renamed))
    assert word[:keep] + b"=\n" + word[keep:] in coded
    return coded


def _filler(lines: int) -> bytes:
    kernel = b"Nov 26 07:00:%02d stor-%02d kernel: [ %d.5] eth0: rx %d packets\n"
    daemon = b"Nov 26 07:00:%02d stor-01 sshd[9]: session %d opened\n"
    return b"".join(kernel % (n % 60, n % 7, n, n) if n % 3 else daemon % (n % 60, n) for n in range(lines))


def _events(items: list[object]) -> list[tuple[object, ...]]:
    return [(e.kind, e.comm, e.order, e.gfp_mode, e.stall_ms) for e in items if isinstance(e, AllocEvent)]


def _scan(path: Path, prefilter: bool | None) -> tuple[object, ...]:
    reader, scanner = LogReader(str(path)), LogScanner("x")
    try:
        assert prefilter is not None or reader.prefilterable()
        items = list(scan_log(reader, scanner, prefilter))
    finally:
        reader.close()
    return items, dict(scanner.skipped), scanner._no


CASES = [(name, host, word, keep) for name, host, word in REPORTS for keep in range(1, len(word))]


def test_a_soft_break_inside_a_trigger_word_far_into_a_big_file(tmp_path: Path) -> None:
    """Every cut inside `page allo` and `oom-killer` of four corpus reports (failure, stall,
    OOM, a 2.6 failure), each far from the next in a syslog bigger than the prefilter's threshold: the
    prefilter path, the block path and line by line find the reports of the plain logs."""
    filler = _filler(700)  # more than STALE_LINES: each report is closed before the next
    pieces, expected = [], []
    for name, host, word, keep in CASES:
        log = (CORPUS / name).read_bytes()
        pieces.append(cut_inside(log, host, word, keep))
        expected += _events(list(scan_lines(log.split(b"\n"), "x")))
    data = filler + b"".join(p + b"\n" + filler for p in pieces)
    data += _filler(PREFILTER_MIN_BYTES // 50) * (1 + PREFILTER_MIN_BYTES // 50 // len(data))
    path = tmp_path / "mail-archive.log"
    path.write_bytes(data)
    assert path.stat().st_size >= PREFILTER_MIN_BYTES
    fast = _scan(path, None)
    assert fast == _scan(path, False)
    assert fast[0] == list(scan_lines(data.split(b"\n"), "x"))
    assert _events(fast[0]) == expected
    assert len(expected) >= len(CASES)


def test_each_cut_word_follows_its_trigger_word_within_a_soft_broken_line() -> None:
    """The cut words are what the kernel prints right after a header's trigger word (page
    allocation failure: order: / failure. order: before 2.6.39 / stalls for N ms, order:, the
    4.9-rc typo `alloction`, invoked oom-killer: gfp_mask), so the line after a soft break
    inside the trigger word holds one of them whole; and other syslog lines seldom do (a
    prefilter hit costs a read of REGION bytes)."""
    headers = [b"page allocation failure: order:0", b"page allocation failure. order:1",
               b"page allocation stalls for 4294967295ms, order:0",
               b"page alloction stalls for 10ms, order:0",
               b"invoked oom-killer: gfp_mask=3D0xcc0", b"invoked oom-killer: gfp_mask=0x201da"]
    for header in headers:
        word = next(w for w in (b"page allo", b"oom-killer") if w in header)
        at = header.index(word)
        for keep in range(1, len(word)):
            rest = header[at + keep:]
            # whole within the 59 columns a soft-broken continuation holds at least
            assert any(cut in rest[:59] for cut in CUT_WORDS), (header, keep)
    assert set(CUT_WORDS) <= set(PREFILTER_WORDS)
    others = [b"pam_unix(sshd:auth): authentication failure; logname= uid=0",
              b"rcu: INFO: rcu_sched detected stalls on CPUs/tasks:", b"EXT4-fs error: allocation failure"]
    assert not [line for line in others if any(cut in line for cut in CUT_WORDS)]
