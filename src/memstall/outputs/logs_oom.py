"""An OOM report in `memstall logs`: the `oom` object of an event's JSON and the text story.

The text tells the story first, as an on-call reads it (who asked, for what, which zone
failed, who was killed and why), then the numbers. Host strings (comm, cgroup paths) are data:
the one escaping writer in cli main makes them safe, nothing here escapes them.
"""

from __future__ import annotations

from typing import Any

from memstall.analysis.gfp import gfp_zone_and_reclaim
from memstall.analysis.log_summary import GfpView
from memstall.analysis.oom_cause import (
    ABOVE_MIN,
    EXHAUSTED,
    FORCED,
    FRAGMENTED,
    MEMCG,
    OomCause,
    ZoneCheck,
    oom_cause,
)
from memstall.analysis.oom_tasks import TaskSummary, summarize_tasks
from memstall.model.kernel import KernelVersion
from memstall.model.kernlog import AllocEvent
from memstall.model.oom import MemcgCounter, OomDetails
from memstall.outputs.render.table import render_table
from memstall.units import human_bytes


def cause_of(e: AllocEvent, view: GfpView) -> OomCause:
    zone, high = None, False
    if view.names is not None:
        kernel = KernelVersion.parse(e.kernel_version) if e.kernel_version else None
        try:
            info = gfp_zone_and_reclaim(view.names, kernel)
        except ValueError:  # names no era knows all of (a vendor's flag)
            info = None
        if info is not None:
            zone, high = info.zone, info.high
    return oom_cause(e, zone, high)


def _page_kb(e: AllocEvent) -> int:
    dump = e.mem_info
    return next((b.base_kb for b in dump.buddy if b.base_kb), 4) if dump is not None else 4


def tasks_of(e: AllocEvent) -> TaskSummary | None:
    if e.oom is None or e.oom.tasks is None:
        return None
    return summarize_tasks(e.oom.tasks, e.mem_info, _page_kb(e))


# --- JSON -----------------------------------------------------------------------------------

def _counter_doc(c: MemcgCounter | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"name": c.name, "usage_kb": c.usage_kb, "limit_kb": c.limit_kb, "unlimited": c.unlimited,
            "failcnt": c.failcnt}


def _memcg_doc(o: OomDetails) -> dict[str, Any] | None:
    con = o.constraint
    if not o.counters and o.task_in is None and o.stats_of is None and (con is None or con.oom_memcg is None):
        return None
    swap = o.counter("memory+swap") or o.counter("swap")
    return {
        "path": (con.oom_memcg if con else None) or o.limit_of or o.stats_of,
        "task_memcg": (con.task_memcg if con else None) or o.task_in,
        "memory": _counter_doc(o.counter("memory")), "swap": _counter_doc(swap),
        "kmem": _counter_doc(o.counter("kmem")),
    }


def _tasks_doc(e: AllocEvent, o: OomDetails) -> dict[str, Any] | None:
    s = tasks_of(e)
    if s is None or o.tasks is None:
        return None
    return {
        "columns": list(o.tasks.columns), "count": s.count, "rss_kb": s.rss_kb, "swap_kb": s.swap_kb,
        "pgtables_kb": s.pgtables_kb, "ram_kb": s.ram_kb, "rss_percent_of_ram": s.rss_percent_of_ram,
        "top": [{"pid": u.task.pid, "name": u.task.name, "rss_kb": u.rss_kb, "swap_kb": u.swap_kb,
                 "pgtables_kb": u.pgtables_kb, "oom_score_adj": u.task.oom_score_adj} for u in s.top],
        "rows": [{"pid": t.pid, "uid": t.uid, "tgid": t.tgid, "total_vm_pages": t.total_vm_pages,
                  "rss_pages": t.rss_pages, "pgtables_bytes": t.pgtables_bytes, "nr_ptes": t.nr_ptes,
                  "nr_pmds": t.nr_pmds, "swapents_pages": t.swapents_pages,
                  "oom_score_adj": t.oom_score_adj, "name": t.name} for t in o.tasks.tasks],
    }


def _check_doc(c: ZoneCheck) -> dict[str, Any]:
    return {"node": c.node, "zone": c.zone, "free_kb": c.free_kb, "min_kb": c.min_kb, "high_kb": c.high_kb,
            "lowmem_reserve_kb": c.reserve_kb, "margin_kb": c.margin_kb, "high_margin_kb": c.high_margin_kb,
            "block_ok": c.block_ok, "passes": c.passes}


def _victim_doc(o: OomDetails) -> dict[str, Any] | None:
    k, sel = o.kill, o.select
    if k is None and sel is None:
        return None
    return {
        "pid": k.pid if k else sel.pid if sel else None, "comm": k.comm if k else sel.comm if sel else None,
        "oom_score": sel.score if sel else None, "total_vm_kb": k.total_vm_kb if k else None,
        "anon_rss_kb": k.anon_rss_kb if k else None, "file_rss_kb": k.file_rss_kb if k else None,
        "shmem_rss_kb": k.shmem_rss_kb if k else None, "rss_kb": k.rss_kb if k else None,
        "uid": k.uid if k else None, "pgtables_kb": k.pgtables_kb if k else None,
        "oom_score_adj": k.oom_score_adj if k else None,
        "memcg": (k.memcg if k else False) or (sel.memcg if sel else False),
    }


def oom_doc(e: AllocEvent, view: GfpView) -> dict[str, Any] | None:
    """The `oom` object of an OOM event (docs/logs.md); None for other kinds."""
    o = e.oom
    if o is None:
        return None
    cause = cause_of(e, view)
    failed = cause.first_failed
    r = o.reaped
    return {
        "victim": _victim_doc(o),
        "reaped": None if r is None else {"pid": r.pid, "comm": r.comm, "anon_rss_kb": r.anon_rss_kb,
                                          "file_rss_kb": r.file_rss_kb, "shmem_rss_kb": r.shmem_rss_kb},
        "constraint": o.constraint.constraint if o.constraint else None,
        "memcg": _memcg_doc(o), "tasks": _tasks_doc(e, o),
        "cause": {"kind": cause.kind, "highest_zone": cause.highest_zone, "order": cause.order,
                  "page_kb": cause.page_kb, "memcg_path": cause.memcg_path,
                  "first_failed": _check_doc(failed) if failed else None,
                  "zones": [_check_doc(c) for c in cause.checks]},
        "incomplete": bool(o.missing), "missing": list(o.missing),
    }


# --- text -----------------------------------------------------------------------------------

def _kb(kb: int | None) -> str:
    return "?" if kb is None else human_bytes(kb * 1024)


def _zone_name(c: ZoneCheck) -> str:
    return (f"node{c.node} " if c.node is not None else "") + c.zone


def _asked(e: AllocEvent, view: GfpView, cause: OomCause) -> str:
    who = f"{e.comm or '?'} (pid {e.pid if e.pid is not None else '?'})"
    if e.order == -1:
        return f"{who} was running when the OOM killer was forced (order=-1: no allocation asked)"
    if e.order is None:
        return f"{who} asked for memory (order not printed)"
    pages = 1 << e.order
    flags = "|".join(view.names) if view.names is not None else (e.gfp_mode or "an unknown mask")
    zone = f": zones up to {cause.highest_zone}" if cause.highest_zone else ""
    return (f"{who} asked for {pages} page{'s' if pages > 1 else ''} (order {e.order}) "
            f"with {flags}{zone}")


def _failed(c: ZoneCheck, first: bool) -> str:
    where = f"{_zone_name(c)}, " + ("first in the zonelist" if first else "the first zone that failed")
    reserve = f" + lowmem_reserve {c.reserve_kb} kB" if c.reserve_kb else ""
    if c.margin_kb <= 0:
        return (f"{where}: {-c.margin_kb} kB below its min watermark "
                f"(free {c.free_kb} kB, min {c.min_kb} kB{reserve})")
    return f"{where}: no free block of the order asked (free {c.free_kb} kB)"


def _memcg_why(o: OomDetails | None, cause: OomCause) -> str:
    path = cause.memcg_path or "(path not printed)"
    mem = o.counter("memory") if o else None
    text = f"the memory cgroup {path} hit its limit, not the machine"
    if mem is not None:
        limit = "no limit" if mem.unlimited else _kb(mem.limit_kb)
        text += f": usage {_kb(mem.usage_kb)} of {limit}"
        if mem.failcnt is not None:
            text += f", failcnt {mem.failcnt}"
    swap = (o.counter("memory+swap") or o.counter("swap")) if o else None
    if swap is not None:
        if swap.unlimited:
            text += f"; {swap.name} unlimited (usage {_kb(swap.usage_kb)})"
        elif swap.name == "swap" and swap.limit_kb == 0:
            text += "; swap disabled for the cgroup (limit 0)"
        else:
            text += f"; {swap.name} usage {_kb(swap.usage_kb)} of {_kb(swap.limit_kb)}"
    return text


def _why(e: AllocEvent, cause: OomCause) -> str:
    if cause.kind == FORCED:
        return ("an administrator forced the OOM killer (SysRq-f or moom_callback): "
                "no allocation failed, this is not memory exhaustion")
    if cause.kind == MEMCG:
        return _memcg_why(e.oom, cause)
    if cause.kind == EXHAUSTED:
        return ("every zone the mask may use was below its min watermark + lowmem_reserve: memory was "
                "exhausted and reclaim could not free enough")
    if cause.kind == FRAGMENTED:
        return (f"enough free pages, but no free block of order {cause.order} in any zone the mask may "
                "use above its watermark: fragmentation")
    if cause.kind == ABOVE_MIN:
        ok = next(c for c in cause.checks if c.passes)
        text = f"{_zone_name(ok)} was {ok.margin_kb} kB above its min watermark when the Mem-Info was printed"
        if ok.high_margin_kb is not None and ok.high_margin_kb <= 0:
            return (text + f", but {-ok.high_margin_kb} kB below the high watermark the OOM killer's last "
                    "attempt needs: memory ran short; what was freed meanwhile was not enough")
        return (text + " and above its high watermark: memory was freed between the failure and the dump, "
                "or a cpuset or mempolicy kept the allocation off that zone")
    return "no Mem-Info with watermarks in the report: the zones cannot be checked"


def _killed(o: OomDetails) -> str | None:
    k, sel = o.kill, o.select
    if k is None and sel is None:
        return None
    pid, comm = (k.pid, k.comm) if k else (sel.pid, sel.comm) if sel else (0, "?")
    text = f"{comm} (pid {pid})"
    if sel is not None and sel.score is not None:
        text += f", oom_score {sel.score}"
    if k is not None and k.rss_kb is not None:
        text += (f": its RSS {_kb(k.rss_kb)} (anon {_kb(k.anon_rss_kb)}, file {_kb(k.file_rss_kb)}, "
                 f"shmem {_kb(k.shmem_rss_kb)})")
    memcg = (k.memcg if k else False) or (sel.memcg if sel else False)
    where = " in its memory cgroup" if memcg else ""
    return text + f", the task with the highest badness score{where}"


def _tasks_line(e: AllocEvent) -> str:
    s = tasks_of(e)
    if s is None:
        return "no task table (vm.oom_dump_tasks is 0, or the report was cut before it)"
    text = f"{s.count} tasks hold {_kb(s.rss_kb)} RSS"
    if s.ram_kb:
        text += f" = {s.rss_percent_of_ram} % of {_kb(s.ram_kb)} RAM"
    if s.swap_kb is not None:
        text += f", swap {_kb(s.swap_kb)}"
    if s.pgtables_kb is not None:
        text += f", page tables {_kb(s.pgtables_kb)}"
    top = ", ".join(f"{u.task.name} {_kb(u.rss_kb)}" for u in s.top[:5])
    return text + (f"; largest: {top}" if top else "")


def oom_story(e: AllocEvent, view: GfpView) -> list[tuple[str, str]]:
    """The story of one OOM event as (label, sentence) pairs, in the order an on-call reads
    them: incomplete (when so), asked, failed, why, killed, tasks. [] for other kinds.
    The text below and the HTML report (outputs/report/oom.py) both tell it from here."""
    o = e.oom
    if o is None:
        return []
    cause = cause_of(e, view)
    story = []
    if o.missing:
        what = {"begin": "its beginning (the `invoked oom-killer` header, trace, Mem-Info; the kernel "
                         "rate-limits those, never the kill line)",
                "end": "its end (the kill line)"}
        story.append(("incomplete", "the report lacks " + " and ".join(what[m] for m in o.missing)))
    if o.has_begin:
        story.append(("asked", _asked(e, view, cause)))
    failed = cause.first_failed
    if failed is not None and cause.kind not in (FORCED, MEMCG):
        story.append(("failed", _failed(failed, failed is cause.checks[0])))
    story.append(("why", _why(e, cause)))
    story.append(("killed", _killed(o) or "not printed"))
    story.append(("tasks", _tasks_line(e)))
    return story


ZONE_COLUMNS = ("zone", "free_kB", "min_kB", "high_kB", "reserve_kB", "vs_min_kB", "block")


def zone_rows(cause: OomCause) -> list[list[object]]:
    """The replayed watermark check, one row per zone in zonelist order (ZONE_COLUMNS)."""
    return [[_zone_name(c), c.free_kb, c.min_kb, c.high_kb, c.reserve_kb, c.margin_kb,
             "-" if c.block_ok is None else "yes" if c.block_ok else "no"] for c in cause.checks]


def oom_text(e: AllocEvent, view: GfpView) -> str:
    """The story of one OOM event, then its zones' numbers; '' for other kinds."""
    story = oom_story(e, view)
    if not story:
        return ""
    out = "".join(f"    {label + ':':<7} {text}\n" if label != "incomplete" else f"    {label}: {text}\n"
                  for label, text in story)
    cause = cause_of(e, view)
    if cause.checks:
        table = render_table(list(ZONE_COLUMNS), zone_rows(cause),
                             title="zones the mask may use, zonelist order (vs_min > 0 passes)")
        out += "".join(f"    {line}\n" for line in table.splitlines())
    return out
