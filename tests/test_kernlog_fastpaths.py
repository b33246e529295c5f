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
    if c.FRAME_LINE.match(s):
        assert not _skipped_checks(s)
        assert c.frames(s)


def test_frame_lines_of_the_corpus() -> None:
    """Every corpus line FRAME_LINE takes is a frame the general path also sees as one."""
    taken = 0
    for log in sorted((KERNLOG / "corpus").glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            body = line.split("] ", 1)[-1].strip()
            if c.FRAME_LINE.match(body):
                taken += 1
                assert not _skipped_checks(body) and c.frames(body), body
    assert taken > 100
