"""Mem-Info dumps of the usual shapes, parsed a line at a time with bulk string operations.

`reference_parse_mem_info` (meminfo.py) walks the dump as one token stream, because log
pipelines break its lines anywhere. Most dumps are not broken: every line after the summary
counters starts one construct (zone, lowmem_reserve, buddy, node, hugepages, tail, swap
line) and holds nothing else. For those, each line is parsed on its own with a few C-level
string operations (`str.split`, `str.replace`, one `map(int, ...)`) instead of one regex and
one Python step per token. Only lines whose shape guarantees that the token walker would read
them the same way are taken. At any other line (a wrapped or cut line, interleaved call
trace, a per-cpu or unknown line, a negative or Unicode number, a repeated key) `read_lines`
stops, and `meminfo.parse_mem_info` has the walker read the rest, started with what the lines
before gave (a construct the walker would read on into that line is taken back first).
`fast_parse_mem_info` is the whole-dump case alone. The result is the walker's over the whole
dump (tests/test_kernlog_meminfo_fast.py: corpus dumps, mutated and re-wrapped ones).

Why a line can be read on its own: the zone and node-line readers go on until a token that
starts a construct, and none of the tokens these lines may hold (`key:NkB`, `key: NkB`,
`pages_scanned:N`, `all_unreclaimable? no`) starts one, while every following line does;
the readers that look ahead (lowmem_reserve takes numbers, a tail phrase up to four words,
a swap line its `= NkB`, a buddy line's `=` its total) are only taken when the look-ahead
ends inside the line or cannot reach the next line's first token.
"""

from __future__ import annotations

from collections.abc import Sequence

from memstall.model.kernlog import BuddyLine, HugepagesLine, MemInfoDump, MemInfoZone, assemble
from memstall.parsers.kernlog.classify import PERCPU
from memstall.parsers.kernlog.meminfo_lines import (
    HUGE,
    HUGE_LINE,
    KEY,
    KV_KB,
    RESERVE_HEADS,
    SWAP_STATS,
    TAIL_PHRASES,
    TAIL_SECOND,
    digits,
    inert,
    node_line,
    pairs,
    read_buddy,
    summary_line,
    zone_fields,
    zone_name,
)


class _Dump:
    """What the lines gave so far; `open` is that the last line was a zone or node line (whose
    reader would go on into a line not starting a construct), `after_reserve` a
    lowmem_reserve line (whose reader would take a number starting the next line)."""

    def __init__(self) -> None:
        self.nodes: dict[int, dict[str, int]] = {}
        self.zones: list[dict[str, object]] = []
        self.buddy: list[BuddyLine] = []
        self.huge: list[HugepagesLine] = []
        self.reserves: list[tuple[int, ...]] = []
        self.tail: dict[str, int] = {}
        self.open = False
        self.after_reserve = False
        self.after_huge = False
        self.undo: tuple[str, object] | None = None
        """How to take back the last construct that may still be read on (rollback)."""
        self.continued = False
        """The last line went on with the construct before it."""
        self.loose = False
        """The last line started no construct (blank, or loose words)."""
        self.any_construct = False
        """Some line started a construct (the walker's `seen_construct`)."""

    def line(self, line: str) -> bool:
        """Read one line after the summary; False: not a shape this module takes."""
        if not line or line.isspace():  # no token: the walker does not see it
            self.continued = self.loose = True
            return True
        after_reserve, self.after_reserve = self.after_reserve, False
        after_huge, self.after_huge = self.after_huge, False
        was_open, self.open = self.open, False
        if after_huge and HUGE.match(line.split(None, 1)[0] if line.strip() else ""):
            return False
        if line[:1].isdigit() and not after_reserve:  # the tail lines, first (4-8 a dump)
            tokens = line.split()
            if tokens[1:2] in (["total"], ["pages"], ["reserved"]) and tokens[0].isdigit():
                return self._tail(tokens)
        node = None
        rest = line
        if line.startswith("Node "):
            space = line.find(" ", 5)
            number = line[5:space]
            if space < 0 or not (number.isdigit() and number.isascii() and len(number) <= 18):
                return False
            node, rest = int(number), line[space + 1:]
        space = rest.find(" ")
        word, body = (rest[:space], rest[space + 1:]) if space > 0 else (rest, "")
        if word[-1:] == ":" and body and zone_name(word[:-1]):
            b = read_buddy(node, word[:-1], body)
            self.buddy += [b] if b else []
            return b is not None
        if body.startswith("free:") and zone_name(word):
            return self._zone(node, word, body)
        if node is not None:
            return self._node(node, word, rest)
        if word in RESERVE_HEADS:
            return self._reserve(body)
        tokens = line.split()
        if not tokens or (after_reserve and tokens[0].isdigit()):
            self.loose = True
            return not tokens
        if tokens[0].isdigit() and tokens[1:2] in (["total"], ["pages"], ["reserved"]):
            return self._tail(tokens)
        if tokens[0] in ("Free", "Total") and tokens[1:2] in (["swap"], ["swap:"]):
            return self._swap(tokens)
        self.loose = True
        # After a zone or node line, whose reader would take these words too: the walker.
        return not was_open and (bool(SWAP_STATS.fullmatch(line)) or inert(tokens))

    def dump(self, summary: dict[str, int], source: str, line_no: int,
             complete: bool) -> MemInfoDump:
        for z in self.zones:
            kb: dict[str, int] = z["fields_kb"]  # type: ignore[assignment]
            z["complete"] = z["complete"] and "free" in kb and "high" in kb
        zones = tuple(assemble(MemInfoZone, z) for z in self.zones)
        partial = not complete or not zones or not self.buddy or any(not z.complete for z in zones)
        tail = self.tail
        return assemble(MemInfoDump, {
            "summary_pages": summary, "nodes_kb": self.nodes, "zones": zones,
            "buddy": tuple(self.buddy), "hugepages": tuple(self.huge),
            "lowmem_reserve": tuple(self.reserves),
            "total_pagecache_pages": tail.get("total_pagecache_pages"),
            "pages_ram": tail.get("pages_ram"), "pages_reserved": tail.get("pages_reserved"),
            "pages_highmem": tail.get("pages_highmem"),
            "pages_cma_reserved": tail.get("pages_cma_reserved"),
            "swap_cache_pages": tail.get("swap_cache_pages"),
            "free_swap_kb": tail.get("free_swap_kb"), "total_swap_kb": tail.get("total_swap_kb"),
            "partial": partial, "source": source, "line_no": line_no, "interleaved": False})

    def closed(self) -> bool:
        """No construct read so far would read on into the next line."""
        return not self.open and not self.after_reserve and not self.after_huge

    def rollback(self) -> None:
        """Take back the construct that `undo` names (the walker reads it again)."""
        kind, arg = self.undo or ("", None)
        if kind == "zone":
            self.zones.pop()
        elif kind == "node" and isinstance(arg, int):
            del self.nodes[arg]
        elif kind == "reserve":
            self.reserves.pop()
            if arg:
                self.zones[-1]["lowmem_reserve"] = None
        elif kind == "huge" and arg:
            self.huge.pop()
        self.open, self.after_reserve, self.after_huge, self.undo = False, False, False, None


    def _zone(self, node: int | None, name: str, body: str) -> bool:
        read = zone_fields(body)
        if read is None:
            return False
        fields_kb, plain, unreclaimable = read
        zone: dict[str, object] = {
            "node": node, "zone": name, "fields_kb": fields_kb, "fields": plain,
            "all_unreclaimable": unreclaimable, "lowmem_reserve": None,
            "complete": True}  # the walker's flag; "free" and "high" are asked for in dump()
        self.zones.append(zone)
        self.open = True
        self.undo = ("zone", True)
        return True

    def _node(self, node: int, word: str, rest: str) -> bool:
        first = word if word else (rest.split(None, 1) or [""])[0]
        if first.startswith("hugepages_") and HUGE.match(first):
            return self._huge(node, rest)
        if not (KV_KB.match(first) or KEY.match(first)):
            return False  # the walker skips `Node N` and reads on: not taken here
        fields = None if node in self.nodes else node_line(rest)
        if fields is None:
            return False
        self.nodes[node] = fields
        self.open = True
        self.undo = ("node", node)
        return True

    def _huge(self, node: int, rest: str) -> bool:
        m = HUGE_LINE.fullmatch(rest)
        if m:
            total, free, surp, size = map(int, m.groups())
            self.huge.append(assemble(HugepagesLine, {
                "node": node, "total": total, "free": free, "surp": surp, "size_kb": size}))
            self.after_huge = True
            self.undo = ("huge", True)
            return True
        if "per-cpu:" in rest:
            return False  # a per-cpu line to the reference (PERCPU), which drops it
        tokens = rest.split()  # the walker's reader: `hugepages_key=N` words, last value kept
        values: dict[str, int] = {}
        i = 0
        for i, tok in enumerate([*tokens, ""]):  # noqa: B007 (i is read after the loop)
            h = HUGE.match(tok)
            if not h:
                break
            values[h.group(1)] = int(h.group(2))
        if i < len(tokens) and not inert(tokens[i:]):
            return False
        whole = {"total", "free", "size"} <= values.keys()
        if whole:
            self.huge.append(HugepagesLine(node, values["total"], values["free"],
                                           values.get("surp", 0), values["size"]))
        self.after_huge = i == len(tokens)  # it would read on into the next line
        self.undo = ("huge", whole)
        return True

    def _reserve(self, body: str) -> bool:
        values = body.split()
        if values and not digits(values):
            return False
        reserve = tuple(map(int, values))
        self.reserves.append(reserve)
        attached = bool(self.zones) and self.zones[-1]["lowmem_reserve"] is None
        if attached:  # the zone line just before it
            self.zones[-1]["lowmem_reserve"] = reserve
        self.after_reserve = True
        self.undo = ("reserve", attached)
        return True

    def _tail(self, tokens: list[str]) -> bool:
        if len(tokens[0]) > 18 or not tokens[0].isascii():
            return False
        key = TAIL_PHRASES.get(tuple(tokens[1:]))
        if key is not None:
            self.tail.setdefault(key, int(tokens[0]))
            return True
        # No phrase: the walker skips two words and reads the rest as loose words. Its phrase
        # lookup must end inside the line: the third word is no phrase's second word.
        return len(tokens) > 2 and tokens[2] not in TAIL_SECOND[tokens[1]] and inert(tokens[2:])

    def _swap(self, tokens: list[str]) -> bool:
        if tokens[1:3] == ["swap", "="] and len(tokens) == 4:
            value = tokens[3]
        elif tokens[1] == "swap:" and len(tokens) == 3:
            value = tokens[2]
        else:
            return False
        number = value[:-2]
        if value[-2:] not in ("kB", "KB") or not number or not digits([number]):
            return False
        self.tail.setdefault("free_swap_kb" if tokens[0] == "Free" else "total_swap_kb", int(number))
        return True


def read_lines(lines: Sequence[str]) -> tuple[list[str], dict[str, int], _Dump, int] | None:
    """The summary counters and what the lines of usual shapes gave, and the index in the
    lines from which the walker must read the rest (their number: none). None: the summary
    counters are not of the usual shape; the walker reads everything.

    The reference drops per-cpu pageset, `Free pages:` and `[...]` lines before it reads; this
    does not: no such line has a shape taken here but that of loose words, which the walker
    would read without effect (the hugepages reader checks for `per-cpu:` itself). The walker
    reading the rest gets them dropped (`walker_lines`).
    """
    kept = lines if isinstance(lines, list) else list(lines)
    start = 1 if kept and kept[0].strip() == "Mem-Info:" else 0
    end = start
    while end < len(kept) and summary_line(kept[end]):
        end += 1
    summary = pairs(" ".join(kept[start:end]), False)
    if summary is None:
        return None
    d = _Dump()
    safe = end
    for k in range(end, len(kept)):
        was_closed = d.closed()
        if not d.line(kept[k]):
            if not was_closed:
                d.rollback()
            return kept, summary, d, k if was_closed else safe
        if was_closed or not d.continued:
            safe = k
        d.any_construct = d.any_construct or not d.loose
        d.continued = d.loose = False
    return kept, summary, d, len(kept)


def walker_lines(lines: Sequence[str]) -> list[str]:
    """The lines the reference reads: per-cpu pagesets, `Free pages:` and `[...]` dropped."""
    return [line for line in lines if not PERCPU.match(line)
            and not line.lstrip().startswith(("Free pages:", "[...]"))]


def fast_parse_mem_info(lines: Sequence[str], source: str, line_no: int,
                        complete: bool) -> MemInfoDump | None:
    """reference_parse_mem_info's dump when every line has a usual shape; None otherwise."""
    read = read_lines(lines)
    if read is None or read[3] < len(read[0]):
        return None
    return read[2].dump(read[1], source, line_no, complete)
