"""The block fast path (`runs.take_run`) gives exactly what the line-by-line reference path gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_benchmark, run_cli
from memstall.parsers.kernlog import LogScanner, runs
from memstall.parsers.kernlog import classify as c
from memstall.parsers.kernlog.prefix import ANCHOR
from memstall.parsers.kernlog.scanner import MAX_LINE
from test_kernlog_scanner import mutated_logs

KERNLOG = Path(__file__).parent / "fixtures" / "kernlog"
LOGS = sorted(p for p in KERNLOG.rglob("*") if p.is_file() and p.suffix not in (".json", ".md"))


def _scan(data: bytes, fast: bool, chunk: int | None = None) -> tuple[object, ...]:
    """Items, skip counts, cut lines and the final state, feeding blocks of about `chunk` bytes
    cut at line starts (the whole input as one block when None)."""
    sc = LogScanner("x", fast=fast)
    items = []
    pos = 0
    while pos < len(data):
        stop = len(data) if chunk is None else data.find(b"\n", pos + chunk)
        stop = len(data) if stop < 0 else stop + 1
        items.extend(sc.feed_block(data[pos:stop]))
        pos = stop
    items.extend(sc.finish())
    return items, dict(sc.skipped), sc.cut_lines, sc.state_key()


def _taken(data: bytes) -> int:
    """Lines the fast path takes on `data` (so that a test cannot pass by never taking any)."""
    taken = 0
    orig = runs.take_run

    def counting(sc: LogScanner, block: bytes, pos: int, out: list[object]) -> int:
        nonlocal taken
        after = orig(sc, block, pos, out)  # type: ignore[arg-type]
        taken += block.count(b"\n", pos, after)
        return after

    mp = pytest.MonkeyPatch()
    mp.setattr("memstall.parsers.kernlog.scanner.take_run", counting)
    try:
        sc = LogScanner("x")
        sc.feed_block(data)
        sc.finish()
    finally:
        mp.undo()
    return taken


@pytest.mark.parametrize("path", LOGS, ids=[f"{p.parent.name}/{p.name}" for p in LOGS])
def test_fast_and_reference_paths_agree_on_every_fixture(path: Path) -> None:
    data = path.read_bytes()
    ref = _scan(data, fast=False)
    assert _scan(data, fast=True) == ref
    assert _scan(data, fast=True, chunk=700) == _scan(data, fast=False, chunk=700)


def test_the_fast_path_takes_most_report_lines_of_the_fixtures() -> None:
    data = [p.read_bytes() for p in LOGS]
    taken = sum(_taken(d) for d in data)
    assert taken > 500


def test_fast_and_reference_paths_agree_on_reports_back_to_back(tmp_path: Path) -> None:
    gen = load_benchmark("syslog_gen")
    reports = gen.load_reports(KERNLOG / "corpus")
    path = tmp_path / "mixed.log"
    with path.open("wb") as f:
        gen.write_reports_only(f, 400_000, reports, seed=11)
        gen.write_sparse(f, 300_000, reports, 12, seed=12, interleave=0.3)
        gen.write_reports_only(f, 200_000, reports, seed=13)
    data = path.read_bytes()
    assert _taken(data) > data.count(b"\n") // 3
    for chunk in (None, 4096, 65536):
        assert _scan(data, fast=True, chunk=chunk) == _scan(data, fast=False, chunk=chunk)


_WRAPS = st.sampled_from([b"Nov 26 04:00:00 h1 kernel: [ 12.5] ", b"Nov 26 04:00:00 h2 kernel: [ 12.5] ",
                          b"Nov 26 04:00:00 h1 kernel: [12.5]", b"[ 12.500000] ", b"[12.5]", b"",
                          b"Nov 26 04:00:00 h1 kernel: [ 12.5] kernel: "])


@st.composite
def rewrapped_logs(draw: st.DrawFn) -> list[bytes]:
    """Mutated corpus lines, each behind a wrapper drawn from a few (two hosts, dmesg, none)."""
    lines = draw(mutated_logs())
    out = []
    for line in lines:
        body = line.split(b"] ", 1)[-1] if draw(st.booleans()) else line
        out.append(draw(_WRAPS) + body)
    return out


@settings(deadline=None, max_examples=150)
@given(mutated_logs())
def test_fast_and_reference_paths_agree_on_mutated_corpus_logs(lines: list[bytes]) -> None:
    data = b"\n".join(lines) + b"\n"
    assert _scan(data, fast=True) == _scan(data, fast=False)


@settings(deadline=None, max_examples=150)
@given(rewrapped_logs(), st.sampled_from([None, 300]))
def test_fast_and_reference_paths_agree_on_rewrapped_corpus_logs(lines: list[bytes],
                                                                 chunk: int | None) -> None:
    data = b"\n".join(lines) + b"\n"
    assert _scan(data, fast=True, chunk=chunk) == _scan(data, fast=False, chunk=chunk)


def test_a_run_never_takes_what_the_slow_path_would_rewrite() -> None:
    head = b"Nov 26 04:00:00 h kernel: [ 1.0] a: page allocation failure: order:0, mode:0x20(GFP_ATOMIC)\n"
    for tail in (b"Call Trace:=3D", b" dump_stack+0x1/0x2 #012x", b"x" * 70 + b"=", b" \\x0ax",
                 b" [<ffffffff8113fedc>] warn_alloc+0x1/0x2", b"y" * (MAX_LINE + 10), b" x\x00y", b" x\r",
                 b" Out of memory: Killed process 1 (a)", b"", b"   ", b"[<ffffffff8113fedc>] a+0x1/0x2"):
        data = head + b"Nov 26 04:00:00 h kernel: [ 1.1] " + tail + b"\n" + head
        assert _scan(data, fast=True) == _scan(data, fast=False), tail


_SYMS = st.from_regex(r"\A[A-Za-z_.$][\w.$]{0,20}\Z", fullmatch=True)
_FRAME_TEXT = st.builds(
    lambda lead, addr, q, sym, off, size, mod, tail: lead + (f"[<{addr}>] " if addr else "")
    + ("? " if q else "") + f"{sym}+0x{off:x}/0x{size:x}" + (f" [{mod}]" if mod else "") + tail,
    st.sampled_from(["", " ", "  ", "\t"]),
    st.one_of(st.none(), st.from_regex(r"\A[0-9a-f]{8,16}\Z", fullmatch=True)),
    st.booleans(), _SYMS, st.integers(0, 1 << 20), st.integers(1, 1 << 20),
    st.one_of(st.none(), st.from_regex(r"\A[\w-]{1,12}\Z", fullmatch=True)), st.sampled_from(["", " ", "x"]))


@settings(max_examples=400)
@given(st.one_of(_FRAME_TEXT, st.text(max_size=60)))
def test_a_bulk_frame_is_a_frame_line_with_the_same_function(text: str) -> None:
    """What `_frame_run` takes in bulk, `Report._trace` takes as a FRAME_LINE with that name."""
    data = text.encode("utf-8", "replace") + b"\n"
    m = re.fullmatch(runs._FRAME, data)
    if m is not None:
        s = data[:-1].decode().strip()
        f = c.FRAME_LINE.match(s)
        assert f is not None and f.group(1) == m.group(1).decode()
        a = ANCHOR.search(s)
        assert c.header_kind(s) is None and (a is None or not s[:a.start()].strip())


def _report(wrap: bytes, body_lines: list[bytes]) -> bytes:
    head = b"a: page allocation failure: order:0, mode:0x20(GFP_ATOMIC)"
    mem = [b"Mem-Info:", b"active_anon:1 inactive_anon:2 isolated_anon:0",
           b"Node 0 Normal free:43880kB min:44456kB low:174456kB high:304456kB",
           b"Node 0 hugepages_total=2048 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB"]
    return b"".join(wrap + x + b"\n" for x in [head, b"CPU: 1 PID: 2 Comm: a", b"Call Trace:",
                                                b" dump_stack+0x1/0x2", *mem, *body_lines])


def test_quoted_printable_spaces_are_taken_as_the_slow_path_makes_them() -> None:
    """Once a log is quoted-printable (a soft break seen), `=20` is a space: runs take such
    lines of a syslog host, and stop where the spaces make a header, an anchor after text or
    an OOM end, at `=20` first in the text, in a host with `=` and in dmesg lines."""
    soft = b"Nov 26 04:00:00 h kernel: [ 1.0] " + b"x" * 40 + b"=\n" + b"y\n"
    tails = [b"Node 0 hugepages_total=2048 x=20y", b"=20leading", b"pages=20RAM 2", b"x=20page=20allocation",
             b"x Call=20Trace:", b"Out=20of memory: Killed process 1 (a)", b"12=20pages reserved", b"z=20=20"]
    for wrap in (b"Nov 26 04:00:00 h kernel: [ 1.1] ", b"Nov 26 04:00:00 h=20x kernel: [ 1.1] ",
                 b"Nov 26 04:00:00 h kernel: [ 1.1]", b"[ 1.1] "):
        for tail in tails:
            data = soft + _report(wrap, [tail, b"swap=20cache 3"]) + _report(wrap, [])
            assert _scan(data, fast=True) == _scan(data, fast=False), (wrap, tail)
    data = soft + b"".join(_report(b"Nov 26 04:00:00 h kernel: [ 1.1] ", [t]) for t in tails)
    assert _scan(data, fast=True) == _scan(data, fast=False)
    assert _taken(data) > 7 * len(tails)  # 4 of 10 lines a report before (the =20 lines went slow)


def test_lines_without_a_streams_learned_prefix_are_taken_as_they_are() -> None:
    """A stream that learned a prefix (`app| 0001 ` before `CPU:`) keeps it; its later lines
    without it keep their text (runs take them), unless an anchor after text may teach another."""
    wrap = b"Nov 26 04:00:00 h kernel: [ 1.0] "
    taught = wrap + b"app| 0001 CPU: 1 PID: 2 Comm: a\n" + wrap + b"app| 0002 Mem-Info:\n"
    for tail in (b"active_file:1 inactive_file:2", b"xx Node 0 Normal free:1kB min:1kB", b"app| 0003 free:1",
                 b"Node 0 DMA: 1*4kB (U) = 4kB", b"zz Call Trace:"):
        data = _report(wrap, []) + taught + _report(wrap, [tail, tail]) * 2
        assert _scan(data, fast=True) == _scan(data, fast=False), tail
        assert _scan(data, fast=True, chunk=300) == _scan(data, fast=False, chunk=300), tail
    data = _report(wrap, []) + taught + _report(wrap, [b"active_file:1 inactive_file:2"] * 20)
    assert _taken(data) > 20


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl"])
def test_logs_output_is_byte_identical_on_the_reference_path(fmt: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`memstall logs` on every fixture log (and reports back to back): the same bytes when its
    scanner never takes runs (`LogScanner(fast=False)`)."""
    gen = load_benchmark("syslog_gen")
    mixed = tmp_path / "mixed.log"
    with mixed.open("wb") as f:
        gen.write_reports_only(f, 200_000, gen.load_reports(KERNLOG / "corpus"), seed=21)
    for path in [*LOGS, mixed]:
        fast = run_cli("logs", "--format", fmt, str(path))
        with monkeypatch.context() as m:
            m.setattr("memstall.cli.logs.LogScanner",
                      lambda source, **kw: LogScanner(source, fast=False, **kw))
            ref = run_cli("logs", "--format", fmt, str(path))
        assert fast == ref, path
        assert fast.code == 0, path
    assert fast.out.count("\n") > 30  # 41 events back to back
