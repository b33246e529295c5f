"""Block fast path: the lines of one open report taken in a row, without the per-line pipeline.

Inside a report, most lines have one shape: the same wrapper (a syslog `Mon DD HH:MM:SS host
kernel: [stamp] ` for the report's own host, or a bare dmesg `[stamp] `), then printable ASCII.
`take_run` matches that wrapper with one regex per line and hands the text straight to
`Report.consume`, skipping the scanner's per-line pipeline (decode, quoted-printable check,
`unwrap`, routing, the learned prefix, the header check). Call-trace frames go further: one
regex matches every consecutive frame line behind the wrapper and one `findall` returns their
function names, so a trace costs two C calls, not a chain of regexes per line.

Every step skipped is one that these checks prove would do nothing on the line:

* the line is printable ASCII (no `\\r`, NUL or control character), at most MAX_BODY long:
  nothing to cut, decode (UTF-8 with `replace` gives the same text) or count as binary;
* it holds no `=3D`, `#01`, `\\x0a`, does not end with `=` (quoted-printable, rsyslog and
  /dev/kmsg escapes). Once the scanner is in quoted-printable mode, a syslog line's `=20`s
  become spaces as `_unquote` makes them, when the host has no `=` and the text does not
  start with `=20` (the wrapper and the first character after it, all `unwrap`'s fast branch
  looks at, stay the same; the checks below look at the text with the spaces); a dmesg line
  with `=20` is left to the slow path (`_FAST_DMESG`'s look-ahead reads further);
* `unwrap` would take its fast branch with these fields (`_FAST_SYSLOG` with a host it has
  already learned, or `_FAST_DMESG`): the text after the stamp does not start with `[`, and
  the dmesg form has `_FAST_DMESG`'s look-ahead; so the line routes to the stream of the line
  before (`_last_host`), whose report is open;
* a line of a stream with a learned prefix that carries it loses it, as in `_strip_prefix`;
  a line that does not carry it, or of a stream without one, keeps its text unless its
  first anchor stands after other text (which may teach a prefix: left to the slow path);
  a line holding a header word or `ut of memory` (an OOM's end, which the scanner
  checks before the report sees it), a blank line, and the line at which the scanner closes
  quiet reports (every 256th) are left to the slow path;
* the report already has its time, so the line's stamp is not needed.

At the first line that does not fit, or whose verdict is not OK, the run stops (the scanner's
`_verdict` handles that verdict) and the scanner's own path takes over. `LogScanner(fast=False)`
never takes runs: it is the reference path tests/test_kernlog_runs.py compares against.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from memstall.parsers.kernlog.prefix import ANCHOR
from memstall.parsers.kernlog.report import MAX_TRACE, OK, OOM_FRAMES, Report
from memstall.parsers.kernlog.unwrap import Unwrapped

if TYPE_CHECKING:
    from memstall.parsers.kernlog.scanner import Item, LogScanner

_DATE = rb"([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)"
_STAMP = rb"\[ *(\d{1,12}\.\d+)\]"
_SYSLOG_AFTER = rb"(?: (?!\[)|(?![ \[]))"
"""`_FAST_SYSLOG` takes one space after the stamp; a `[` after it sends `unwrap` elsewhere."""
_DMESG_AFTER = rb" ?(?!\s*(?:[\w.@/-]+\[\d+\]: |\S+ +kernel:|kernel:|\[))"
"""`_FAST_DMESG`'s look-ahead. On bytes it may look past the line's end, but only after a
blank body (never taken), and seeing more text can only make it refuse more lines."""

_FRAME = (rb" *(?:\[<[0-9a-f]{1,16}>\] *)?(?:\? +)?([A-Za-z_.$][\w.$]{0,200})"
          rb"\+0x[0-9a-f]{1,16}/0x[0-9a-f]{1,16}(?: \[[\w-]{1,64}\])?\n")
"""A line that is one frame (classify.FRAME_LINE, with spaces for its `\\s`); group 1 is the function."""
MAX_BULK = 255
MAX_BODY = 4000
"""Longer lines are left to the slow path (which cuts them at MAX_LINE)."""


def _plain(rx: bytes) -> bytes:
    return re.sub(rb"(?<!\\)\((?![?])", b"(?:", rx)


class _Run(NamedTuple):
    span: re.Pattern[bytes]
    """Consecutive lines of one kind behind one wrapper."""
    each: re.Pattern[bytes]
    """The same line, with the part `consume` needs as group 1 (for findall)."""


class _Wrapper(NamedTuple):
    line: re.Pattern[bytes]
    """The wrapper of one line, up to the kernel text (groups: wall, stamp)."""
    frames: _Run


def _run(plain: bytes, body: bytes) -> _Run:
    return _Run(re.compile(b"(?:" + plain + _plain(body) + b"){1,%d}" % MAX_BULK), re.compile(plain + body))


def _wrapper(prefix: bytes) -> _Wrapper:
    plain = _plain(prefix)
    return _Wrapper(re.compile(prefix), _run(plain, _FRAME))


_FRAME_BODY = re.compile(_FRAME).match
_DMESG = _wrapper(b"()" + _STAMP + _DMESG_AFTER)
_SYSLOG: dict[str, _Wrapper] = {}


def _syslog(host: str) -> _Wrapper:
    """The regexes of one host's syslog lines."""
    w = _SYSLOG.get(host)
    if w is None:
        if len(_SYSLOG) > 1024:
            _SYSLOG.clear()
        w = _SYSLOG[host] = _wrapper(_DATE + b" " + re.escape(host.encode()) + b" kernel: ?"
                                     + _STAMP + _SYSLOG_AFTER)
    return w


def _may_anchor(body: str) -> bool:
    """Same words as scanner._may_anchor (prefix.ANCHOR's alternatives)."""
    return ("CPU:" in body or "Node " in body or "Call " in body or "Mem-" in body or "Pid:" in body
            or "lowmem_reserve" in body or "active_anon:" in body or "Hardware name" in body)


def take_run(sc: LogScanner, block: bytes, pos: int, out: list[Item]) -> int:
    """Feed the run of lines at `pos` that continue the open report of the last line's
    stream; returns the position after the last line taken (`pos` when none was)."""
    key = sc._last_host
    st = sc._streams.get(key)
    rep = st.report if st is not None else None
    if st is None or rep is None or rep.time is None or sc._qp_pending is not None:
        return pos
    if block[pos:pos + 1] == b"[":
        w, host = _DMESG, None
    elif key is not None and key in sc.hosts and key.isascii():
        w, host = _syslog(key), key
    else:
        return pos
    first, consume, find, rx, pfx = pos, rep.consume, block.find, w.line, st.prefix
    qp = sc._qp and (host is None or "=" in host)  # True: a line with `=20` stops the run
    while (sc._no + 1) & 255:
        m = rx.match(block, pos)
        if m is None:
            break
        at = m.end()
        if pfx is None and rep.phase == "trace" and not rep.version_pending and _FRAME_BODY(block, at):
            after = _frame_run(sc, rep, w.frames, block, pos)
            if after != pos:
                pos = after
                continue
        end = find(b"\n", at)
        if end < 0 or end - at > MAX_BODY:
            break
        raw = block[at:end]
        if (b"=" in raw and (raw.endswith(b"=") or b"=3D" in raw or (qp and b"=20" in raw))) \
                or b"#01" in raw or b"\\x0a" in raw or not raw.isascii():
            break
        if sc._qp and b"=20" in raw:  # _unquote; the host has no `=` (qp is False)
            if raw.startswith(b"=20"):
                break
            raw = raw.replace(b"=20", b" ")
        body = text = raw.decode()
        if pfx is not None and pfx.matches(text):  # _strip_prefix: the learned wrapper goes
            body = pfx.split(text)[1]
        elif _may_anchor(body):  # _strip_prefix: no anchor after text, nothing learned
            a = ANCHOR.search(body)
            if a is not None and body[:a.start()].strip():
                break
        s = body.strip()
        if not s or not text.isprintable() or "page allo" in s or "oom-killer" in s or "ut of memory" in s:
            break
        sc._no += 1
        sc._start = sc._no
        pos = end + 1
        verdict = consume(s, sc._no)
        if verdict == OK:
            rep.unknown_run = 0
            continue
        wall, stamp = m.group(1, 2)
        u = Unwrapped(text, host, wall.decode() if host else None, stamp.decode(), float(stamp), True, True)
        sc._verdict(st, rep, verdict, s, u, key, out)
        break
    return pos if pos != first else first


def _frame_run(sc: LogScanner, rep: Report, run: _Run, block: bytes, pos: int) -> int:
    """Frame lines in a row (trace phase), taken with one regex and one findall: what
    `consume` (`Report._trace`, whose first check is FRAME_LINE) would do to each, done once."""
    m = run.span.match(block, pos)
    if m is None:
        return pos
    end = m.end()
    found = run.each.findall(block, pos, end)
    room = 255 - (sc._no & 255)  # stop before the line at which the scanner closes quiet reports
    if len(found) > room:
        found = found[:room]
        end = pos
        for _ in range(room):
            end = block.index(b"\n", end) + 1
    if not found:
        return pos
    n = len(found)
    sc._no += n
    sc._start = sc._no
    rep.lines += n
    rep.last_line_no = sc._no
    rep.unknown_run = 0
    _frames(rep, [f.decode() for f in found])
    return end


def _frames(rep: Report, names: list[str]) -> None:
    """`Report._frames` called once per name, in order."""
    if len(rep.trace) < MAX_TRACE:
        rep.trace.extend(names[: MAX_TRACE - len(rep.trace)])
    if rep.kind is None:
        for n in names:
            if n.startswith("warn_alloc"):
                rep.kind = "failure"
                break
            if n.startswith(OOM_FRAMES):
                rep.kind = "oom"
                break
