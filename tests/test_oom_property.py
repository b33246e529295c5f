"""OOM tail parsers, task table and watermark replay: round trips through kernel-format text.

Each line is written the way mm/oom_kill.c or mm/memcontrol.c prints it (the era picked at
random), parsed back, and compared with what was written; the replay is compared with the
kernel's inequality written out independently here.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from memstall.analysis.oom_cause import replay_watermarks, zone_layout
from memstall.model.kernlog import MemInfoDump, MemInfoZone
from memstall.parsers.kernlog import scan_text
from memstall.parsers.kernlog.oom import (
    parse_constraint,
    parse_counter,
    parse_kill,
    parse_reaped,
    parse_select,
    parse_task_in,
)
from memstall.parsers.kernlog.tasks import header_columns, parse_row, parse_task_table

# TASK_COMM_LEN 16: 15 printable characters; spaces, '(' ')' '/' ':' ',' '-' all occur in comms.
COMM = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=1, max_size=15).filter(
    lambda s: s == s.strip() and not s.endswith(")"))
PID = st.integers(1, 4194304)
KB = st.integers(0, 2**50)


@given(pid=PID, comm=COMM, vm=KB, anon=KB, file=KB, shmem=KB, era=st.sampled_from(["3", "4.5", "5.10"]),
       prefix=st.sampled_from(["", "Out of memory: ", "Memory cgroup out of memory: "]),
       uid=st.integers(0, 2**32 - 1), pgt=KB, adj=st.integers(-1000, 1000))
def test_kill_line_round_trip(pid: int, comm: str, vm: int, anon: int, file: int, shmem: int, era: str,
                              prefix: str, uid: int, pgt: int, adj: int) -> None:
    line = f"{prefix}Killed process {pid} ({comm}) total-vm:{vm}kB, anon-rss:{anon}kB, file-rss:{file}kB"
    if era != "3":
        line += f", shmem-rss:{shmem}kB"
    if era == "5.10":
        line += f", UID:{uid} pgtables:{pgt}kB oom_score_adj:{adj}"
    k = parse_kill(line)
    assert k is not None
    assert (k.pid, k.comm, k.total_vm_kb, k.anon_rss_kb, k.file_rss_kb) == (pid, comm, vm, anon, file)
    assert k.shmem_rss_kb == (None if era == "3" else shmem)
    expected = (uid, pgt, adj) if era == "5.10" else (None, None, None)
    assert (k.uid, k.pgtables_kb, k.oom_score_adj) == expected
    assert k.memcg == prefix.startswith("Memory cgroup")


@given(pid=PID, comm=COMM, score=st.integers(0, 2000), memcg=st.booleans(), old=st.booleans())
def test_select_line_round_trip(pid: int, comm: str, score: int, memcg: bool, old: bool) -> None:
    head = "Memory cgroup out of memory" if memcg else "Out of memory"
    tail = f"kill process {pid} ({comm}) score {score} or a child" if old else \
        f"Kill process {pid} ({comm}) score {score} or sacrifice child"
    s = parse_select(f"{head}: {tail}")
    assert s is not None and (s.pid, s.comm, s.score, s.memcg) == (pid, comm, score, memcg)


@given(pid=PID, comm=COMM, anon=KB, file=KB, shmem=KB)
def test_reaper_line_round_trip(pid: int, comm: str, anon: int, file: int, shmem: int) -> None:
    r = parse_reaped(f"oom_reaper: reaped process {pid} ({comm}), now anon-rss:{anon}kB, "
                     f"file-rss:{file}kB, shmem-rss:{shmem}kB")
    assert r is not None and (r.pid, r.comm, r.anon_rss_kb, r.file_rss_kb, r.shmem_rss_kb) == (
        pid, comm, anon, file, shmem)


@given(name=st.sampled_from(["memory", "memory+swap", "swap", "kmem"]), usage=KB,
       limit=st.integers(0, 2**63), failcnt=st.integers(0, 2**63))
def test_memcg_counter_round_trip(name: str, usage: int, limit: int, failcnt: int) -> None:
    c = parse_counter(f"{name}: usage {usage}kB, limit {limit}kB, failcnt {failcnt}")
    assert c is not None and (c.name, c.usage_kb, c.limit_kb, c.failcnt) == (name, usage, limit, failcnt)


PATH = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e, blacklist_characters=","),
               min_size=1, max_size=40).map(lambda s: "/" + s)


@given(memcg=PATH, task_memcg=PATH, comm=COMM, pid=PID, uid=st.integers(0, 2**32 - 1),
       constraint=st.sampled_from(["CONSTRAINT_NONE", "CONSTRAINT_MEMCG", "CONSTRAINT_CPUSET"]))
def test_oom_kill_summary_round_trip(memcg: str, task_memcg: str, comm: str, pid: int, uid: int,
                                     constraint: str) -> None:
    line = (f"oom-kill:constraint={constraint},nodemask=(null),cpuset=/,mems_allowed=0,"
            f"oom_memcg={memcg},task_memcg={task_memcg},task={comm},pid={pid},uid={uid}")
    c = parse_constraint(line)
    assert c is not None
    assert (c.constraint, c.oom_memcg, c.task_memcg, c.task, c.pid, c.uid) == (
        constraint, memcg, task_memcg, comm, pid, uid)


@given(a=PATH, b=PATH)
def test_task_in_round_trip(a: str, b: str) -> None:
    assert parse_task_in(f"Task in {a} killed as a result of limit of {b}") == (a, b)


ERAS = {
    "2.6": "[ pid ]   uid  tgid total_vm      rss cpu oom_adj name",
    "3.x": "[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name",
    "4.1": "[ pid ]   uid  tgid total_vm      rss nr_ptes nr_pmds swapents oom_score_adj name",
    "4.15": "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
}
NAME = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=15).flatmap(
    lambda s: st.sampled_from([s, s[:1] + " " + s]))  # names with a space too
ROW = st.tuples(PID, st.integers(0, 2**32 - 1), st.lists(st.integers(0, 2**40), min_size=5, max_size=5),
                st.integers(-1000, 1000), NAME)


@given(era=st.sampled_from(sorted(ERAS)), rows=st.lists(ROW, max_size=30), keep_header=st.booleans())
def test_task_table_round_trip(era: str, rows: list[tuple[int, int, list[int], int, str]],
                               keep_header: bool) -> None:
    header = ERAS[era]
    cols = header_columns(header)
    assert cols is not None
    if not keep_header:  # without the header a name of digits reads as one more column: ambiguous
        rows = [r for r in rows if not r[4][:1].isdigit() and not r[4].startswith("-")]
    lines = [header] if keep_header else []
    numeric = [c for c in cols if c != "name"]
    for pid, uid, nums, adj, name in rows:
        values = [*[uid, pid, *nums][: len(numeric) - 1], adj]
        lines.append(f"[{pid:>7}] " + " ".join(f"{v:>8}" for v in values) + f" {name}")
    table = parse_task_table(lines)
    if not lines:
        assert table is None
        return
    assert table is not None and len(table.tasks) == len(rows)
    for task, (pid, uid, nums, adj, name) in zip(table.tasks, rows):
        assert (task.pid, task.uid, task.tgid, task.total_vm_pages, task.rss_pages, task.name) == (
            pid, uid, pid, nums[0], nums[1], name)
        assert task.oom_score_adj == adj
        if keep_header and era == "4.15":
            assert task.pgtables_bytes == nums[2]
        if keep_header and era in ("3.x", "4.1"):
            assert task.nr_ptes == nums[2]


@given(st.text(max_size=200))
def test_row_parser_never_raises(text: str) -> None:
    for cols in (None, header_columns(ERAS["3.x"])):
        task = parse_row(text, cols)
        assert task is None or task.pid >= 0


@given(st.lists(st.text(max_size=120), max_size=30))
def test_scanner_with_oom_lines_never_raises(lines: list[str]) -> None:
    scan_text("\n".join(["Out of memory: Kill process 1 (a) score 1 or sacrifice child", *lines]))


# --- the watermark replay ----------------------------------------------------------------------

@st.composite
def one_node(draw: st.DrawFn) -> MemInfoDump:
    """A 64-bit node: DMA, DMA32, Normal (some absent), arrays of 4 or 5 (Movable, Device)."""
    present = [z for z in ("DMA", "DMA32", "Normal") if z == "Normal" or draw(st.booleans())]
    width = draw(st.sampled_from([4, 5]))
    layout = ["DMA", "DMA32", "Normal", "Movable", "Device"][:width]
    managed = {z: draw(st.integers(1, 10**7)) for z in present}
    ratio = {"DMA": 256, "DMA32": 256, "Normal": 32}
    zones = []
    for z in present:
        i = layout.index(z)
        reserve = tuple(0 if j <= i else sum(managed.get(o, 0) for o in layout[i + 1:j + 1]) // ratio[z]
                        for j in range(width))  # docs/kernel.md#lowmem-reserve
        wmin = draw(st.integers(0, 10**6))
        fields = {"free": draw(st.integers(0, 10**8)), "min": wmin, "low": wmin + 10, "high": wmin + 20}
        zones.append(MemInfoZone(0, z, fields, lowmem_reserve=reserve))
    return MemInfoDump({}, {}, tuple(zones), (), (), (), None, None, None, None, None, None, None, None,
                       False, "x", 1)


@given(dump=one_node(), order=st.integers(0, 10),
       target=st.sampled_from(["DMA", "DMA32", "Normal", "Movable"]))
def test_replay_matches_the_kernel_inequality(dump: MemInfoDump, order: int, target: str) -> None:
    layout = zone_layout(dump.zones)
    assert layout is not None and [n for n in layout if n in {z.zone for z in dump.zones}] == \
        [z.zone for z in dump.zones]
    checks, _ = replay_watermarks(dump, target, order, None)
    top = layout.index(target) if target in layout else layout.index("Normal")
    usable = [z for z in dump.zones if layout.index(z.zone) <= top]
    assert [c.zone for c in checks] == [z.zone for z in reversed(usable)]  # zonelist: highest first
    for c, z in zip(checks, reversed(usable)):
        assert z.lowmem_reserve is not None and z.free_kb is not None and z.min_kb is not None
        free_pages = z.free_kb // 4 - ((1 << order) - 1)
        passes = free_pages > z.min_kb // 4 + z.lowmem_reserve[top]  # __zone_watermark_ok, order-0 part
        assert (c.margin_kb > 0) == passes or z.free_kb % 4 or z.min_kb % 4
