"""Block fast path: a run of lines of one open report, taken from the block at once.

Inside a report, most lines have the same shape: one wrapper (a syslog `Mon DD HH:MM:SS host
kernel: [stamp] ` for one host, or a bare dmesg `[stamp] `), then printable ASCII. One regex
finds how many lines in a row have that shape for the report's own host (`span`), and a second
one (`findall`) returns their wall times, stamps and bodies in one C call; each body then goes
straight to `Report.consume`, without the per-line pipeline (decode, quoted-printable check,
`unwrap`, routing, the learned prefix, the header check).

Every step skipped is one that the regexes prove would do nothing on these lines:

* the line is printable ASCII without `\\r`, shorter than MAX_LINE: nothing to cut, decode
  (UTF-8 with `replace` gives the same text), or count as binary;
* the run holds no `=3D`, `#01`, `\\x0a` and no line ends with `=` (quoted-printable, rsyslog
  and /dev/kmsg escapes), nor `=20` once the scanner is in quoted-printable mode;
* `unwrap` takes its fast branch with exactly these fields (`_FAST_SYSLOG` with a host it has
  already learned, or `_FAST_DMESG`): the text after the stamp does not start with `[`, and
  the dmesg form has the same look-ahead as `_FAST_DMESG`; so the host routes to the stream of
  the line before (`_last_host`), whose report is open;
* the stream has no learned prefix, and a line whose anchor stands after other text (which
  would teach one) is left to the slow path; a line holding a header word, a blank line, and
  the line at which the scanner closes quiet reports (every 256th) are left to it too;
* the report already has its time, so the line's stamp is not needed.

At the first line that does not fit, or whose verdict is not OK, the run stops and the
scanner's own path (`LogScanner._body` tail) takes over; `LogScanner(fast=False)` never takes
runs (the reference path the tests compare against).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from memstall.parsers.kernlog.prefix import ANCHOR
from memstall.parsers.kernlog.report import OK
from memstall.parsers.kernlog.unwrap import Unwrapped

if TYPE_CHECKING:
    from memstall.parsers.kernlog.scanner import Item, LogScanner

MAX_RUN = 64
"""Lines one regex call may take (a run stopped early re-reads at most this many)."""

_DATE = rb"([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)"
_STAMP = rb"\[ *(\d{1,12}\.\d+)\]"
_BODY = rb"([\t -~]{1,4000})\n"
_SYSLOG_AFTER = rb"(?: (?!\[)|(?![ \[]))"
"""`_FAST_SYSLOG` takes one space after the stamp; a `[` after it sends `unwrap` elsewhere."""
_DMESG_AFTER = rb" ?(?!\s*(?:[\w.@/-]+\[\d+\]: |\S+ +kernel:|kernel:|\[))"
"""`_FAST_DMESG`'s look-ahead, on ASCII text (where bytes and str classes agree)."""


_ESCAPES = re.compile(rb"=\n|=3D|#01|\\x0a")
"""What `LogScanner._unquote` and `_line` would rewrite (a soft break, `=3D`, rsyslog and kmsg escapes)."""
_ESCAPES_QP = re.compile(rb"=\n|=3D|=20|#01|\\x0a")


class _Shape(NamedTuple):
    span: re.Pattern[bytes]
    lines: re.Pattern[bytes]


def _shape(line: bytes) -> _Shape:
    plain = re.sub(rb"(?<!\\)\((?!\?)", b"(?:", line)
    return _Shape(re.compile(b"(?:" + plain + b"){1,%d}" % MAX_RUN), re.compile(line))


_DMESG = _shape(b"()" + _STAMP + _DMESG_AFTER + _BODY)
_SYSLOG: dict[str, _Shape] = {}


def _syslog(host: str) -> _Shape:
    shape = _SYSLOG.get(host)
    if shape is None:
        if len(_SYSLOG) > 4096:
            _SYSLOG.clear()
        head = _DATE + b" " + re.escape(host.encode()) + b" kernel: ?"
        shape = _SYSLOG[host] = _shape(head + _STAMP + _SYSLOG_AFTER + _BODY)
    return shape


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
    if st is None or rep is None or st.prefix is not None or rep.time is None or sc._qp_pending is not None:
        return pos
    if block[pos:pos + 1] == b"[":
        shape, host = _DMESG, None
    elif key is not None and key in sc.hosts and key.isascii():
        shape, host = _syslog(key), key
    else:
        return pos
    m = shape.span.match(block, pos)
    if m is None:
        return pos
    chunk = block[pos:m.end()]
    bad = (_ESCAPES_QP if sc._qp else _ESCAPES).search(chunk)
    if bad is not None:  # the run stops before the line that holds it
        chunk = chunk[:chunk.rfind(b"\n", 0, bad.start()) + 1]
        if not chunk:
            return pos
    taken = 0
    consume = rep.consume
    found = shape.lines.findall(chunk)
    for wall, stamp, raw in found:
        if (sc._no + 1) & 255 == 0:
            break
        body = raw.decode()
        s = body.strip()
        if not s or "page allo" in s or "oom-killer" in s:
            break
        if _may_anchor(body):
            a = ANCHOR.search(body)
            if a is not None and body[:a.start()].strip():
                break
        sc._no += 1
        sc._start = sc._no
        taken += 1
        verdict = consume(s, sc._no)
        if verdict == OK:
            rep.unknown_run = 0
            continue
        u = Unwrapped(body, host, wall.decode() if host else None, stamp.decode(), float(stamp), True, True)
        sc._verdict(st, rep, verdict, s, u, key, out)
        break
    if taken == len(found):
        return pos + len(chunk)
    for _ in range(taken):
        pos = block.index(b"\n", pos) + 1
    return pos
