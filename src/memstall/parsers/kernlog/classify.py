"""What one line of kernel text is: a report header, the task line, a trace frame, Mem-Info...

Header formats by era (docs/kernel.md#allocation-stall-message, #allocation-failure-message, #oom-report):

* stall, 4.9: `%s: page allocation stalls for %ums, order:%u, mode:%#x(%pGg)`; 4.10-4.14 add
  `, nodemask=%*pbl` and print `%s cpuset=%s mems_allowed=%*pbl` on the next line. Removed in
  4.15. The first 4.9-rc version had the typo `page alloction stalls`.
* failure, 2.6: `page allocation failure. order:%d, mode:0x%x` (a dot); 2.6.39+ a colon;
  4.6+ `mode:%#x(%pGg)`; 4.10+ `, nodemask=...` then a cpuset line; 5.0+ the cpuset moved
  onto the header: `,cpuset=%s,mems_allowed=%*pbl`.
* oom: `%s invoked oom-killer: gfp_mask=0x%x, order=%d, oom_score_adj=%hd` (2.6.24:
  `oomkilladj=`; 2.6.36-3.6: `oom_adj=%d, oom_score_adj=%d`); 4.6+ `gfp_mask=%#x(%pGg)`;
  4.9-4.20 `nodemask=` between gfp_mask and order.
"""

from __future__ import annotations

import re
from typing import NamedTuple

STALL = re.compile(r"page allo(?:ca|c)tion stalls for (\d{1,18})\s*ms")
FAILURE = re.compile(r"page allocation failure[.:]")
OOM = re.compile(r"\binvoked oom-killer:")
_COMM_BEFORE = re.compile(r"^(.*?):\s*page allo")
_COMM_OOM = re.compile(r"^(.*?) invoked oom-killer")
# order=-1: an OOM forced by hand (SysRq-f, moom_callback in drivers/tty/sysrq.c), kept as -1.
_ORDER = re.compile(r"order[:=]\s*(-1|\d{1,18})")
_MODE = re.compile(r"(?:mode|gfp_mask)[:=]\s*(0[xX][0-9a-fA-F]+)(\(([^)]*)\)?)?")
_NODEMASK = re.compile(r"nodemask=(\(null\)|\d+(?:[,\-]\d+)*)")  # 4.9: `nodemask=0, order=0`
_CPUSET_TAIL = re.compile(r"cpuset=([^,\s]*),\s*mems_allowed=([\d,\-]+)")
_CPUSET_LINE = re.compile(r"^(.*?)\s*cpuset=(\S*)\s+mems_allowed=([\d,\-]+)")
_OOM_ADJ = re.compile(r"oom_score_adj=(-?\d{1,18})")
_OOM_OLD_ADJ = re.compile(r"\b(?:oomkilladj|oom_adj)=(-?\d{1,18})")  # <= 3.6: -17..15
_COMM_ALONE = re.compile(r"^(\S(?:.*\S)?):\s*$")
_QUOTED_ORDER = re.compile(r"page allo(?:cation failure[.:]|(?:ca|c)tion stalls for \d{1,18}\s*ms,)"
                           r"\s*order:\d{1,18}(?=[^\d,\s])")
"""The phrase quoted in prose: every kernel prints `order:%u` then `, mode:` (or the line ends
where a screen or a KERN_CONT break cut it), never another character straight after the number
(`...(i.e. page allocation failure: order:10). But...`)."""


class Header(NamedTuple):
    kind: str
    comm: str | None
    order: int | None
    gfp_mode: str | None
    gfp_flags: tuple[str, ...] | None
    stall_ms: int | None
    nodemask: str | None
    cpuset: str | None
    mems_allowed: str | None
    oom_score_adj: int | None
    oom_adj: int | None


def header_kind(text: str) -> str | None:
    """'stall', 'failure' or 'oom' when `text` holds the start of a report header."""
    if "page allo" in text:
        if _QUOTED_ORDER.search(text):
            return None
        if FAILURE.search(text):
            return "failure"
        if STALL.search(text):
            return "stall"
    if "oom-killer" in text and OOM.search(text):
        return "oom"
    return None


def header_has_fields(text: str) -> bool:
    """A header line names an order, a mode or a stall time; a line that only mentions
    `page allocation failure` (a vendor's extra warning, a header cut at the screen edge)
    does not."""
    return bool(_ORDER.search(text) or _MODE.search(text) or STALL.search(text))


def header_complete(kind: str, text: str) -> bool:
    """False while a wrapped or KERN_CONT-broken header still misses its tail."""
    t = text.rstrip()
    if t.endswith((",", "|")):
        return False
    m = _MODE.search(t)
    if m is None:
        return False
    if m.group(2) is not None and not m.group(2).endswith(")"):
        return False
    if kind == "oom":
        return "order=" in t and ("adj=" in t or "oomkilladj" in t)
    return "order:" in t


def parse_header(kind: str, text: str) -> Header:
    m = (_COMM_OOM if kind == "oom" else _COMM_BEFORE).search(text)
    comm = m.group(1) if m and m.group(1).strip() else None  # as printed: a comm may end in a space
    tail = text[m.end():] if m else text
    order = _ORDER.search(tail)
    mode = _MODE.search(tail)
    flags: tuple[str, ...] | None = None
    if mode is not None and mode.group(3) is not None:
        flags = tuple(f for f in mode.group(3).split("|") if f)
    stall = STALL.search(text) if kind == "stall" else None
    nodemask = _NODEMASK.search(tail)
    cpuset = _CPUSET_TAIL.search(tail)
    adj = _OOM_ADJ.search(tail)
    old_adj = _OOM_OLD_ADJ.search(tail)
    return Header(
        kind=kind, comm=comm,
        order=int(order.group(1)) if order else None,
        gfp_mode=mode.group(1).lower() if mode else None,
        gfp_flags=flags,
        stall_ms=int(stall.group(1)) if stall else None,
        nodemask=nodemask.group(1) if nodemask else None,
        cpuset=cpuset.group(1) if cpuset else None,
        mems_allowed=cpuset.group(2) if cpuset else None,
        oom_score_adj=int(adj.group(1)) if adj else None,
        oom_adj=int(old_adj.group(1)) if old_adj else None,
    )


def comm_alone(text: str) -> str | None:
    """`rsync: ` printed alone (KERN_CONT breakage put the rest of the header on the next line)."""
    m = _COMM_ALONE.match(text)
    return m.group(1) if m and len(m.group(1)) <= 64 else None


def cpuset_line(text: str) -> tuple[str, str] | None:
    if "cpuset=" not in text:  # the pattern's one literal: its lazy `.*?` would try every position
        return None
    m = _CPUSET_LINE.match(text)
    return (m.group(2), m.group(3)) if m else None


# --- the task line ------------------------------------------------------------------------

_CPU_LINE = re.compile(r"^CPU: *(\d{1,18}) +(?:UID: *(\d{1,18}) +)?PID: *(\d{1,18}) +Comm: *(.*?)"
                       r"(?: +(?:Not tainted|Tainted:)|$)")
_PID_LINE = re.compile(r"^Pid: *(\d{1,18}), comm: *(\S+)")
_VERSION = re.compile(r"(?:^|\s)(\d+\.\d+(?:\.\d+)?[^\s#]*)\s+#\d")
_VERSION_END = re.compile(r"(?:tainted|Tainted: [A-Z ]*?|^ [A-Z ]*?)\s+(\d+\.\d+(?:\.\d+)?\S*)\s*$")
"""A release ending the line without a build number: after `Not tainted`, after the taint
flags (`Tainted: G S      W  O      5.10.81-android12-9-24321119`, an Android GKI task line),
or after the flags alone when the caller already cut `Tainted:` off."""


class TaskLine(NamedTuple):
    cpu: int | None
    uid: int | None
    pid: int
    comm: str
    version: str | None


def task_line(text: str) -> TaskLine | None:
    """`CPU: 4 PID: 1467 Comm: python Tainted: G O 4.9.0-8-amd64 #1` or 2.6/3.x `Pid: N, comm: X`."""
    m = _CPU_LINE.match(text)
    if m:
        cpu, uid, pid, comm = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
        rest = text[m.end():]
    else:
        m = _PID_LINE.match(text)
        if not m:
            return None
        cpu, uid, pid, comm, rest = None, None, int(m.group(1)), m.group(2), text[m.end():]
    return TaskLine(cpu, int(uid) if uid else None, pid, comm.strip(), kernel_version(rest))


def kernel_version(text: str) -> str | None:
    m = _VERSION.search(text) or _VERSION_END.search(text)
    return m.group(1) if m else None


# --- call-trace frames ------------------------------------------------------------------------

_SYM = r"[A-Za-z_.$][\w.$]*"
_FROM = re.compile(rf"^\s*(?:\[<[0-9a-f]+>\]\s*)?\(?({_SYM})(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?"
                   rf"(?:\s\[[\w-]+\])?\)?\s+from\s")
_OFF = re.compile(rf"(?:^|[\s\[\]>(:])(?:\?\s+)?({_SYM})\+0x[0-9a-f]+/0x[0-9a-f]+")
_BRACE = re.compile(rf"\{{({_SYM})\+\d+\}}")
FRAME_LINE = re.compile(rf"^(?:\[<[0-9a-f]+>\]\s*)?(?:\?\s+)?({_SYM})\+0x[0-9a-f]+/0x[0-9a-f]+"
                        r"(?:\s\[[\w-]+\])?$")
"""A line that is one frame and nothing else (no ':' or '=', so no other kind of line); group 1
is the function, what `frames` returns for the line."""
_NOT_FRAME = ("RIP:", "EIP:", "PC is at", "LR is at", "pc :", "lr :", "Code:", "IP:")


def frames(text: str) -> list[str]:
    """Function names of the call-trace frames on one line (most lines hold one)."""
    s = text.lstrip()
    if s.startswith(_NOT_FRAME):
        return []
    # each pattern only where its literal text is (`from`, `+0x`, `{`): most lines that reach
    # here (stack words, registers, `Call Trace:`) hold none, and _OFF's search is slow
    m = _FROM.match(s) if "from" in s else None
    if m:
        return [m.group(1)]
    m = _OFF.search(s) if "+0x" in s else None
    if m:
        return [m.group(1)]
    return _BRACE.findall(s) if "{" in s else []


# --- line families ------------------------------------------------------------------------

# Lines a report prints between its header and its Mem-Info (task line, registers, stack
# words, trace markers...). Anything else inside a report is counted as unrecognised.
REPORT_VOCAB = re.compile(r"""^\s*(?:
    CPU:\s*\d+ | Pid:\s*\d+ | Hardware\ name: | Workqueue: | Tainted: | Sched_ext: | Call\ [Tt]race:
  | Stack: | Backtrace: | Exception\ stack | Code: | Modules\ linked | RIP: | EIP: | IP: | PC\ is | LR\ is
  | pc\ : | lr\ : | sp\ : | x\d+\s*: | <[/A-Z]+> | \[<[0-9a-f]+>\] | <[0-9a-f]{8,16}>\{ | \?\s
  | \[?[\w.:]+\+0x[0-9a-f]+/0x | \(?[\w.]+(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?\)?\s(?:\[[\w-]+\]\s)?from\s
  | [A-Z][A-Z0-9_]{1,7}:\s*[0-9a-f]{4} | >?\s*[0-9a-f]{8,16}(?:\s+[0-9a-f]{8,16})*\s*$ | [0-9a-f]{4}:\s
  | =+\s*$
  | warn_alloc | COMPACTION | ---\[ | \S+\ callbacks\ suppressed | ORIG_RAX | \S+\s+cpuset=
  | \S.*\scpuset=\S*\smems_allowed= | nodemask= | mode:0x
)""", re.X)

MEMINFO_HEADER = re.compile(r"^\s*Mem-[Ii]nfo:")
MEMINFO_START = re.compile(r"""^\s*(?:
    Mem-[Ii]nfo: | SysRq\s*:\s*Show\ Memory | (?:Node\ \d+\ )?\S+\ per-cpu: | [Aa]ctive(?:_anon)?:\s?\d+
  | (?:Node\ \d+\ )?[A-Z]\w*\ free:\s?\d+kB | Node\ \d+\ active_anon: | lowmem_reserve\[\]: | protections\[\]:
  | (?:Node\ \d+\ )?[A-Z]\w*:\ (?:\d+\*\d+kB|empty) | Node\ \d+\ hugepages_total=
  | [a-z_]+:\d+(?:\s+[a-z_]+:\d+)+\s*$
)""", re.X)
MEMINFO_VOCAB = re.compile(r"""(?:
    (?<![\w()\]\[])[\w()\]\[]+:\s?-?\d | (?<!\d)\d+\*\d+kB | \dkB\b | ^\s*-?\d+\s*$ | ^\s*=
  | \bpages\b | swap | per-cpu
  | ^\s*\([A-Z]+\) | ^\s*Node\s+\d+ | lowmem_reserve | protections | hugepages_ | \[\.\.\.\] | \bempty\b
  | ^\s*(?:yes|no)\s*$ | ^\s*cpu\s+\d+ | ^\s*CPU\s+\d+: | unreclaimable | Free\ pages | reserved
  | ^\s*[A-Za-z_]+:\s*$ | Mem-[Ii]nfo
  | ^\s*Swap\ cache(?:\ stats)?:  # show_swap_cache_info(): `Swap cache: add N, delete N,
                                 # find N/N, race N+N` (2.6.x), `Swap cache stats: add N, ...`
)""", re.X)
PERCPU = re.compile(r"^\s*(?:(?:Node \d+ )?\S+ per-cpu:|CPU\s+\d+:\s+(?:hi|Hot)|cpu \d+ (?:hot|cold):)")
MEMINFO_CLOSING = re.compile(r"pages RAM|pages of RAM|pages reserved|reserved pages|pages hwpoisoned"
                             r"|Memory cgroup min protection")
# Lines after which the dump is over; the OOM report itself may go on (task table, kill).
OOM_TAIL = re.compile(r"^\s*(?:Tasks state|\[\s*pid\s*\]|oom-kill:|Out of memory|Killed process|"
                      r"Memory cgroup (?:out of memory|stats)|\[\s*\d+\]\s+\d+|oom_reaper:|"
                      r"memory: usage|swap: usage|kmem: usage|memory\+swap: usage|Task in \S|"
                      r"[a-z_]+ \d+\s*$)")  # memcg OOM: `Memory cgroup stats for /x:` then `anon 123`
# OOM tail lines only a memory cgroup's OOM prints (4.19+ `oom-kill:constraint=CONSTRAINT_MEMCG`).
MEMCG_TAIL_WORDS = ("Memory cgroup ", ": usage", "Task in ", "constraint=CONSTRAINT_MEMCG")
"""Every match of MEMCG_TAIL holds one of these."""
MEMCG_TAIL = re.compile(r"Memory cgroup (?:out of memory|stats)|^\s*(?:memory|memory\+swap|kmem): usage"
                        r"|^\s*Task in \S.* killed as a result of limit of "
                        r"|constraint=CONSTRAINT_MEMCG")
CUT = re.compile(r"^\s*(?:BUG:|Oops|Unable to handle|Kernel panic|------------\[ cut here)")
KILLED = re.compile(r"Killed process (\d{1,18}) \(([^)]*)\)")
