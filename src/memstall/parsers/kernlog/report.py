"""One allocation report being assembled from the lines of one host's stream.

Phases: `header` (a header broken over several lines is joined, up to 3 more lines),
`trace` (task line, cpuset line, registers, call trace), `meminfo` (the dump's lines are
kept, at most MAX_MEMINFO_LINES), `tail` (OOM task table and kill lines). A report without
a header (a pasted body starting at the `CPU:` line, or a Mem-Info fragment) is kept too:
it becomes a `failure` when its trace shows `warn_alloc`, an `oom` when it shows the OOM
killer, a standalone dump when it is only a Mem-Info, and nothing otherwise.
"""

from __future__ import annotations

from dataclasses import replace

from memstall.model.kernlog import AllocEvent, DumpText, MemInfoDump
from memstall.parsers.kernlog import classify as c
from memstall.parsers.kernlog.meminfo import parse_mem_info
from memstall.parsers.kernlog.oom import OomTail, parse_kill
from memstall.parsers.kernlog.unwrap import Unwrapped

MAX_HEADER_JOINS = 3
MAX_TRACE = 64
MAX_MEMINFO_LINES = 4000
OOM_FRAMES = ("out_of_memory", "oom_kill_process", "pagefault_out_of_memory")
MEMCG_FRAMES = ("mem_cgroup_out_of_memory", "mem_cgroup_oom")

OK, UNKNOWN, END = "ok", "unknown", "end"


class Report:
    def __init__(self, kind: str | None, text: str, u: Unwrapped, source: str, line_no: int,
                 host: str | None) -> None:
        self.kind = kind
        self.header = text
        self.joins = 0
        self.phase = "header" if kind and not c.header_complete(kind, text) else "trace"
        self.source, self.line_no, self.host = source, line_no, host
        self.time = u.stamp or u.wall
        self.uptime_s = u.uptime_s
        self.comm_hint: str | None = None
        self.caller_pid = u.caller_pid
        self.task: c.TaskLine | None = None
        self.version: str | None = None
        self.version_pending = False
        self.cpuset: tuple[str, str] | None = None
        self.trace: list[str] = []
        self.mem_lines: list[str] = []
        self.mem_line_no = 0
        self.mem_header = False
        self.mem_closed = False
        self.killed: str | None = None
        self.memcg_seen = False
        self.oom_tail = OomTail()
        self.unknown_run = 0
        self.lines = 1
        self.last_line_no = line_no

    # -- feeding ---------------------------------------------------------------------------

    def note_stamp(self, u: Unwrapped) -> None:
        if self.time is None:
            self.time = u.stamp or u.wall
            self.uptime_s = u.uptime_s

    def consume(self, s: str, line_no: int) -> str:
        self.lines += 1
        self.last_line_no = line_no
        if self.phase == "header":
            fragment = s.startswith(("mode:", "nodemask=", "order:", ",")) and self.joins < 6
            if fragment or (self.joins < MAX_HEADER_JOINS and not c.REPORT_VOCAB.match(s)):
                self.header = f"{self.header.rstrip()} {s.strip()}"
                self.joins += 1
                if self.kind and c.header_complete(self.kind, self.header):
                    self.phase = "trace"
                return OK
            self.phase = "trace"
        if self.phase == "trace":
            return self._trace(s, line_no)
        if self.phase == "meminfo":
            return self._meminfo(s)
        return self._tail(s)

    def start_meminfo(self, s: str, line_no: int) -> None:
        self.phase = "meminfo"
        self.mem_line_no = line_no
        if c.MEMINFO_HEADER.match(s):
            self.mem_header = True
        elif "SysRq" not in s:
            self.mem_lines.append(s)

    def _trace(self, s: str, line_no: int) -> str:
        frame = c.FRAME_LINE.match(s) if not self.version_pending else None
        if frame is not None:
            return self._frames([frame.group(1)])  # no ':' or '=': no task, Mem-Info, tail or cpuset line
        if self.version_pending:
            self.version_pending = False
            v = c.kernel_version(" " + s)
            if v:
                self.version = v
                return OK
        task = c.task_line(s.strip())
        if task is not None:
            if self.task is not None:
                return UNKNOWN
            self.task = task
            self.version = task.version
            self.version_pending = task.version is None
            return OK
        if c.MEMINFO_START.match(s):
            self.start_meminfo(s, line_no)
            return OK
        if c.OOM_TAIL.match(s):
            self.phase = "tail"
            return self._tail(s)
        cs = c.cpuset_line(s.strip())
        if cs is not None and self.cpuset is None:
            self.cpuset = cs
            return OK
        names = c.frames(s)
        if names:
            return self._frames(names)
        return OK if c.REPORT_VOCAB.match(s) else UNKNOWN

    def _frames(self, names: list[str]) -> str:
        if not names:
            return UNKNOWN  # not reached for a FRAME_LINE, which always names a function
        if len(self.trace) < MAX_TRACE:
            self.trace.extend(names[: MAX_TRACE - len(self.trace)])
        if self.kind is None:
            if any(n.startswith("warn_alloc") for n in names):
                self.kind = "failure"
            elif any(n.startswith(OOM_FRAMES) for n in names):
                self.kind = "oom"
        return OK

    def _meminfo(self, s: str) -> str:
        if c.OOM_TAIL.match(s):
            self.mem_closed = True
            self.phase = "tail"
            return self._tail(s)
        if c.CUT.match(s):
            return END
        if c.MEMINFO_HEADER.match(s):
            if self.mem_lines or self.mem_header:
                return END  # a second dump: the caller starts a new one
            self.mem_header = True
            return OK
        if c.MEMINFO_VOCAB.search(s):
            if len(self.mem_lines) < MAX_MEMINFO_LINES:
                self.mem_lines.append(s)
            # every alternative of MEMINFO_CLOSING holds one of these words (the search is slow)
            if ("pages" in s or "Memory cgroup" in s) and c.MEMINFO_CLOSING.search(s):
                self.mem_closed = True
            return OK
        # After `N pages reserved` (the last lines of show_mem) a stall or failure report is
        # over: the first other line ends it at once.
        return END if self.mem_closed and self.kind in ("stall", "failure") else UNKNOWN

    def _tail(self, s: str) -> str:
        if any(w in s for w in c.MEMCG_TAIL_WORDS) and c.MEMCG_TAIL.search(s):
            self.memcg_seen = True
        k = c.KILLED.search(s) if "Killed process" in s else None
        if k and self.oom_tail.kill is not None and parse_kill(s) is not None:
            return END  # a second kill line: the next OOM (its report rate-limited away)
        if k and self.killed is None:
            self.killed = s.strip()
        taken = self.oom_tail.feed(s)
        if taken or c.OOM_TAIL.match(s) or k:
            return OK
        # a report known only by its kill line ends with it: what follows is not its own
        return END if not self.header and self.oom_tail.kill is not None else UNKNOWN

    # -- closing ---------------------------------------------------------------------------

    def dump_text(self) -> DumpText | None:
        if self.phase not in ("meminfo", "tail") or (not self.mem_lines and not self.mem_header):
            return None
        return DumpText(tuple(self.mem_lines), self.source, self.mem_line_no or self.line_no,
                        self.mem_header and self.mem_closed)

    def dump(self) -> MemInfoDump | None:
        text = self.dump_text()
        return parse_dump_text(text) if text is not None else None

    def event(self, defer_dump: bool = False) -> AllocEvent | None:
        """The report as an event; with `defer_dump`, its dump stays text (`mem_info_text`)."""
        if self.kind is None:
            return None
        h = c.parse_header(self.kind, self.header) if self.header else None
        text = self.dump_text()
        task = self.task
        comm = (h.comm if h else None) or self.comm_hint or (task.comm if task else None)
        cpuset = (h.cpuset, h.mems_allowed) if h and h.cpuset is not None else self.cpuset
        return AllocEvent(
            kind=self.kind, time=self.time, uptime_s=self.uptime_s, host=self.host, comm=comm,
            pid=task.pid if task else self.caller_pid, cpu=task.cpu if task else None,
            order=h.order if h else None, gfp_mode=h.gfp_mode if h else None,
            gfp_flags=h.gfp_flags if h else None, stall_ms=h.stall_ms if h else None,
            kernel_version=self.version, nodemask=h.nodemask if h else None,
            cpuset=cpuset[0] if cpuset else None, mems_allowed=cpuset[1] if cpuset else None,
            oom_score_adj=h.oom_score_adj if h else None, oom_adj=h.oom_adj if h else None,
            call_trace=tuple(self.trace),
            mem_info=parse_dump_text(text) if text is not None and not defer_dump else None,
            source=self.source, line_no=self.line_no,
            uid=task.uid if task else None, killed=self.killed, memcg=self._memcg(),
            oom=self.oom_tail.build(bool(self.header)) if self.kind == "oom" else None,
            mem_info_text=text if defer_dump else None,
        )

    def _memcg(self) -> bool | None:
        if self.kind != "oom":
            return None
        return self.memcg_seen or any(n.startswith(MEMCG_FRAMES) for n in self.trace)


def parse_dump_text(text: DumpText) -> MemInfoDump:
    """A deferred dump parsed: what the scanner would have put in `AllocEvent.mem_info`."""
    return parse_mem_info(text.lines, text.source, text.line_no, text.complete)


def with_dump_parsed(e: AllocEvent) -> AllocEvent:
    """`e` as a scanner that defers nothing gives it (its deferred dump parsed)."""
    if e.mem_info_text is None:
        return e
    return replace(e, mem_info=parse_dump_text(e.mem_info_text), mem_info_text=None)
