"""The prefix learner: a wrapper `unwrap` does not know is learned from the kernel's anchors.

Mutation test: the kernel text of real corpus reports is wrapped in random per-line prefixes
(constant text, zero-padded or growing counters, clock times, a host name, hex ids, in any
order) and must give the same facts as the plain report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from memstall.parsers.kernlog import scan_text
from memstall.parsers.kernlog.prefix import Prefix, shape
from memstall.parsers.kernlog.unwrap import unwrap

CORPUS = Path(__file__).parent / "fixtures" / "kernlog" / "corpus"
# Reports with a header, a task line and a Mem-Info, in several wrappers and kernel eras.
FILES = ("000", "006", "007", "013", "018", "021", "028", "037")


def _plain(num: str) -> list[str]:
    path = next(CORPUS.glob(f"{num}-*.log"))
    hosts: dict[str, None] = {}
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        u = unwrap(line, hosts)
        if u.kernel and u.body.strip():
            out.append(u.body)
    return out


def _facts(text: str) -> list[Any]:
    scan = scan_text(text)
    facts: list[Any] = []
    for e in scan.events:
        facts.append((e.kind, e.comm, e.pid, e.cpu, e.order, e.gfp_mode, e.gfp_flags, e.stall_ms,
                      e.nodemask, e.kernel_version, e.call_trace[:8]))
        d = e.mem_info
        facts.append(None if d is None else (d.zones, d.buddy, dict(d.summary_pages), d.pages_ram, d.partial))
    facts.append(len(scan.standalone_mem_info))
    return facts


PLAIN = {n: _plain(n) for n in FILES}
EXPECTED = {n: _facts("\n".join(lines)) for n, lines in PLAIN.items()}

_CONST = st.sampled_from(["app|", "console>", "LOG", "vm-serial:", "##", "fw.log", "(kmsg)", "@",
                          "I/", "ttyS0", "node-7", "--"])
_PART = st.one_of(
    _CONST.map(lambda c: ("const", c)),
    st.sampled_from(["counter", "padded", "clock", "uptime", "hex"]).map(lambda k: (k, "")),
)


def _render(parts: list[tuple[str, str]], i: int, sep: str) -> str:
    out = []
    for kind, text in parts:
        if kind == "const":
            out.append(text)
        elif kind == "counter":
            out.append(str(i + 1))
        elif kind == "padded":
            out.append(f"{i + 1:06d}")
        elif kind == "clock":
            out.append(f"12:{(i // 60) % 60:02d}:{i % 60:02d}.{(i * 37) % 1000:03d}")
        elif kind == "uptime":
            out.append(f"{100 + i * 0.0137:.4f}")
        else:
            out.append(f"{0x1f00a0 + i * 4099:x}")
    return sep.join(out) + sep


@settings(max_examples=60, deadline=None)
@given(num=st.sampled_from(FILES), parts=st.lists(_PART, min_size=1, max_size=4),
       sep=st.sampled_from([" ", "  ", " | "]))
def test_random_prefix_gives_the_plain_facts(num: str, parts: list[tuple[str, str]], sep: str) -> None:
    wrapped = "\n".join(_render(parts, i, sep) + body for i, body in enumerate(PLAIN[num]))
    assert _facts(wrapped) == EXPECTED[num]


def test_every_chosen_report_has_facts() -> None:
    with_dump = 0
    for num in FILES:
        facts = EXPECTED[num]
        assert facts != [0], num
        with_dump += any(isinstance(f, tuple) and len(f) == 5 for f in facts) or facts[-1] > 0
    assert with_dump >= 5


def test_comm_is_not_polluted_by_a_learned_prefix() -> None:
    text = "\n".join([
        "box7 000001 kworker/u8:2: page allocation failure: order:3, mode:0x40cc0(GFP_KERNEL|__GFP_COMP)",
        "box7 000002 CPU: 1 PID: 77 Comm: kworker/u8:2 Not tainted 6.1.0 #1",
        "box7 000003 Call Trace:",
        "box7 000004  warn_alloc+0x12/0x30",
    ])
    [e] = scan_text(text).events
    assert (e.comm, e.pid, e.cpu, e.order) == ("kworker/u8:2", 77, 1, 3)


def test_a_header_without_fields_does_not_split_the_report() -> None:
    text = "\n".join([
        "[ 1.0] a: page allocation failure: order:3, mode:0x40cc0(GFP_KERNEL|__GFP_COMP)",
        "[ 1.0] vendor: WARNING: page allocation failure: please report",
        "[ 1.0] CPU: 1 PID: 77 Comm: a Not tainted 6.1.0 #1",
        "[ 1.0] Call Trace:",
        "[ 1.0]  warn_alloc+0x12/0x30",
    ])
    [e] = scan_text(text).events
    assert (e.comm, e.pid, e.order) == ("a", 77, 3)


def test_shape_keeps_constants_and_varies_numbers() -> None:
    p = Prefix(shape("srv-2 | 0042 7.250 "))
    assert p.remove("srv-2 | 0043 17.5 Mem-Info:") == "Mem-Info:"
    assert p.remove("srx-2 | 0043 17.5 Mem-Info:") != "Mem-Info:"  # letters are constant text
    assert Prefix.learn("Node 0 Normal: 1*4kB (U) Node 0 DMA: 2*4kB") is None  # glued buddy runs


def test_pid_comes_from_the_printk_caller_id_without_a_cpu_line() -> None:
    text = "\n".join([
        "[   12.345678][ T4321] a: page allocation failure: order:2, mode:0x40cc0(GFP_KERNEL)",
        "[   12.345679][ T4321] Call Trace:",
        "[   12.345680][ T4321]  warn_alloc+0x1/0x2",
        "[   12.345681][    C3] Mem-Info:",
    ])
    [e] = scan_text(text).events
    assert (e.comm, e.pid, e.uptime_s) == ("a", 4321, 12.345678)


def test_comm_is_reported_exactly_as_printed() -> None:
    for comm in ("Web Content", "python3 ", "(sd-pam)", "kworker/u8:2"):
        text = (f"[   12.345678] {comm}: page allocation failure: order:2, mode:0x40cc0(GFP_KERNEL)\n"
                "[   12.345679] Call Trace:\n[   12.345680]  warn_alloc+0x1/0x2")
        [e] = scan_text(text).events
        assert e.comm == comm
