"""The streaming scanner: physical log lines in, allocation reports out, in constant memory.

Only the open report of each host stream is kept (header, at most 64 frame names, at most
4000 Mem-Info lines); everything else is counted and dropped. Lines are routed by the host
the wrapper names (many hosts interleave in a fleet syslog); a line without a host (a mail
continuation, a record that lost its prefix) goes to the stream of the line before it.

Fast path: while no report is open, a line that holds none of the trigger words is counted
without being decoded or unwrapped; that is what keeps a sparse 1 GB syslog cheap.

>>> sc = LogScanner("demo")
>>> out = sc.feed_text("[ 10.0] a: page allocation failure: order:2, mode:0x40cc0(GFP_KERNEL|__GFP_COMP)")
>>> out += sc.finish()
>>> (out[0].kind, out[0].comm, out[0].order, out[0].gfp_flags, out[0].uptime_s)
('failure', 'a', 2, ('GFP_KERNEL', '__GFP_COMP'), 10.0)
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Iterator
from typing import Union

from memstall.model.kernlog import AllocEvent, LogScan, MemInfoDump
from memstall.parsers.kernlog import classify as c
from memstall.parsers.kernlog.oom import oom_end
from memstall.parsers.kernlog.prefix import ANCHOR, STAMP_IN, Prefix, stamp_in
from memstall.parsers.kernlog.report import END, OK, UNKNOWN, Report
from memstall.parsers.kernlog.runs import take_run
from memstall.parsers.kernlog.unwrap import Hosts, Unwrapped, unwrap

Item = Union[AllocEvent, MemInfoDump]

TOLERANCE = 3
"""Consecutive unrecognised lines a report survives (other CPUs' messages interleave)."""
STALE_LINES = 500
"""A report with no line for this many physical lines is closed (its host went quiet)."""
MAX_QP = 1 << 16
MAX_STREAMS = 4096
MAX_LINE = 1 << 14
"""Longer lines are cut here (and counted in `cut_lines`): a kernel line is under 1 KiB."""

# A line can only open a report (or a Mem-Info fragment without a header) if it holds one of
# these; while no report is open, other lines are counted without being decoded. Fragments
# that start with a buddy or node line but have no zone line (`free:`) are not picked up.
_TRIGGERS = (b"page allo", b"oom-killer", b"Mem-", b"free:", b"PID: ", b"Pid: ", b"lowmem_reserve",
             b"SysRq", b"ut of memory")
# `ut of memory`: an OOM report's end (`Out of memory: Kill process`, `Memory cgroup out of memory:
# ...`) without its beginning is kept as an incomplete OOM event when it is more than one line
# (select + kill); a lone kill line (dump_header() was rate-limited) stays outside any report.
# A block of lines is searched for the same words with bytes.find (one pass per word). Lines
# that end like a comm printed alone before a KERN_CONT-split header (`rsync: `) or like a
# quoted-printable soft break (`=`) are not triggers themselves: while idle, such lines among
# the HELD_LINES lines before a trigger line are fed just before it (`_held`), so a prefilter that
# looks only for the words (a fixed-string search: `rg -F`, `grep -F`) finds the same reports.
CUT_WORDS = (b" order:", b"gfp_mask")
"""What follows a header's trigger word on its line (classify: `page allocation failure:
order:` or `failure. order:` before 2.6.39, `page allo(ca|c)tion stalls for %ums, order:`,
`invoked oom-killer: gfp_mask=`). A quoted-printable soft break inside `page allo` or
`oom-killer` leaves the trigger word whole on neither line, but the next line holds one of
these whole: it is the rest of the header, or at least 59 columns long (`_unquote`), and the cut
word ends at most 46 columns in. While idle, a line holding one is fed only right after a held
soft break (`_cut_header`), with the held lines; otherwise it is skipped like any idle line. Two
words: each costs feed_block one bytes.find per block, and ripgrep next to nothing (a prefix
that seldom occurs). A break inside another trigger word is not covered (docs/logs.md)."""
PREFILTER_WORDS = _TRIGGERS + CUT_WORDS
"""The prefilter's fixed strings: every line `feed_block` stops at while idle holds one."""
HOLD_ENDS = (b"=", b"=\r", b": ", b":")
_SOFT_BREAK = (b"=", b"=\r")
HELD_LINES = 8
"""Lines before a trigger line in which a comm printed alone is fed before it: other hosts',
other programs' and blank lines may stand between a comm and its header in a fleet syslog."""
HELD_BYTES = 256
"""A longer line is never held (a comm is at most 64 bytes, a soft-broken line 77)."""
HELD_SPAN_BYTES = 4096
"""A skipped line longer than this ends the hold (the lines held before it are dropped), so
the prefilter's reader finds every held line within HELD_LINES * (HELD_SPAN_BYTES + 1) bytes."""


def holdable(raw: bytes) -> bool:
    """An idle line that is fed only if a trigger line follows it (see `LogScanner._held`)."""
    return len(raw) <= HELD_BYTES and raw.endswith(HOLD_ENDS)


_ANCHOR_WORDS = ("CPU:", "Pid:", "Mem-", "Call ", "lowmem_reserve", "Node ", "Hardware name", "active_anon:")
"""Every match of prefix.ANCHOR holds one of these: a line without any cannot teach a prefix
(tests/test_kernlog_fastpaths.py checks each alternative of ANCHOR)."""


def _may_anchor(body: str) -> bool:
    """`any(w in body for w in _ANCHOR_WORDS)`, written out: this runs on every report line."""
    return ("CPU:" in body or "Node " in body or "Call " in body or "Mem-" in body or "Pid:" in body
            or "lowmem_reserve" in body or "active_anon:" in body or "Hardware name" in body)



R_OUTSIDE = "outside any allocation report"
R_FOREIGN = "not a kernel message (other syslog tag)"
R_UNKNOWN = "unrecognised line inside a report"
R_BINARY = "binary or undecodable"
R_BLANK = "blank"
R_DROPPED = "report without a header or Mem-Info"


class _Stream:
    __slots__ = ("open_oom", "prefix", "prev", "report")

    def __init__(self) -> None:
        self.report: Report | None = None
        self.open_oom = False
        """The last report closed on this stream was an OOM without its kill line: a kill line
        that follows belongs to it (it was cut off by interleaved text), not to a new report."""
        self.prev: tuple[str, Unwrapped] | None = None
        self.prefix: Prefix | None = None
        """The wrapper `unwrap` did not know, learned from this stream's anchor lines."""


class LogScanner:
    """Feed physical lines (bytes or str) with `feed`; call `finish` at the end of input."""

    def __init__(self, source: str, fast: bool = True, defer_dumps: Collection[str] = ()) -> None:
        self.source = source
        self.fast = fast
        """Take runs of same-shaped report lines at once in `feed_block` (`runs.take_run`);
        False keeps the line-by-line reference path (same output, tested)."""
        self.defer_dumps = frozenset(defer_dumps)
        """Event kinds whose dump is left unparsed (`AllocEvent.mem_info_text`) for an output
        that does not print it; a dump without a report is always parsed."""
        self.skipped: dict[str, int] = {}
        self.cut_lines = 0
        self.hosts: Hosts = {}
        self._streams: dict[str | None, _Stream] = {}
        self._open = 0
        self._last_host: str | None = None
        self._qp_pending: str | None = None
        self._qp = False
        self._no = 0
        self._qp_start = 0
        self._start = 0
        """First physical line of the logical line being handled (QP soft breaks join lines)."""
        self._held: list[tuple[int, bytes]] = []
        """The idle lines just skipped that end like a lone comm or a soft break (`holdable`), at
        most HELD_LINES back, with their numbers: fed before a trigger line."""

    # -- bookkeeping -------------------------------------------------------------------------

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    @property
    def skipped_lines(self) -> int:
        return sum(self.skipped.values())

    @property
    def busy(self) -> bool:
        """A report is open (or a quoted-printable line is pending): every line must be fed."""
        return bool(self._open) or self._qp_pending is not None

    def skip_idle(self, n: int) -> None:
        """Count `n` lines a prefilter found free of `PREFILTER_WORDS`, as `feed_block` would."""
        if n:
            self._no += n
            self.skip(R_OUTSIDE, n)
            self._held.clear()  # a prefilter's region starts with the lines to hold (sparse_blocks)

    # -- resuming in the middle of a log (memstall logs --jobs) -----------------------------

    def at_line(self, line_no: int) -> None:
        """Number the lines as if `line_no` lines had been fed already (a scan of a file part)."""
        self._no = line_no

    def reset_counts(self) -> None:
        """Forget the skip and cut counts (a part's warm-up lines belong to the part before it)."""
        self.skipped = {}
        self.cut_lines = 0

    def state_key(self) -> tuple[object, ...]:
        """Everything that decides what the following lines produce, comparable with `==`.

        Two scanners with equal keys at the same line give the same items and counts from
        there on. A stream's previous line only matters when it is a comm printed alone, and
        an idle stream without a learned prefix is the same as no stream.
        """
        open_reports = []
        rest = []
        for key, st in self._streams.items():
            prev = st.prev if st.prev is not None and c.comm_alone(st.prev[0]) is not None else None
            pattern = st.prefix.pattern if st.prefix is not None else None
            if st.report is not None:
                open_reports.append((key, pattern, prev, st.open_oom, copy.deepcopy(vars(st.report))))
            elif pattern is not None or prev is not None or st.open_oom:
                rest.append((key, pattern, prev, st.open_oom, None))
        for streams in (open_reports, rest):  # stale reports close in file order (_close_stale)
            streams.sort(key=lambda r: (r[0] is None, r[0] or ""))
        return (self._no, self._qp, self._qp_pending, self._qp_start, self._last_host, self._open,
                frozenset(self.hosts), tuple(open_reports), tuple(rest),
                tuple(h for h in self._held if h[0] > self._no - HELD_LINES))

    # -- input -------------------------------------------------------------------------------

    def feed(self, raw: bytes) -> list[Item]:
        """One physical line (without its newline) as bytes; returns the reports it closed."""
        self._no += 1
        if len(raw) > MAX_LINE:
            raw = raw[:MAX_LINE]
            self.cut_lines += 1
        if (not self._open and self._qp_pending is None and not any(t in raw for t in _TRIGGERS)
                and not self._cut_header(raw)):
            self.skip(R_BLANK if not raw.strip() else R_OUTSIDE)
            self._hold(raw, self._no)
            return []
        if self._held:
            return self._fed_held(raw)
        return self._line(raw.decode("utf-8", "replace"))

    def _cut_header(self, raw: bytes) -> bool:
        """Idle line `raw` (numbered already) follows a held soft break and holds a cut word:
        it may be the rest of a header whose trigger word the break cut (CUT_WORDS)."""
        held = self._held
        return (bool(held) and held[-1][0] == self._no - 1 and held[-1][1].endswith(_SOFT_BREAK)
                and any(w in raw for w in CUT_WORDS))

    def _hold(self, raw: bytes, no: int) -> None:
        """After idle line `no` was skipped: keep it if `holdable`; forget the held lines that
        the next line's window (HELD_LINES back) no longer reaches, all of them after a line
        longer than HELD_SPAN_BYTES, and held soft breaks when another line follows them."""
        held = self._held
        if held and held[0][0] <= no - HELD_LINES:
            self._held = held = [h for h in held if h[0] > no - HELD_LINES]
        if held and len(raw) > HELD_SPAN_BYTES:
            self._held = []
        elif holdable(raw):
            held.append((no, raw))
        elif held and held[-1][1].endswith(_SOFT_BREAK):
            # a soft break joins the very next line only: it is held right before the trigger
            self._held = [h for h in held if not h[1].endswith(_SOFT_BREAK)]

    def _fed_held(self, raw: bytes) -> list[Item]:
        """A trigger line `raw` (counted already) after held lines: those among the HELD_LINES
        lines before it are fed first, each under its own line number and its skip taken back,
        then `raw`. Nothing was fed since they were held, so the scanner is idle and `raw`
        holds a trigger word. The lines between were skipped, as they are when every line is
        read: a comm's stream keeps it however many other hosts' lines come between."""
        no = self._no
        held = [h for h in self._held if h[0] >= no - HELD_LINES]
        self._held = []
        if not held:
            return self._line(raw.decode("utf-8", "replace"))
        # In a part of the file (--jobs), held lines of the warm-up were counted by the part
        # before: the count may go below zero here, and the parts' sum is right.
        left = self.skipped.get(R_OUTSIDE, 0) - len(held)
        if left:
            self.skipped[R_OUTSIDE] = left
        else:
            self.skipped.pop(R_OUTSIDE, None)
        out: list[Item] = []
        for self._no, line in held:
            out += self._line(line.decode("utf-8", "replace"))
        self._no = no
        return out + self._line(raw.decode("utf-8", "replace"))

    def feed_block(self, block: bytes) -> list[Item]:
        """Many physical lines at once (split at b'\\n'): same result as `feed` on each line.

        While no report is open, the block is searched for the trigger words with
        bytes.find (C speed) and the lines before the first hit are only counted.
        """
        out: list[Item] = []
        pos, end = 0, len(block)
        nxt: dict[bytes, int] = {}
        while pos < end:
            if not self._open and self._qp_pending is None:
                hit = self._next_trigger(block, pos, nxt)
                start = end if hit < 0 else max(pos, block.rfind(b"\n", pos, hit) + 1)
                skipped = block.count(b"\n", pos, start)
                if hit < 0 and block[-1:] != b"\n":
                    skipped += 1  # the last line has no newline
                if skipped:
                    self._no += skipped
                    self.skip(R_OUTSIDE, skipped)
                    self._hold_tail(block, pos, end if hit < 0 else start)
                if hit < 0:
                    return out
                pos = start
            if self._open and self.fast:
                after = take_run(self, block, pos, out)
                if after != pos:
                    pos = after
                    continue
            stop = block.find(b"\n", pos)
            if stop < 0:
                stop = end
            out.extend(self.feed(block[pos:stop]))
            pos = stop + 1
        return out

    def _hold_tail(self, block: bytes, pos: int, stop: int) -> None:
        """`_hold` each of the whole lines block[pos:stop] that feed_block skipped at once:
        only the last HELD_LINES can change what is held."""
        if block[stop - 1:stop] == b"\n":
            stop -= 1
        lines: list[bytes] = []
        while len(lines) < HELD_LINES:
            cut = block.rfind(b"\n", pos, stop)
            lines.append(block[(cut + 1 if cut >= 0 else pos):stop])
            if cut < 0:
                break
            stop = cut
        for back, line in reversed(list(enumerate(lines))):
            self._hold(line, self._no - back)

    @staticmethod
    def _next_trigger(block: bytes, pos: int, nxt: dict[bytes, int]) -> int:
        best = -1
        for t in PREFILTER_WORDS:
            at = nxt.get(t, 0)
            if 0 <= at < pos or t not in nxt:
                at = nxt[t] = block.find(t, pos)
            if at >= 0 and (best < 0 or at < best):
                best = at
        return best

    def feed_text(self, line: str) -> list[Item]:
        self._no += 1
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE]
            self.cut_lines += 1
        return self._line(line)

    def _line(self, line: str) -> list[Item]:
        out: list[Item] = []
        if self._open and self._no % 256 == 0:
            self._close_stale(out)
        line = line.rstrip("\r\n")
        if "\x00" in line or line.count("\ufffd") * 4 > len(line) > 0:
            self.skip(R_BINARY)
            return out
        joined = self._unquote(line)
        if joined is None:
            return out
        u = unwrap(joined, self.hosts)
        if not u.kernel:
            self.skip(R_FOREIGN)
            return out
        key = self._route(u)
        body = u.body
        if "#01" in body:  # rsyslog escapes the control characters of a multi-line record
            body = body.replace("#011", "\t").replace("#012", "\n")
        if "\\x0a" in body:  # /dev/kmsg escapes them as \xNN
            body = body.replace("\\x0a", "\n").replace("\\x09", "\t")
        bodies = body.split("\n") if "\n" in body else (body,)  # journal JSON keeps real newlines
        for body in bodies:
            self._body(key, body, u, out)
        return out

    def _unquote(self, line: str) -> str | None:
        """Undo quoted-printable soft breaks (`=` at the end of a <= 76-column line) and `=3D`."""
        if line.endswith("=") and 60 <= len(line) <= 77 and not line.endswith("=="):
            self._qp = True
            if self._qp_pending is None:
                self._qp_start = self._no
            self._qp_pending = ((self._qp_pending or "") + line[:-1])[:MAX_QP]
            return None
        self._start = self._no
        if self._qp_pending is not None:
            line, self._qp_pending = self._qp_pending + line, None
            self._start = self._qp_start
        if self._qp or "=3D" in line:
            self._qp = True
            line = line.replace("=3D", "=").replace("=20", " ")
        return line

    def _route(self, u: Unwrapped) -> str | None:
        host = u.host
        if host is None:
            return self._last_host
        if host != self._last_host:
            self._adopt(host)
        self._last_host = host
        return host

    def _adopt(self, host: str) -> None:
        """A header whose prefix was cut or missing (`28-159 kernel:`, no prefix at all) is
        followed by its body under the real host name: move the young report there."""
        prev = self._streams.get(self._last_host)
        new = self._streams.get(host)
        if prev is None or prev.report is None or (new is not None and new.report is not None):
            return
        rep = prev.report
        if (rep.host is not None and rep.host in self.hosts) or rep.lines > 64:
            return
        if new is None:
            new = self._streams[host] = _Stream()
        new.report, prev.report = rep, None
        rep.host = host

    # -- per stream --------------------------------------------------------------------------

    def _stream(self, key: str | None) -> _Stream:
        st = self._streams.get(key)
        if st is None:
            if len(self._streams) >= MAX_STREAMS:  # many host names: forget the idle ones
                self._streams = {k: v for k, v in self._streams.items() if v.report is not None}
            st = self._streams[key] = _Stream()
        return st

    @staticmethod
    def _strip_prefix(st: _Stream, body: str, u: Unwrapped) -> tuple[str, Unwrapped]:
        """Strip the stream's learned wrapper (learning it when an anchor stands after
        text); a dmesg stamp inside it is the line's time when the known wrappers gave none."""
        pfx = st.prefix
        if pfx is None or not pfx.matches(body):
            if not _may_anchor(body) or ANCHOR.search(body) is None:
                return body, u
            pfx = Prefix.learn(body)
            if pfx is None:
                return body, u
            st.prefix = pfx
            rep = st.report
            if rep is not None and rep.header and pfx.matches(rep.header):
                head, rep.header = pfx.split(rep.header)  # the header came before the first anchor
                found = stamp_in(head)
                if found is not None and rep.uptime_s is None:
                    rep.time, rep.uptime_s = found
        head, body = pfx.split(body)
        if u.stamp is None and "[" in head:
            found = stamp_in(head)
            if found is not None:
                u = u._replace(stamp=found[0], uptime_s=found[1])
        return body, u

    @staticmethod
    def _header_stamp(kind: str, s: str, u: Unwrapped) -> tuple[str, Unwrapped]:
        """`# [ 775.947949] nc.traditional: page allocation failure...`: a stamp glued
        after something no wrapper knows (a shell prompt) is cut with what precedes it."""
        at = s.find(" invoked oom-killer" if kind == "oom" else "page allo")
        found = None
        for m in STAMP_IN.finditer(s, 0, max(at, 0)):
            found = m
        if found is None:
            return s, u
        if u.stamp is None:
            u = u._replace(stamp=found.group(1), uptime_s=float(found.group(1)))
        return s[found.end():].strip(), u

    def _body(self, key: str | None, body: str, u: Unwrapped, out: list[Item]) -> None:
        st = self._stream(key)
        body, u = self._strip_prefix(st, body, u)
        s = body.strip()
        if not s:
            self.skip(R_BLANK)
            return
        kind = c.header_kind(s)
        if kind is not None and st.report is not None and not c.header_has_fields(s) \
                and st.report.kind is not None and st.report.phase in ("header", "trace"):
            kind = None  # a vendor's extra warning or a cut header: part of the open report
        if kind is not None:
            if "]" in s:
                s, u = self._header_stamp(kind, s, u)
            self._close(st, out)
            self._open_report(st, kind, s, u, key)
            return
        rep = st.report
        if rep is None:
            self._idle(st, s, u, key)
            return
        if rep.kind is None and "ut of memory" in s and oom_end(s):
            # a kill line after a CPU line or a Mem-Info of no report (a WARNING's, SysRq-m's):
            # not theirs; it is an OOM kill of its own (its report rate-limited away)
            self._close(st, out)
            self._idle(st, s, u, key)
            return
        rep.note_stamp(u)
        self._verdict(st, rep, rep.consume(s, self._start), s, u, key, out)

    def _verdict(self, st: _Stream, rep: Report, verdict: str, s: str, u: Unwrapped, key: str | None,
                 out: list[Item]) -> None:
        """What a report line's verdict does to the report (shared with `runs.take_run`)."""
        if verdict != OK:
            rep.lines -= 1  # counted as skipped below, or handed on
        if verdict == END:
            self._close(st, out)
            self._idle(st, s, u, key)  # the line may start the next thing (a CPU line...)
        elif verdict == UNKNOWN:
            self.skip(R_UNKNOWN)
            if u.caller_pid is None or u.caller_pid != rep.caller_pid:
                rep.unknown_run += 1  # a line the reporting task printed (its caller id) is not another's
            if rep.unknown_run > TOLERANCE:
                self._close(st, out)
        else:
            rep.unknown_run = 0

    def _open_report(self, st: _Stream, kind: str, s: str, u: Unwrapped, key: str | None) -> None:
        rep = Report(kind, s, u, self.source, self._start, key)
        if s.lstrip().startswith("page allo") and st.prev is not None:
            # `rsync: ` then `page allocation stalls ...`: KERN_CONT split the header.
            comm = c.comm_alone(st.prev[0])
            if comm is not None:
                rep.comm_hint = comm
                prev_u = st.prev[1]
                rep.time = prev_u.stamp or prev_u.wall or rep.time
                rep.uptime_s = prev_u.uptime_s if prev_u.stamp else rep.uptime_s
        st.report, st.prev = rep, None
        self._open += 1

    def _idle(self, st: _Stream, s: str, u: Unwrapped, key: str | None) -> None:
        if c.task_line(s) is not None:
            st.report = Report(None, "", u, self.source, self._start, key)
            st.report.lines = 0  # consume() counts the task line itself
            st.report.consume(s, self._start)
            self._open += 1
        elif c.MEMINFO_START.match(s) or "lowmem_reserve[]:" in s:
            rep = Report(None, "", u, self.source, self._start, key)
            rep.start_meminfo(s, self._start)
            st.report = rep
            self._open += 1
        elif not st.open_oom and "ut of memory" in s and oom_end(s):
            rep = Report("oom", "", u, self.source, self._start, key)  # an end without its begin
            rep.phase, rep.lines = "tail", 0
            rep.consume(s, self._start)
            st.report = rep
            self._open += 1
        else:
            self.skip(R_OUTSIDE)
            st.prev = (s, u)

    def _close(self, st: _Stream, out: list[Item]) -> None:
        rep = st.report
        if rep is None:
            return
        st.report = None
        self._open -= 1
        event = rep.event(rep.kind in self.defer_dumps)
        if (event is not None and event.oom is not None and not event.oom.has_begin and rep.lines < 2
                and event.oom.kill is None):
            self.skip(R_OUTSIDE, rep.lines)  # a lone select line: no kill followed, not a report
            return
        # A lone kill line is an OOM kill whose report was rate-limited away: oom_kill_process()
        # prints dump_header() only `if (__ratelimit(&oom_rs))` but __oom_kill_process() always
        # prints "<message>: Killed process ..." (mm/oom_kill.c, 2.6.x to 6.x). It is an event,
        # flagged incomplete (its beginning is missing).
        st.open_oom = event is not None and event.oom is not None and not event.oom.has_end
        if event is not None:
            out.append(event)
            return
        dump = rep.dump()
        if dump is not None:
            out.append(dump)
        else:
            self.skip(R_DROPPED, rep.lines)

    def _close_stale(self, out: list[Item]) -> None:
        """Close the reports whose host went quiet, in the order they started (not in the
        order the hosts were first seen, which a scan of a part of the file cannot know)."""
        stale = [st for st in self._streams.values()
                 if st.report is not None and self._no - st.report.last_line_no > STALE_LINES]
        stale.sort(key=lambda st: st.report.line_no if st.report is not None else 0)
        for st in stale:
            self._close(st, out)

    def finish(self) -> list[Item]:
        """End of input: close every open report (a cut Mem-Info is returned as partial)."""
        out: list[Item] = []
        if self._qp_pending is not None:
            pending, self._qp_pending = self._qp_pending, None
            self._no -= 1
            out.extend(self.feed_text(pending))
        for st in self._streams.values():
            self._close(st, out)
        out.sort(key=lambda item: item.line_no)
        return out


def scan_lines(lines: Iterable[bytes | str], source: str) -> Iterator[Item]:
    """Stream reports out of an iterable of physical lines (bytes or str)."""
    sc = LogScanner(source)
    for line in lines:
        yield from (sc.feed(line) if isinstance(line, bytes) else sc.feed_text(line))
    yield from sc.finish()


def scan_text(text: str, source: str = "<text>") -> LogScan:
    """The whole result for a text held in memory (tests, small logs)."""
    sc = LogScanner(source)
    items: list[Item] = []
    for line in text.splitlines():
        items.extend(sc.feed_text(line))
    items.extend(sc.finish())
    return LogScan(
        events=tuple(i for i in items if isinstance(i, AllocEvent)),
        standalone_mem_info=tuple(i for i in items if isinstance(i, MemInfoDump)),
        skipped_lines=sc.skipped_lines, skipped_reasons=dict(sc.skipped),
    )
