"""`memstall logs` output: the `memstall.logs/1` JSON documents and the text report.

The JSON schema is documented in docs/logs.md; `SCHEMA` changes when a field changes meaning
or goes away (adding fields does not).
"""

from __future__ import annotations

import json
from typing import Any

from memstall.analysis.log_state import resolved_nodes
from memstall.analysis.log_summary import GfpView, LogSummary, watermark_state
from memstall.model.kernlog import AllocEvent, MemInfoDump
from memstall.outputs.logs_oom import oom_doc, oom_text
from memstall.outputs.render.jsonout import dumps
from memstall.outputs.render.table import render_table

SCHEMA = "memstall.logs/1"


def mem_info_doc(dump: MemInfoDump) -> dict[str, Any]:
    zone_nodes, buddy_nodes = resolved_nodes(dump)
    zones = []
    for z, node in zip(dump.zones, zone_nodes):
        zones.append({
            "node": node, "node_inferred": z.node is None, "zone": z.zone,
            "free_kb": z.free_kb, "min_kb": z.min_kb, "low_kb": z.low_kb, "high_kb": z.high_kb,
            "boost_kb": z.boost_kb, "managed_kb": z.managed_kb, "present_kb": z.present_kb,
            "watermark_state": watermark_state(z), "fields_kb": dict(z.fields_kb),
            "fields": dict(z.fields), "all_unreclaimable": z.all_unreclaimable,
            "lowmem_reserve": list(z.lowmem_reserve) if z.lowmem_reserve is not None else None,
            "complete": z.complete,
        })
    buddy = [{
        "node": node, "node_inferred": b.node is None, "zone": b.zone, "empty": b.empty,
        "base_kb": b.base_kb, "counts": list(b.counts) if b.counts is not None else None,
        "types": list(b.types), "total_kb": b.total_kb, "adds_up": b.adds_up,
    } for b, node in zip(dump.buddy, buddy_nodes)]
    return {
        "source": dump.source, "line_no": dump.line_no, "partial": dump.partial,
        "interleaved": dump.interleaved, "summary_pages": dict(dump.summary_pages),
        "nodes_kb": {str(n): dict(f) for n, f in sorted(dump.nodes_kb.items())},
        "zones": zones, "buddy": buddy,
        "lowmem_reserve": [list(r) for r in dump.lowmem_reserve],
        "hugepages": [{"node": h.node, "total": h.total, "free": h.free, "surp": h.surp,
                       "size_kb": h.size_kb} for h in dump.hugepages],
        "total_pagecache_pages": dump.total_pagecache_pages, "pages_ram": dump.pages_ram,
        "pages_reserved": dump.pages_reserved, "pages_highmem": dump.pages_highmem,
        "pages_cma_reserved": dump.pages_cma_reserved, "swap_cache_pages": dump.swap_cache_pages,
        "free_swap_kb": dump.free_swap_kb, "total_swap_kb": dump.total_swap_kb,
    }


def event_doc(e: AllocEvent, view: GfpView) -> dict[str, Any]:
    return {
        "kind": e.kind, "time": e.time, "uptime_s": e.uptime_s, "host": e.host, "comm": e.comm,
        "pid": e.pid, "cpu": e.cpu, "uid": e.uid, "order": e.order, "gfp_mode": e.gfp_mode,
        "gfp_flags": list(view.names) if view.names is not None else None,
        "gfp_flags_source": view.source, "gfp_flags_guessed": view.guessed,
        "stall_ms": e.stall_ms, "kernel_version": e.kernel_version, "nodemask": e.nodemask,
        "cpuset": e.cpuset, "mems_allowed": e.mems_allowed, "oom_score_adj": e.oom_score_adj,
        "oom_adj": e.oom_adj, "killed": e.killed, "memcg": e.memcg, "call_trace": list(e.call_trace),
        "oom": oom_doc(e, view),
        "mem_info": mem_info_doc(e.mem_info) if e.mem_info is not None else None,
        "source": e.source, "line_no": e.line_no,
    }


def last_mem_info_doc(dump: MemInfoDump | None) -> dict[str, Any] | None:
    if dump is None:
        return None
    zone_nodes, buddy_nodes = resolved_nodes(dump)
    return {
        "source": dump.source, "line_no": dump.line_no, "partial": dump.partial,
        "zones": [{"node": n, "zone": z.zone, "free_kb": z.free_kb, "min_kb": z.min_kb,
                   "low_kb": z.low_kb, "high_kb": z.high_kb, "state": watermark_state(z)}
                  for z, n in zip(dump.zones, zone_nodes)],
        "free_blocks": [{"node": n, "zone": b.zone, "base_kb": b.base_kb,
                         "counts": list(b.counts) if b.counts is not None else None}
                        for b, n in zip(dump.buddy, buddy_nodes) if not b.empty],
    }


def summary_doc(s: LogSummary, last_dump: MemInfoDump | None) -> dict[str, Any]:
    return {
        "events": s.events, "by_kind": s.by_kind, "by_order": s.by_order, "by_flags": s.by_flags,
        "by_comm": s.by_comm, "by_host": s.by_host,
        "stall_ms": {"p50": s.stall_ms_p50, "p95": s.stall_ms_p95, "max": s.stall_ms_max},
        "first_seen": s.first_seen, "last_seen": s.last_seen, "mem_info_dumps": s.mem_info_dumps,
        "last_mem_info": last_mem_info_doc(last_dump),
    }


EVENTS_HOLE = "<memstall: the events>"
"""Stands for the events in the document's skeleton (ASCII: a wider character would make the
whole skeleton text take 2 or 4 bytes a character)."""


def _list_item(value: object) -> str:
    """`value` as one item of a list at the document's top level: one line, encoded by json's
    C encoder (no `indent`: with it, json falls back to its pure-Python encoder, which cost
    about 30 % of `--format json` on a log of reports back to back). One line means no "\\n":
    json escapes it, but leaves U+0085 and U+2028 of a log's text as they are."""
    return "    " + json.dumps(value, sort_keys=True, ensure_ascii=False)


_ONE_PER_LINE = ("events", "standalone_mem_info")


def document_text(doc: dict[str, Any]) -> str:
    """`doc` as `--format json` writes it: keys sorted, the envelope indented as
    render.jsonout.dumps indents it, and each item of `events` and `standalone_mem_info` on a
    line of its own (`_list_item`). `json.loads` gives `doc` back.

    >>> print(document_text({"schema": "s", "events": [{"b": 1, "a": [2]}], "summary": {"n": 1}}), end="")
    {
      "events": [
        {"a": [2], "b": 1}
      ],
      "schema": "s",
      "summary": {
        "n": 1
      }
    }
    """
    members = []
    for key in sorted(doc):
        value = doc[key]
        if key in _ONE_PER_LINE and isinstance(value, list) and value:
            text = "[\n" + ",\n".join(_list_item(v) for v in value) + "\n  ]"
        else:
            text = dumps(value)[:-1].replace("\n", "\n  ")
        members.append(f"  {json.dumps(key, ensure_ascii=False)}: {text}")
    return "{\n" + ",\n".join(members) + "\n}\n"


def event_json(doc: dict[str, Any]) -> str:
    """One item of the document's `events` list, exactly as `document_text` writes it."""
    return _list_item(doc)


def around_events(skeleton: dict[str, Any]) -> tuple[str, str]:
    """document_text(skeleton), whose `events` is [EVENTS_HOLE], cut at the hole:
    head + ",\\n".join(event_json(e) for e in events) + tail == document_text(the document with events).

    >>> head, tail = around_events(document([EVENTS_HOLE], [], {}, {}))
    >>> doc = head + ",\\n".join(event_json({"n": n}) for n in (1, 2)) + tail
    >>> doc == document_text(document([{"n": 1}, {"n": 2}], [], {}, {}))
    True
    """
    if skeleton.get("events") != [EVENTS_HOLE] or min(skeleton) != "events":
        raise ValueError("the skeleton's first key must be events, holding [EVENTS_HOLE]")
    # `events` is the first key in sorted order, so the first hole in the text is the one in
    # `events`, even when a log's text holds the same words further down.
    head, _, tail = document_text(skeleton).partition(_list_item(EVENTS_HOLE))
    return head, tail


def document(events: list[Any], standalone: list[dict[str, Any]], summary: dict[str, Any],
             skipped: dict[str, int], cut_lines: int = 0) -> dict[str, Any]:
    return {"schema": SCHEMA, "events": events, "standalone_mem_info": standalone,
            "summary": summary,
            "skipped": {"lines": sum(skipped.values()), "reasons": dict(sorted(skipped.items())),
                        "cut_lines": cut_lines}}


# --- text ---------------------------------------------------------------------------------

def event_line(e: AllocEvent, view: GfpView) -> str:
    """One line per event: time host comm[pid] kind order flags stall."""
    who = f"{e.comm or '?'}[{e.pid}]" if e.pid is not None else (e.comm or "?")
    flags = view.text or "-"
    parts = [e.time or "-", e.host or "-", who, e.kind,
             f"order={e.order if e.order is not None else '?'}", e.gfp_mode or "-", flags]
    if e.stall_ms is not None:
        parts.append(f"stall={e.stall_ms}ms")
    if e.has_mem_info:
        parts.append("+mem-info")
    return "  ".join(parts) + f"  ({e.source}:{e.line_no})\n" + oom_text(e, view)


def _counter_table(title: str, label: str, counts: dict[str, int], limit: int = 15) -> str:
    rows = [[k, v] for k, v in list(counts.items())[:limit]]
    if len(counts) > limit:
        rows.append([f"... {len(counts) - limit} more", sum(list(counts.values())[limit:])])
    return render_table([label, "events"], rows, title=title)


def summary_text(s: LogSummary, last_dump: MemInfoDump | None, skipped: dict[str, int],
                 cut_lines: int = 0) -> str:
    out = [f"\n{s.events} allocation report(s); first seen {s.first_seen or '-'}, "
           f"last seen {s.last_seen or '-'}\n"]
    if s.events:
        for title, label, counts in (("by kind", "kind", s.by_kind), ("by order", "order", s.by_order),
                                     ("by flags", "flags", s.by_flags), ("by process", "comm", s.by_comm),
                                     ("by host", "host", s.by_host)):
            out.append("\n" + _counter_table(title, label, counts))
    if s.stall_ms_max is not None:
        out.append(f"\nstall ms: p50 {s.stall_ms_p50}  p95 {s.stall_ms_p95}  max {s.stall_ms_max}\n")
    out.append(_last_dump_text(last_dump))
    if skipped:
        out.append("\nskipped lines: " + ", ".join(f"{v} {k}" for k, v in sorted(skipped.items())) + "\n")
    if cut_lines:
        out.append(f"{cut_lines} line(s) longer than 64 KiB were cut there\n")
    return "".join(out)


def _node_label(node: int, printed: int | None) -> str:
    """`node0`, or `node0?` when the line printed no `Node N` and the node was inferred."""
    return f"node{node}" + ("?" if printed is None else "")


def _last_dump_text(dump: MemInfoDump | None) -> str:
    if dump is None:
        return "\nno Mem-Info dump in the log\n"
    zone_nodes, buddy_nodes = resolved_nodes(dump)
    rows = [[_node_label(n, z.node), z.zone, z.free_kb, z.min_kb, z.low_kb,
             z.high_kb, watermark_state(z) or "-"] for z, n in zip(dump.zones, zone_nodes)]
    title = (f"zones in the last Mem-Info ({dump.source}:{dump.line_no}"
             + (", partial" if dump.partial else "") + "); node? = node not printed, inferred")
    out = "\n" + render_table(["node", "zone", "free_kB", "min_kB", "low_kB", "high_kB", "state"],
                              rows, title=title)
    width = max((len(b.counts) for b in dump.buddy if b.counts is not None), default=0)
    if width:
        brows = [[_node_label(n, b.node), b.zone, *(list(b.counts) + [None] * (width - len(b.counts)))]
                 for b, n in zip(dump.buddy, buddy_nodes) if b.counts is not None]
        out += "\n" + render_table(["node", "zone", *[str(k) for k in range(width)]], brows,
                                   title="free blocks per order in the last Mem-Info")
    return out
