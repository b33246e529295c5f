"""The Mem-Info dump (show_mem / show_free_areas) of a kernel log, read as a token stream.

Log pipelines break these lines everywhere: mail wrapping, KERN_CONT pieces that became
separate syslog records (`lowmem_reserve[]:` followed by one number per line, `Node 0 ` alone
on a line), `= ` and `15904kB` on two lines. So the dump's lines (wrappers already removed)
are joined into one stream of whitespace-separated tokens, and constructs are recognised by
their first tokens, wherever the line breaks fell:

* `Node N key:NkB ...` per-node line (4.8+), `Node N hugepages_total=... hugepages_size=NkB`;
* `[Node N] Zone free:NkB [boost:NkB] min:NkB low:NkB high:NkB ...` zone line;
* `lowmem_reserve[]: a b c` (pre-2.6.11 `protections[]:`), attached to the zone before it;
* `[Node N] Zone: c*SkB (UME) ... = NkB` or `Zone: empty` buddy line;
* summary counters (pages) `key:N` before the first zone, and the tail
  (`N total pagecache pages`, `N pages RAM` / 2.6 `N pages of RAM`, `Free swap  = NkB`...).

Per-cpu pageset lines (2.6/3.x) are dropped before tokenising.

>>> d = parse_mem_info(["Mem-Info:", "Node 0 Normal free:43880kB min:44456kB low:174456kB",
...                     " high:304456kB managed:130008524kB", "lowmem_reserve[]: 0 0 0",
...                     "Node 0 Normal: 3*4kB (U) 1*8kB (M) = 20kB"], "log", 1, complete=True)
>>> d.zones[0].min_kb, d.zones[0].high_kb, d.zones[0].lowmem_reserve, d.buddy[0].adds_up
(44456, 304456, (0, 0, 0), True)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from memstall.model.kernlog import BuddyLine, HugepagesLine, MemInfoDump, MemInfoZone
from memstall.parsers.kernlog.classify import PERCPU
from memstall.parsers.kernlog.meminfo_fast import read_lines, walker_lines
from memstall.parsers.kernlog.meminfo_lines import BUDDY as _BUDDY
from memstall.parsers.kernlog.meminfo_lines import FRAME_TOKEN as _FRAME_TOKEN
from memstall.parsers.kernlog.meminfo_lines import KEY as _KEY
from memstall.parsers.kernlog.meminfo_lines import KV as _KV
from memstall.parsers.kernlog.meminfo_lines import KV_KB as _KV_KB
from memstall.parsers.kernlog.meminfo_lines import VAL_KB as _VAL_KB
from memstall.parsers.kernlog.meminfo_lines import ZONE_COLON as _ZONE_COLON
from memstall.parsers.kernlog.meminfo_lines import ZONE_NAME as _ZONE_NAME
from memstall.parsers.kernlog.meminfo_lines import buddy_line

_TYPES = re.compile(r"^\(([A-Z]+)\)$")
_HUGE = re.compile(r"^hugepages_(\w+)=(\d{1,18})(?:kB)?$")

_TAIL_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("total", "pagecache", "pages"), "total_pagecache_pages"),
    (("pages", "RAM"), "pages_ram"),
    (("pages", "of", "RAM"), "pages_ram"),
    (("pages", "reserved"), "pages_reserved"),
    (("reserved", "pages"), "pages_reserved"),
    (("pages", "HighMem/MovableOnly"), "pages_highmem"),
    (("pages", "of", "HIGHMEM"), "pages_highmem"),
    (("pages", "cma", "reserved"), "pages_cma_reserved"),
    (("pages", "in", "swap", "cache"), "swap_cache_pages"),
)


_PAD = 8  # lookahead never reads past the end
_RESERVE_WORDS = frozenset(("lowmem_reserve[]:", "protections[]:"))
_TAIL_BY_FIRST: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    first: tuple((words, key) for words, key in _TAIL_PHRASES if words[0] == first)
    for first in {words[0] for words, _ in _TAIL_PHRASES}}
"""_TAIL_PHRASES by their first word, in their order."""
_KV_KB_MATCH = _KV_KB.match
_KV_MATCH = _KV.match
_KEY_MATCH = _KEY.match
_VAL_KB_MATCH = _VAL_KB.match
_BUDDY_MATCH = _BUDDY.match
_TYPES_MATCH = _TYPES.match
_FRAME_MATCH = _FRAME_TOKEN.match


def _int(tok: str) -> int | None:
    return int(tok) if len(tok) <= 18 and tok.isascii() and tok.isdigit() else None


@dataclass
class _ZoneAcc:
    """One zone line as it is read; `reserve` is the lowmem_reserve line that followed it."""

    node: int | None
    zone: str
    fields_kb: dict[str, int] = field(default_factory=dict)
    fields: dict[str, int] = field(default_factory=dict)
    unreclaimable: bool | None = None
    reserve: tuple[int, ...] | None = None
    complete: bool = True

    def build(self) -> MemInfoZone:
        return MemInfoZone(
            node=self.node, zone=self.zone, fields_kb=self.fields_kb, fields=self.fields,
            all_unreclaimable=self.unreclaimable, lowmem_reserve=self.reserve,
            complete=self.complete and "free" in self.fields_kb and "high" in self.fields_kb)


class _Walker:
    """One pass over the tokens; `i` is the cursor."""

    def __init__(self, tokens: list[str]) -> None:
        self.n = len(tokens)
        self.t = tokens + [""] * _PAD
        self.i = 0
        self.summary: dict[str, int] = {}
        self.nodes: dict[int, dict[str, int]] = {}
        self.zones: list[_ZoneAcc] = []
        self.buddy: list[BuddyLine] = []
        self.huge: list[HugepagesLine] = []
        self.reserves: list[tuple[int, ...]] = []
        self.tail: dict[str, int] = {}
        self.interleaved = False
        self.seen_construct = False

    def tok(self, k: int = 0) -> str:
        return self.t[self.i + k]  # the token list ends with _PAD empty strings

    def starts(self) -> str | None:
        """The construct starting at the cursor, if any."""
        t0 = self.t[self.i]
        c0 = t0[:1]
        if c0.islower():  # key:value tokens, the most common: only the reserve line starts so
            return "reserve" if t0 in ("lowmem_reserve[]:", "protections[]:") else None
        t1 = self.t[self.i + 1]
        if t0 == "Node" and _int(t1) is not None:
            return "node"
        if _ZONE_NAME.match(t0) and t1.startswith("free:"):
            return "zone"
        if _ZONE_COLON.match(t0) and (_BUDDY.match(t1) or t1 == "empty"):
            return "buddy"
        if t0 in ("lowmem_reserve[]:", "protections[]:"):
            return "reserve"
        if t0 in ("Free", "Total") and t1 in ("swap", "swap:"):
            return "swap"
        if _int(t0) is not None and t1 in ("total", "pages", "reserved"):
            return "tail"
        return None

    def run(self) -> None:
        t, n = self.t, self.n
        while self.i < n:
            tok = t[self.i]
            # starts(), without the call for the common key:value token
            kind = None if tok[:1].islower() and tok not in _RESERVE_WORDS else self.starts()
            if kind is None:
                self.loose()
                continue
            self.seen_construct = True
            _CONSTRUCTS[kind](self, None)

    def at_construct(self, i: int) -> bool:
        """`starts()` at index i is not None (and the cursor is left at i)."""
        tok = self.t[i]
        if tok[:1].islower():
            return tok in _RESERVE_WORDS
        self.i = i
        return self.starts() is not None

    def loose(self) -> None:
        tok = self.t[self.i]
        m = _KV_MATCH(tok)
        if m and not self.seen_construct and m.group(1) not in self.summary:
            self.summary[m.group(1)] = int(m.group(2))
        elif _FRAME_MATCH(tok):
            self.interleaved = True
        self.i += 1

    def c_node(self, _: int | None) -> None:
        node = int(self.tok(1))
        self.i += 2
        kind = self.starts()
        if kind == "zone":
            self.c_zone(node)
        elif kind == "buddy":
            self.c_buddy(node)
        elif _HUGE.match(self.tok()):
            self.c_huge(node)
        elif _KV_KB.match(self.tok()) or _KEY.match(self.tok()):
            self.c_node_line(node)

    def c_node_line(self, node: int) -> None:
        fields = self.nodes.setdefault(node, {})
        t, n, i = self.t, self.n, self.i
        while i < n:
            tok = t[i]
            if tok[:1].islower():  # at_construct(i), without the call for key:value tokens
                if tok in _RESERVE_WORDS:
                    break
            elif self.at_construct(i):
                break
            m = _KV_KB_MATCH(tok)
            if m:
                fields.setdefault(m.group(1), int(m.group(2)))
            else:
                k = _KEY_MATCH(tok)
                v = _VAL_KB_MATCH(t[i + 1])
                if k and v:
                    fields.setdefault(k.group(1), int(v.group(1)))
                    i += 1
            i += 1
        self.i = i

    def c_zone(self, node: int | None) -> None:
        t, n = self.t, self.n
        zone = _ZoneAcc(node, t[self.i])
        kb, plain = zone.fields_kb, zone.fields
        i = self.i + 1
        while i < n:
            tok = t[i]
            if tok[:1].islower():  # at_construct(i), without the call for key:value tokens
                if tok in _RESERVE_WORDS:
                    break
            elif self.at_construct(i):
                break
            m = _KV_KB_MATCH(tok)
            k = v = None
            if not m:
                k = _KEY_MATCH(tok)
                v = _VAL_KB_MATCH(t[i + 1]) if k else None
            if m:
                kb.setdefault(m.group(1), int(m.group(2)))
            elif k and v:
                kb.setdefault(k.group(1), int(v.group(1)))
                i += 1
            elif tok == "all_unreclaimable?":
                zone.unreclaimable = t[i + 1] == "yes"
                i += 1
            else:
                p = _KV_MATCH(tok)
                if p and p.group(1).endswith("scanned"):
                    plain[p.group(1)] = int(p.group(2))
                elif p:  # `managed:73` at the end of a cut excerpt: a kB field without its unit
                    zone.complete = False
                elif _FRAME_MATCH(tok):
                    self.interleaved = True
            i += 1
        self.i = i
        self.zones.append(zone)

    def c_reserve(self, _: int | None) -> None:
        self.i += 1
        values: list[int] = []
        while _int(self.tok()) is not None and self.i < self.n:
            values.append(int(self.tok()))
            self.i += 1
        self.reserves.append(tuple(values))
        if self.zones and self.zones[-1].reserve is None:  # the zone line just before it
            self.zones[-1].reserve = tuple(values)

    def c_buddy(self, node: int | None) -> None:
        name = self.tok()[:-1]
        self.i += 1
        if self.tok() == "empty":
            self.i += 1
            self.buddy.append(BuddyLine(node, name, None, None, (), None, None, empty=True))
            return
        counts: list[int] = []
        sizes: list[int] = []
        types: list[str] = []
        total: int | None = None
        t, n, i = self.t, self.n, self.i
        while i < n:
            tok = t[i]
            b = _BUDDY_MATCH(tok)
            if b:
                counts.append(int(b.group(1)))
                sizes.append(int(b.group(2)))
                types.append("")
            elif types and _TYPES_MATCH(tok):
                types[-1] = tok[1:-1]
            elif tok.startswith("="):
                rest = tok[1:] if tok != "=" else t[i + 1]
                v = _VAL_KB_MATCH(rest)
                total = int(v.group(1)) if v else None
                i += 1 if tok != "=" else 2
                break
            elif self.at_construct(i):
                break
            elif _FRAME_MATCH(tok):
                self.interleaved = True
            i += 1
        self.i = i
        self.buddy.append(buddy_line(node, name, counts, sizes, types, total))

    def c_huge(self, node: int) -> None:
        vals: dict[str, int] = {}
        while self.i < self.n:
            m = _HUGE.match(self.tok())
            if not m:
                break
            vals[m.group(1)] = int(m.group(2))
            self.i += 1
        if {"total", "free", "size"} <= vals.keys():
            self.huge.append(HugepagesLine(node, vals["total"], vals["free"], vals.get("surp", 0),
                                           vals["size"]))

    def c_swap(self, _: int | None) -> None:
        key = "free_swap_kb" if self.tok() == "Free" else "total_swap_kb"
        j = 2 if self.tok(1) == "swap:" else 3  # `Free swap:  NkB` (2.6) / `Free swap  = NkB`
        v = _VAL_KB.match(self.tok(j))
        if v and (j == 2 or self.tok(2) == "="):
            self.tail.setdefault(key, int(v.group(1)))
            self.i += j + 1
        else:
            self.i += 2

    def c_tail(self, _: int | None) -> None:
        i, t = self.i, self.t
        value = int(t[i])
        for words, key in _TAIL_BY_FIRST.get(t[i + 1], ()):
            if tuple(t[i + 1:i + 1 + len(words)]) == words:
                self.tail.setdefault(key, value)
                self.i += len(words) + 1
                return
        self.i += 2


_CONSTRUCTS: dict[str, Callable[[_Walker, int | None], None]] = {
    "node": _Walker.c_node, "zone": _Walker.c_zone, "buddy": _Walker.c_buddy,
    "reserve": _Walker.c_reserve, "swap": _Walker.c_swap, "tail": _Walker.c_tail,
}
"""Construct kind (what `_Walker.starts` returns) -> its reader; the int is the `Node N` before it."""


def parse_mem_info(lines: Sequence[str], source: str, line_no: int, complete: bool) -> MemInfoDump:
    """Parse the dump's lines (wrappers removed). `complete`: the dump was not cut short.

    The lines of the usual shapes are read a line at a time (meminfo_fast.read_lines); from
    the first line that is not, the token walker reads the rest, started with what those
    lines gave. The result is `reference_parse_mem_info`'s, the walker over the whole dump
    (tests/test_kernlog_meminfo_fast.py compares them).
    """
    read = read_lines(lines)
    if read is None:
        return reference_parse_mem_info(lines, source, line_no, complete)
    kept, summary, d, stop = read
    if stop == len(kept):
        return d.dump(summary, source, line_no, complete)
    tokens: list[str] = []
    for line in walker_lines(kept[stop:]):
        tokens.extend(line.split())
    w = _Walker(tokens)
    w.summary, w.nodes, w.buddy, w.huge = summary, d.nodes, d.buddy, d.huge
    w.reserves, w.tail, w.seen_construct = d.reserves, d.tail, d.any_construct
    w.zones = [_ZoneAcc(z["node"], z["zone"], z["fields_kb"], z["fields"],  # type: ignore[arg-type]
                        z["all_unreclaimable"], z["lowmem_reserve"], z["complete"])  # type: ignore[arg-type]
               for z in d.zones]
    w.run()
    return _result(w, source, line_no, complete)


def reference_parse_mem_info(lines: Sequence[str], source: str, line_no: int,
                             complete: bool) -> MemInfoDump:
    """The token walker over the whole dump: every dump, whatever its line breaks."""
    tokens: list[str] = []
    for line in lines:
        if PERCPU.match(line) or line.lstrip().startswith(("Free pages:", "[...]")):
            continue
        tokens.extend(line.split())
    w = _Walker(tokens)
    w.run()
    return _result(w, source, line_no, complete)


def _result(w: _Walker, source: str, line_no: int, complete: bool) -> MemInfoDump:
    zones = tuple(z.build() for z in w.zones)
    tail = w.tail
    partial = (not complete or w.interleaved or not zones or not w.buddy
               or any(not z.complete for z in zones))
    return MemInfoDump(
        summary_pages=w.summary, nodes_kb=w.nodes, zones=zones, buddy=tuple(w.buddy),
        hugepages=tuple(w.huge), lowmem_reserve=tuple(w.reserves),
        total_pagecache_pages=tail.get("total_pagecache_pages"), pages_ram=tail.get("pages_ram"),
        pages_reserved=tail.get("pages_reserved"), pages_highmem=tail.get("pages_highmem"),
        pages_cma_reserved=tail.get("pages_cma_reserved"),
        swap_cache_pages=tail.get("swap_cache_pages"), free_swap_kb=tail.get("free_swap_kb"),
        total_swap_kb=tail.get("total_swap_kb"), partial=partial, source=source, line_no=line_no,
        interleaved=w.interleaved,
    )
