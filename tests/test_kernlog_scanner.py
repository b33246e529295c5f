"""The kernel-log scanner: wrappers, noise, multi-host streams, bad input, robustness."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memstall.model.kernlog import AllocEvent, MemInfoDump
from memstall.parsers.kernlog import LogScanner, scan_lines, scan_text
from memstall.parsers.kernlog.unwrap import unwrap

KERNLOG = Path(__file__).parent / "fixtures" / "kernlog"
CORPUS = KERNLOG / "corpus"
SEED = CORPUS / "000-seed-cold-storage-4.9.log"
FORMATS = sorted((KERNLOG / "formats").glob("*.txt"))
NOISE = sorted((KERNLOG / "noise").glob("*.txt"))


def _seed_facts(e: AllocEvent) -> tuple[object, ...]:
    assert e.mem_info is not None
    zones = [(z.node, z.zone, z.free_kb, z.min_kb, z.low_kb, z.high_kb) for z in e.mem_info.zones]
    buddy = [(b.node, b.zone, b.counts, b.total_kb) for b in e.mem_info.buddy]
    return (e.kind, e.comm, e.pid, e.cpu, e.order, e.gfp_mode, e.gfp_flags, e.stall_ms,
            e.kernel_version, tuple(zones), tuple(buddy), e.mem_info.pages_ram, len(e.call_trace))


SEED_FACTS = _seed_facts(scan_text(SEED.read_text()).events[0])


@pytest.mark.parametrize("path", FORMATS, ids=[p.stem for p in FORMATS])
def test_every_wrapper_gives_the_seed_report(path: Path) -> None:
    scan = scan_text(path.read_text(), path.name)
    assert len(scan.events) == 1 and not scan.standalone_mem_info
    assert _seed_facts(scan.events[0]) == SEED_FACTS


@pytest.mark.parametrize(("name", "time", "uptime", "host"), [
    ("kmsg-records", "4395803.602414", 4395803.602414, None),
    ("journalctl-json", "4395803.602414", 4395803.602414, "MyHOST"),
    ("journalctl-short-iso", "2019-02-28T11:16:37+0100", None, "MyHOST"),
    ("journalctl-short-monotonic", "4395803.602414", 4395803.602414, "MyHOST"),
    ("dmesg-human-padded-day", "Thu Feb  7 11:16:37 2019", None, None),
    ("syslog-no-uptime", "Feb 28 11:16:37", None, "MyHOST"),
    ("bare-text", None, None, None),
])
def test_wrapper_time_and_host(name: str, time: str | None, uptime: float | None, host: str | None) -> None:
    e = scan_text((KERNLOG / "formats" / f"{name}.txt").read_text()).events[0]
    assert (e.time, e.uptime_s, e.host) == (time, uptime, host)


LONE_KILLS = {"boot-and-memory-messages": [(31769, "chromium", 1201404), (4242, "stress", 1048000)]}
"""The noise files' lone kill lines: OOM kills whose report the kernel rate-limited away
(oom_kill_process() prints dump_header() only under __ratelimit(&oom_rs); the kill line always)."""


@pytest.mark.parametrize("path", NOISE, ids=[p.stem for p in NOISE])
def test_noise_produces_nothing_but_its_lone_kills(path: Path) -> None:
    scan = scan_text(path.read_text(), path.name)
    kills = LONE_KILLS.get(path.stem, [])
    assert scan.standalone_mem_info == () and len(scan.events) == len(kills)
    for e, (pid, comm, anon_kb) in zip(scan.events, kills):
        assert e.kind == "oom" and e.oom is not None and e.oom.kill is not None
        assert e.oom.missing == ("begin",)  # flagged incomplete: the header and Mem-Info are gone
        assert (e.oom.kill.pid, e.oom.kill.comm, e.oom.kill.anon_rss_kb) == (pid, comm, anon_kb)
    lines = sum(1 for _ in path.read_text().splitlines())
    assert scan.skipped_lines == lines - len(kills)  # every other line, oom_reaper's too


def test_userspace_lines_are_not_kernel_reports() -> None:
    scan = scan_text((KERNLOG / "noise" / "syslog-userspace.txt").read_text())
    assert scan.skipped_reasons["not a kernel message (other syslog tag)"] == 6


def test_unwrap_examples() -> None:
    assert unwrap("<4>[  12.5] x").body == "x"
    u = unwrap("2017-01-17T11:08:33.754562+03:00 storage8 [335170.452601] rsync: ")
    assert (u.host, u.wall, u.stamp, u.body) == ("storage8", "2017-01-17T11:08:33.754562+03:00",
                                                 "335170.452601", "rsync: ")
    assert unwrap("[  +0.002367] CPU: 0 PID: 34").stamp is None  # delta stamps are no time
    assert unwrap("[21161.092614] kernel: earlyoom: page").body == "earlyoom: page"
    assert not unwrap("[21160.626351] earlyoom[84786]: low memory!").kernel
    assert unwrap(" SUBSYSTEM=cpu").kernel is False  # kmsg dictionary lines are dropped
    assert unwrap('{"MESSAGE": [104, 105], "_TRANSPORT": "kernel"}').body == "hi"


# -- multi-host and interleaving ---------------------------------------------------------------

def _restamp(path: Path, host: str) -> list[str]:
    out = []
    for line in path.read_text().splitlines():
        body = re.sub(r"^.*?kernel: ", "", line)
        out.append(f"Mar  1 10:00:00 {host} kernel: {body}")
    return out


def test_many_hosts_interleaved_line_by_line() -> None:
    """A fleet syslog: each host's report is reassembled from its own lines."""
    a = _restamp(SEED, "alpha")
    b = _restamp(CORPUS / "007-linuxmm-dom-worker-stall-syslog-4.9.13.log", "beta")
    mixed = [x for pair in zip(a, b) for x in pair] + a[len(b):] + b[len(a):]
    scan = scan_text("\n".join(mixed))
    by_host = {}
    for e in scan.events:
        by_host.setdefault(e.host, []).append(e)
    assert [e.comm for e in by_host["alpha"]] == ["python"]
    assert [e.stall_ms for e in by_host["beta"]] == [10646, 11024]
    assert _seed_facts(by_host["alpha"][0]) == SEED_FACTS
    for e in by_host["beta"]:
        assert e.mem_info is not None and [z.zone for z in e.mem_info.zones] == ["DMA", "DMA32"]


def test_second_header_inside_a_mem_info_cuts_the_first_report() -> None:
    lines = SEED.read_text().splitlines()
    header = lines[0].replace("28-159 kernel:", "Feb 28 11:16:37 MyHOST kernel:")
    cut = [*lines[:40], header, *lines[40:]]  # the same header again in the middle of the dump
    scan = scan_text("\n".join(cut))
    assert len(scan.events) == 2
    first, second = scan.events
    assert first.mem_info is not None and first.mem_info.partial
    assert second.mem_info is not None and [b.zone for b in second.mem_info.buddy] == \
        ["DMA", "DMA32", "Normal", "Normal"]


def test_report_cut_in_the_middle_of_mem_info() -> None:
    lines = SEED.read_text().splitlines()
    scan = scan_text("\n".join(lines[:42]))
    (e,) = scan.events
    assert e.mem_info is not None and e.mem_info.partial
    assert [z.zone for z in e.mem_info.zones] == ["DMA", "DMA32", "Normal"]
    assert e.stall_ms == 15412


@pytest.mark.parametrize("num", ["000", "003", "005", "007", "011", "034", "035", "040"])
def test_swap_cache_line_is_part_of_the_mem_info(num: str) -> None:
    """show_swap_cache_info() prints `Swap cache stats: add N, delete N, find N/N` (2.6.24+) or
    `Swap cache: ... race N+N` (older) inside every Mem-Info: not an unrecognised line."""
    (log,) = CORPUS.glob(f"{num}-*.log")
    scan = scan_text(log.read_text(encoding="utf-8", errors="replace"), log.name)
    assert any("Swap cache" in line for line in log.read_text(errors="replace").splitlines())
    assert "unrecognised line inside a report" not in scan.skipped_reasons


@pytest.mark.parametrize(("header", "adj", "score_adj"), [
    ("Xorg invoked oom-killer: gfp_mask=0x2d0, order=0, oomkilladj=0", 0, None),  # 2.6.24 (005)
    ("sshd invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=-17, oom_score_adj=-1000", -17, -1000),
    ("app invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=100", None, 100),
])
def test_oom_adjustments_of_every_era(header: str, adj: int | None, score_adj: int | None) -> None:
    (e,) = scan_text(f"[5.0] {header}\n[5.0] CPU: 1 PID: 9 Comm: x Not tainted 3.2.0 #1").events
    assert (e.oom_adj, e.oom_score_adj) == (adj, score_adj)


def test_placeholder_host_is_no_host() -> None:
    """`... kernel:` (a forum poster cut date and host, corpus 005) and RFC 5424's nil `-` host
    are not host names: the events have host None, and a real host stays a host."""
    (log,) = CORPUS.glob("005-*.log")
    assert [e.host for e in scan_text(log.read_text(errors="replace")).events] == [None]
    seed = SEED.read_text().replace("MyHOST", "-").replace("28-159", "-")
    assert [(e.host, e.pid) for e in scan_text(seed).events] == [(None, 1467)]
    u = unwrap("Feb 28 11:16:37 - kernel: [4395803.602420] CPU: 4 PID: 1467 Comm: python")
    assert (u.host, u.wall, u.uptime_s, u.body) == (None, "Feb 28 11:16:37", 4395803.60242,
                                                     "CPU: 4 PID: 1467 Comm: python")
    assert unwrap("Feb 28 11:16:37 db-7 kernel: x").host == "db-7"


def test_headerless_warning_splat_is_not_an_event() -> None:
    text = "\n".join([
        "CPU: 1 PID: 42 Comm: kworker/1:1 Not tainted 5.15.0 #1", "Call Trace:", " <TASK>",
        " dump_stack_lvl+0x4a/0x5f", " __warn+0x84/0xd0", " </TASK>"])
    assert scan_text(text).events == ()


def test_headerless_body_with_warn_alloc_is_a_failure() -> None:
    e = scan_text((CORPUS / "019-rpi5395-dmesg-delta-timestamps-no-header.log").read_text()).events[0]
    assert (e.kind, e.order, e.comm, e.pid) == ("failure", None, "kworker/0:1", 34)
    assert "warn_alloc" in e.call_trace


def test_oom_kill_line_closes_the_report() -> None:
    text = "\n".join([
        "[1.0] app invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
        "[1.0] CPU: 0 PID: 7 Comm: app Not tainted 5.4.0 #1", "[1.0] Mem-Info:",
        "[1.0] active_anon:1 inactive_anon:2 isolated_anon:0",
        "[1.0] Normal free:100kB min:200kB low:250kB high:300kB present:1000kB managed:900kB",
        "[1.0] Normal: 1*4kB (U) 0*8kB = 4kB", "[1.0] 10 pages RAM",
        "[1.0] Tasks state (memory values in pages):",
        "[1.0] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
        "[1.0] [    7]     0     7    10000     9000    100000        0             0 app",
        "[1.0] Out of memory: Killed process 7 (app) total-vm:40000kB, anon-rss:36000kB",
        "[2.0] unrelated line"])
    (e,) = scan_text(text).events
    assert e.killed is not None and "Killed process 7 (app)" in e.killed
    assert e.mem_info is not None and not e.mem_info.partial
    assert e.gfp_flags == ("GFP_HIGHUSER_MOVABLE",)
    assert e.memcg is False  # the machine ran out: no memory cgroup in the report
    # the same report ended by a memcg kill line (no memcg frame was printed) is a memcg OOM
    memcg = text.replace("Out of memory: Killed", "Memory cgroup out of memory: Killed")
    assert [e.memcg for e in scan_text(memcg).events] == [True]
    stall = scan_text("[1.0] app: page allocation stalls for 10012ms, order:0, mode:0x14200ca()")
    assert [e.memcg for e in stall.events] == [None]


# -- bad input --------------------------------------------------------------------------------

def _scan_bytes(lines: list[bytes]) -> list[object]:
    return list(scan_lines(lines, "bytes"))


def test_binary_junk_nul_bytes_and_bad_utf8() -> None:
    rng = random.Random(3)
    junk = [bytes(rng.randrange(256) for _ in range(rng.randrange(200))) for _ in range(500)]
    sc = LogScanner("junk")
    items = []
    for raw in junk:
        items += sc.feed(raw)
    items += sc.finish()
    assert all(isinstance(i, (AllocEvent, MemInfoDump)) for i in items)
    assert sc.skipped_lines == len(junk)


def test_report_with_nul_and_invalid_utf8_lines_inside() -> None:
    lines = [x.encode() for x in SEED.read_text().splitlines()]
    lines.insert(5, b"\x00\x00\x00\x00")
    lines.insert(9, b"\xff\xfe garbage \xc3\x28")
    (e,) = _scan_bytes(lines)
    assert isinstance(e, AllocEvent) and _seed_facts(e) == SEED_FACTS


def test_a_one_megabyte_line_does_not_stop_the_scan() -> None:
    lines = [b"x" * (1 << 20)] + [x.encode() for x in SEED.read_text().splitlines()]
    (e,) = _scan_bytes(lines)
    assert isinstance(e, AllocEvent) and _seed_facts(e) == SEED_FACTS


def test_empty_input() -> None:
    scan = scan_text("")
    assert scan.events == () and scan.skipped_lines == 0


# -- robustness (Hypothesis) --------------------------------------------------------------------

CORPUS_LINES = [line for p in sorted(CORPUS.glob("*.log")) for line in p.read_text().splitlines()]


@st.composite
def mutated_logs(draw: st.DrawFn) -> list[bytes]:
    start = draw(st.integers(0, len(CORPUS_LINES) - 1))
    lines = [x.encode() for x in CORPUS_LINES[start:start + draw(st.integers(1, 120))]]
    for _ in range(draw(st.integers(0, 12))):
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        op = draw(st.sampled_from(["drop", "dup", "cut", "nul", "bytes", "crlf", "swap", "join", "eq"]))
        if not lines:
            break
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "nul":
            lines[i] = lines[i] + b"\x00"
        elif op == "bytes":
            lines[i] = draw(st.binary(max_size=80))
        elif op == "crlf":
            lines[i] = lines[i] + b"\r"
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "join" and i + 1 < len(lines):
            lines[i:i + 2] = [lines[i] + b" " + lines[i + 1]]
        elif op == "eq":
            lines[i] = lines[i][:70].ljust(70, b"x") + b"="
    return lines


@settings(deadline=2000)
@given(mutated_logs())
def test_mutated_corpus_lines_never_crash(lines: list[bytes]) -> None:
    items = list(scan_lines(lines, "mutated"))
    for item in items:
        assert isinstance(item, (AllocEvent, MemInfoDump))
        if isinstance(item, AllocEvent):
            assert item.kind in ("stall", "failure", "oom")
            assert item.order is None or item.order >= 0


@settings(deadline=2000)
@given(st.lists(st.text(max_size=200), max_size=60))
def test_random_text_never_crashes(lines: list[str]) -> None:
    for item in scan_lines(lines, "random"):
        assert isinstance(item, (AllocEvent, MemInfoDump))


@settings(deadline=2000)
@given(st.binary(max_size=4000))
def test_random_bytes_never_crash(data: bytes) -> None:
    for item in scan_lines(data.split(b"\n"), "random"):
        assert isinstance(item, (AllocEvent, MemInfoDump))


PATHOLOGICAL = ["C" * 16384, "deadbeef" * 2048 + "x", "a:" * 8000, "1" * 16384, "[<" * 8000,
                "x(" * 8000, "{" * 16000, "Node 0 " * 2000, "0*4kB " * 2700, "9" * 5000 + "*4kB",
                "order:" + "9" * 5000, "CPU: " + "1" * 5000 + " PID: 1 Comm: x"]


@pytest.mark.parametrize("junk", PATHOLOGICAL, ids=[j[:12] for j in PATHOLOGICAL])
def test_long_pathological_lines_inside_a_report_do_not_hang(junk: str) -> None:
    """No catastrophic regex and no huge int() on long lines fed in the middle of a report.

    A hang guard, not a speed claim (the brief forbids timing assertions in unit tests;
    speed lives in benchmarks/): SIGALRM ends a scan that never finishes.
    """
    import signal

    def hung(signum: int, frame: object) -> None:
        raise AssertionError(f"the scanner hung on {junk[:12]!r}...")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        sc = LogScanner("x")
        items = sc.feed_text("[1.0] a: page allocation failure: order:1, mode:0x20")
        for _ in range(3):
            items += sc.feed_text(junk) + sc.feed_text("Mem-Info:") + sc.feed_text(junk)
        items += sc.finish()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert [i.kind for i in items if isinstance(i, AllocEvent)] == ["failure"]
    assert all(isinstance(i, (AllocEvent, MemInfoDump)) for i in items)


def _by_blocks(data: bytes, size: int) -> list[object]:
    sc = LogScanner("x")
    items: list[object] = []
    lines = data.split(b"\n")
    block: list[bytes] = []
    for line in lines:
        block.append(line)
        if sum(len(b) + 1 for b in block) >= size:
            items += sc.feed_block(b"\n".join(block) + b"\n")
            block = []
    if block:
        items += sc.feed_block(b"\n".join(block))
    return items + list(sc.finish())


@pytest.mark.parametrize("size", [1, 300, 4096, 1 << 20])
def test_block_feeding_equals_line_feeding(size: int) -> None:
    """feed_block's C-speed skipping gives exactly what feeding every line gives."""
    noise = (KERNLOG / "noise" / "boot-and-memory-messages.txt").read_bytes()
    for log in sorted(CORPUS.glob("*.log")):
        data = noise + log.read_bytes() + noise
        assert _by_blocks(data, size) == list(scan_lines(data.split(b"\n"), "x")), log.name


def test_unwrap_fast_paths_agree_with_the_general_path() -> None:
    from memstall.parsers.kernlog.unwrap import unwrap_general

    lines = [line for p in sorted(KERNLOG.glob("*/*")) if p.suffix != ".json"
             for line in p.read_text(errors="replace").splitlines()]
    lines += ["Mar  1 10:00:00 h kernel: [Fri Aug 11 16:51:47 2017] x", "Mar  1 10:00:00 h kernel: 7221.9] y",
              "[1.5] h kernel: z", "[1.5] tag[12]: w", "[1.5] [T123] v"]
    assert len(lines) > 1500
    for line in lines:
        assert unwrap(line, {}) == unwrap_general(line, {}), line


def test_multi_line_records_of_kmsg_and_journal_json() -> None:
    """The Mem-Info summary is one printk record: /dev/kmsg escapes its newlines, journald keeps them."""
    import json as _json

    lines = SEED.read_text().splitlines()
    bodies = [re.sub(r"^.*?kernel: \[[\d. ]+\] ", "", x) for x in lines]
    summary = "\n".join(bodies[29:35])  # `active_anon:...` and its five continuation lines
    kmsg = [f"4,{i},4395803602414,-;{b}" for i, b in enumerate(bodies[:29])]
    kmsg.append("4,29,4395803602488,-;" + summary.replace("\n", "\\x0a"))
    kmsg += [f"4,{i},4395803602500,-;{b}" for i, b in enumerate(bodies[35:], 35)]
    journal = [_json.dumps({"MESSAGE": b, "_TRANSPORT": "kernel"}) for b in bodies[:29]]
    journal.append(_json.dumps({"MESSAGE": summary, "_TRANSPORT": "kernel"}))
    journal += [_json.dumps({"MESSAGE": b, "_TRANSPORT": "kernel"}) for b in bodies[35:]]
    for text in ("\n".join(kmsg), "\n".join(journal)):
        (e,) = scan_text(text).events
        assert e.mem_info is not None and e.mem_info.summary_pages["free"] == 153575
        assert e.mem_info.summary_pages["shmem"] == 712110
        assert _seed_facts(e) == SEED_FACTS


def test_thousands_of_host_names_keep_memory_bounded() -> None:
    sc = LogScanner("hosts")
    for i in range(20000):
        sc.feed_text(f"2017-01-17T11:08:33+03:00 host{i} [1.0] line {i}")
    assert len(sc._streams) <= 4097


def test_memcg_oom_keeps_its_kill_line() -> None:
    """6.x memcg OOM (lines after the 037 corpus trace written for this test in the 6.x format)."""
    trace = (CORPUS / "037-systemd40208-kernel-prefix-only-memcg-6.17.log").read_text().splitlines()[2:]
    tail = ["kernel: memory: usage 1048576kB, limit 1048576kB, failcnt 42",
            "kernel: swap: usage 0kB, limit 0kB, failcnt 0",
            "kernel: Memory cgroup stats for /user.slice/user-1000.slice:",
            "kernel: anon 1069547520", "kernel: file 4096", "kernel: kernel 3407872", "kernel: sock 0",
            "kernel: Tasks state (memory values in pages):",
            "kernel: [  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes"
            " swapents oom_score_adj name",
            "kernel: [  20957]  1000 20957     5000     2000     1800      200         0    65536        0"
            "           100 systemd",
            "kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
            "oom_memcg=/user.slice,task_memcg=/user.slice,task=systemd,pid=20957,uid=1000",
            "kernel: Memory cgroup out of memory: Killed process 20957 (systemd) total-vm:20000kB, "
            "anon-rss:7200kB, file-rss:800kB, shmem-rss:0kB, UID:1000 pgtables:64kB oom_score_adj:100",
            "kernel: usb 1-1: new high-speed USB device number 2 using ehci-pci"]
    (e,) = scan_text("\n".join(trace + tail)).events
    assert e.kind == "oom" and e.pid == 20957 and e.mem_info is None and e.memcg is True
    assert e.killed is not None and "Killed process 20957 (systemd)" in e.killed
