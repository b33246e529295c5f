"""A header quoted in prose is not a header (held-back h13, fixed after its blind score).

Every kernel prints `order:%u` and then `, mode:`, or the line ends where a screen or a
KERN_CONT break cut it; a character straight after the number means the phrase is quoted in a
sentence, and the line must not open a report of its own (which would make the real header
that follows the second event)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from memstall.parsers.kernlog import scan_text
from memstall.parsers.kernlog.classify import header_kind

REAL = ("[ 2161.623563] xxxx: page allocation failure: order:10, mode:0x2084020(GFP_ATOMIC|__GFP_COMP)\n"
        "[ 2161.632085] CPU: 0 PID: 179 Comm: AiApp Not tainted 4.9.56 #53\n")


def test_a_sentence_quoting_the_header_opens_no_report() -> None:
    prose = ("You see, the kernel complains when allocating memory with the size of order:10"
             "(i.e.page allocation failure: order:10). But there are free blocks indeed.\n\n")
    events = scan_text(prose + REAL).events
    assert [(e.comm, e.order, e.pid) for e in events] == [("xxxx", 10, 179)]


@given(st.sampled_from(["failure: ", "failure. ", "stalls for 1234ms, "]), st.integers(0, 10),
       st.sampled_from([")", "). But", "x", ".", ";", "]"]))
def test_order_followed_by_other_text_is_prose(phrase: str, order: int, after: str) -> None:
    assert header_kind(f"(i.e. page allocation {phrase}order:{order}{after}") is None


@given(st.sampled_from(["failure: ", "failure. ", "stalls for 1234ms, "]), st.integers(0, 10),
       st.sampled_from(["", ",", ", mode:0x20", " ", ",mode:0x24201ca(GFP_HIGHUSER_MOVABLE)"]))
def test_order_as_the_kernel_prints_it_is_a_header(phrase: str, order: int, after: str) -> None:
    kind = "stall" if phrase.startswith("stalls") else "failure"
    assert header_kind(f"python: page allocation {phrase}order:{order}{after}") == kind
