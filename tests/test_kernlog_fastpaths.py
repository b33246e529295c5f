"""Fast paths of the kernel-log parser agree with the general checks they skip."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from memstall.parsers.kernlog import classify as c

KERNLOG = Path(__file__).parent / "fixtures" / "kernlog"

_SYMS = st.from_regex(r"\A[A-Za-z_.$][\w.$]{0,20}\Z", fullmatch=True)
_FRAMES = st.builds(
    lambda addr, q, sym, off, size, mod: (f"[<{addr}>] " if addr else "") + ("? " if q else "")
    + f"{sym}+0x{off:x}/0x{size:x}" + (f" [{mod}]" if mod else ""),
    st.one_of(st.none(), st.from_regex(r"\A[0-9a-f]{8,16}\Z", fullmatch=True)), st.booleans(), _SYMS,
    st.integers(0, 1 << 20), st.integers(1, 1 << 20),
    st.one_of(st.none(), st.from_regex(r"\A[\w-]{1,12}\Z", fullmatch=True)))


def _skipped_checks(s: str) -> bool:
    """The checks `Report._trace` runs before `frames`, which a FRAME_LINE skips."""
    return (c.task_line(s.strip()) is not None or c.MEMINFO_START.match(s) is not None
            or c.OOM_TAIL.match(s) is not None or c.cpuset_line(s.strip()) is not None)


@settings(max_examples=300)
@given(st.one_of(_FRAMES, st.text(max_size=80)))
def test_a_frame_line_is_no_other_kind_of_line(s: str) -> None:
    m = c.FRAME_LINE.match(s)
    if m:
        assert not _skipped_checks(s)
        assert c.frames(s) == [m.group(1)]


def test_frame_lines_of_the_corpus() -> None:
    """Every corpus line FRAME_LINE takes is a frame the general path also sees as one."""
    taken = 0
    for log in sorted((KERNLOG / "corpus").glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            body = line.split("] ", 1)[-1].strip()
            m = c.FRAME_LINE.match(body)
            if m:
                taken += 1
                assert not _skipped_checks(body) and c.frames(body) == [m.group(1)], body
    assert taken > 100


_TRICKY = ["Mar  1 10:00:00 h sshd[12]: Accepted key", "Mar  1 10:00:00 kernel: foo[1]: x",
           "Mar  1 10:00:00 kernel:h sshd[1]: x", "Mar  1 10:00:00 h  kernel[0]: x",
           "Mar  1 10:00:00 h  CRON[1]:x", "Mar  1 10:00:00 h tag[1]: [ 12.5] x",
           "Mar  1 10:00:00 h tag[1]: 7221.937932] y",
           "Mar 11 10:00:00 h tag[1]: [Fri Aug 11 16:51:47 2017] z", "Mar  1 10:00:00.123 h tag[1]: x",
           "Mar  1 10:00:00 h kernel: tag[1]: x", "Mar  1 10:00:00 h tag[x]: x"]
_WORDS = st.sampled_from(["Mar  1 10:00:00", "Jan 31 23:59:59", " ", "  ", "h", "kernel", "kernel:", ":", "[",
                          "]", "12", "sshd", "[12]", "[ 12.5]", ": ", "x", "7221.937932]", "-", "."])


def _agree(line: str) -> None:
    from memstall.parsers.kernlog.unwrap import unwrap, unwrap_general

    fast_hosts: dict[str, None] = {}
    general_hosts: dict[str, None] = {}
    assert unwrap(line, fast_hosts) == unwrap_general(line, general_hosts), line
    assert fast_hosts == general_hosts, line


def test_foreign_syslog_fast_path_agrees_with_the_general_path() -> None:
    from memstall.parsers.kernlog.unwrap import _FAST_FOREIGN

    assert sum(bool(_FAST_FOREIGN.match(line)) for line in _TRICKY) >= 6  # the fast path is taken
    for line in _TRICKY:
        _agree(line)


@settings(max_examples=300)
@given(st.lists(_WORDS, max_size=10).map("".join))
def test_unwrap_fast_paths_agree_on_random_wrappers(line: str) -> None:
    _agree(line)


def _top_level_alternatives(pattern: str) -> list[str]:
    out, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        depth += ch == "("
        depth -= ch == ")"
        if ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*out, pattern[start:]]


def test_every_prefix_anchor_holds_one_of_the_scanners_anchor_words() -> None:
    """The scanner skips ANCHOR.search on lines without any of _ANCHOR_WORDS: an anchor added
    to prefix.ANCHOR must hold one of them (or the words must grow)."""
    from memstall.parsers.kernlog.prefix import ANCHOR
    from memstall.parsers.kernlog.scanner import _ANCHOR_WORDS

    alternatives = _top_level_alternatives(ANCHOR.pattern)
    assert len(alternatives) >= 9
    for alt in alternatives:
        literal = alt.replace("\\", "")
        assert any(w in literal for w in _ANCHOR_WORDS), alt


_ANCHORS = st.sampled_from(["CPU: 3 PID: 42 Comm: x", "Pid: 7, comm: y", "Mem-Info:", "Mem-info:",
                            "Call Trace:", "Call trace:", "lowmem_reserve[]: 0 0", "Node 0 Normal free:12kB",
                            "Node 1 DMA32: 3*4kB", "Node 0 HighMem: empty", "Hardware name: QEMU",
                            "active_anon:1 inactive_anon:2", "CPU: 1 UID: 0 PID: 9 Comm: z"])


@settings(max_examples=300)
@given(st.text(max_size=40), st.one_of(st.none(), _ANCHORS), st.text(max_size=40))
def test_may_anchor_is_true_wherever_anchor_matches(head: str, anchor: str | None, tail: str) -> None:
    from memstall.parsers.kernlog.prefix import ANCHOR
    from memstall.parsers.kernlog.scanner import _may_anchor

    text = head + (anchor or "") + tail
    if ANCHOR.search(text) is not None:
        assert _may_anchor(text)
    if anchor is not None:
        assert _may_anchor(text)


# --- literal guards before slow regexes (classify.frames, cpuset_line, Report._tail) -----------

_TRACE_BITS = st.sampled_from([
    " ", "  ", "\t", "? ", "from ", " from", "from", "+0x1f/0x20", "+0x", "/0x40", "{", "}", "{foo+12}",
    "[<ffffffff8113fedc>]", "[<ffff>] ", "(", ")", "[ext4]", "warn_alloc", "dump_stack", "RIP:", "PC is at",
    "cpuset=", "cpuset=/", " mems_allowed=0", "mems_allowed=0-1", "x", "0000000000000000", ":",
    "ffffac699b2e3ab0",
    "Memory cgroup ", "out of memory", "stats", "memory", ": usage", "kmem", "memory+swap", "Task in ", "/a",
    " killed as a result of limit of ", "constraint=CONSTRAINT_MEMCG", "Killed process ", "12 (a)", "é",
])
_TRACEISH = st.one_of(st.lists(_TRACE_BITS, max_size=12).map("".join), st.text(max_size=60))


def _frames_unguarded(text: str) -> list[str]:
    s = text.lstrip()
    if s.startswith(c._NOT_FRAME):
        return []
    m = c._FROM.match(s) or None
    if m:
        return [m.group(1)]
    m = c._OFF.search(s)
    if m:
        return [m.group(1)]
    return c._BRACE.findall(s) if "{" in s else []


@settings(max_examples=500)
@given(_TRACEISH)
def test_literal_guards_change_no_answer(s: str) -> None:
    """Each guard is a literal its pattern must hold: the guarded call answers as the bare regex."""
    assert c.frames(s) == _frames_unguarded(s)
    m = c._CPUSET_LINE.match(s)
    assert c.cpuset_line(s) == ((m.group(2), m.group(3)) if m else None)
    assert (any(w in s for w in c.MEMCG_TAIL_WORDS) and c.MEMCG_TAIL.search(s) is not None) \
        == (c.MEMCG_TAIL.search(s) is not None)
    assert ("Killed process" in s and c.KILLED.search(s) is not None) == (c.KILLED.search(s) is not None)


def test_the_guards_are_reached() -> None:
    """The bits above do make each pattern match (so the test above can fail)."""
    assert c.frames(" [<ffffffff8113fedc>] ? warn_alloc+0x1f/0x20 [ext4]") == ["warn_alloc"]
    assert c.frames("dump_stack+0x1/0x2 from x") == ["dump_stack"]
    assert c.frames("x {foo+12}") == ["foo"]
    assert c.cpuset_line("x cpuset=/ mems_allowed=0") == ("/", "0")
    assert c.MEMCG_TAIL.search("Task in /a killed as a result of limit of /a")
    assert c.KILLED.search("Killed process 12 (a)")
