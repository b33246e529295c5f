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

import re
from collections.abc import Sequence
from operator import mul

from memstall.model.kernlog import BuddyLine, HugepagesLine, MemInfoDump, MemInfoZone, assemble
from memstall.parsers.kernlog.classify import PERCPU

# The walker's token shapes (meminfo.py reads them from here).
KV_KB = re.compile(r"^([A-Za-z_][\w()]*):(-?\d{1,18})[kK]B(?:\([^)]*\))?,?$")
KV = re.compile(r"^([A-Za-z_][\w()]*):(-?\d{1,18}),?$")
KEY = re.compile(r"^([A-Za-z_][\w()]*):$")
VAL_KB = re.compile(r"^(\d{1,18})[kK]B,?$")
BUDDY = re.compile(r"^(\d{1,18})[*_](\d{1,18})kB$")
ZONE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
ZONE_COLON = re.compile(r"^([A-Z][A-Za-z0-9]*):$")
HUGE = re.compile(r"^hugepages_(\w+)=(\d{1,18})(?:kB)?$")
FRAME_TOKEN = re.compile(r"^(?:\[<[0-9a-f]+>\]|[\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+|<[A-Z]+>)$")

_KEY_NAME = re.compile(r"[A-Za-z_][\w()]*")  # the key of KV, KV_KB and KEY
_ZONE_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
_BUDDY_CELLS = re.compile(r"(?:\d{1,18}\*\d{1,18}kB(?: \([A-Z]+\))? )+= \d{1,18}kB", re.ASCII)
_BUDDY_CELL = re.compile(r"(\d+)\*(\d+)kB(?: \(([A-Z]+)\))?", re.ASCII)
_HUGE_LINE = re.compile(r"hugepages_total=(\d{1,18}) hugepages_free=(\d{1,18}) "
                   r"hugepages_surp=(\d{1,18}) hugepages_size=(\d{1,18})kB", re.ASCII)
_SWAP_STATS = re.compile(r"Swap cache(?: stats)?: add \d+, delete \d+, find \d+/\d+(?:, race \d+\+\d+)?",
                         re.ASCII)
"""Loose words to the walker (no construct, no `key:N`, no frame; `N/N` last)."""
_UNRECLAIMABLE = (" all_unreclaimable? no", " all_unreclaimable? yes")
_RESERVE_HEADS = ("lowmem_reserve[]:", "protections[]:")

_TAIL_PHRASES: dict[tuple[str, ...], str] = {
    ("total", "pagecache", "pages"): "total_pagecache_pages",
    ("pages", "RAM"): "pages_ram",
    ("pages", "of", "RAM"): "pages_ram",
    ("pages", "reserved"): "pages_reserved",
    ("reserved", "pages"): "pages_reserved",
    ("pages", "HighMem/MovableOnly"): "pages_highmem",
    ("pages", "of", "HIGHMEM"): "pages_highmem",
    ("pages", "cma", "reserved"): "pages_cma_reserved",
    ("pages", "in", "swap", "cache"): "swap_cache_pages",
}
"""meminfo._TAIL_PHRASES: no phrase is a prefix of another, so a whole-line lookup is exact."""
_TAIL_SECOND: dict[str, frozenset[str]] = {
    first: frozenset(words[1] for words in _TAIL_PHRASES if words[0] == first)
    for first in ("total", "pages", "reserved")}
"""The second words of the phrases by their first word: a third token outside it ends the
walker's phrase lookup inside the line."""

_ZONE_NAMES: set[str] = set()
"""Words already checked against _ZONE_NAME (bounded like _GOOD_KEYS)."""


def _zone_name(word: str) -> bool:
    if word in _ZONE_NAMES:
        return True
    if not _ZONE_NAME.fullmatch(word):
        return False
    if len(_ZONE_NAMES) < 256:
        _ZONE_NAMES.add(word)
    return True


_GOOD_KEYS: set[str] = set()
"""Keys already checked against _KEY_NAME (bounded: see _keys_ok)."""


def _keys_ok(keys: list[str]) -> bool:
    if _GOOD_KEYS.issuperset(keys):
        return True
    if not all(_KEY_NAME.fullmatch(k) for k in keys):
        return False
    if len(_GOOD_KEYS) < 4096:  # kernels print a few hundred names; random text stays bounded
        _GOOD_KEYS.update(keys)
    return True


def _digits(values: list[str]) -> bool:
    """Every value is 1-18 ASCII digits (the walker's `\\d{1,18}` taken by `int`)."""
    joined = "".join(values)
    return joined.isdigit() and joined.isascii() and max(map(len, values)) <= 18


def _pairs(text: str, unit: bool) -> dict[str, int] | None:
    """`key:N ...` (unit False) or `key:NkB ...` (unit True, `KB` too) -> {key: N}, or None.

    None unless every whitespace token is exactly one such pair and no key repeats (the
    walker keeps a key's first value).
    """
    tokens = text.split()
    n = len(tokens)
    items = text.replace(":", " ").split()
    if len(items) != 2 * n or not n:
        return {} if not n and not items else None
    keys, values = items[0::2], items[1::2]
    if unit:
        # Each token is one `key:value`: n colons and 2n pieces leave none empty, and a token
        # of two colons (with one of none) would put a value piece, which ends in `kB`, before
        # a colon.
        if text.count(":") != n or "B:" in text:
            return None
        ends = " ".join(values) + " "
        if ends.count("kB ") + ends.count("KB ") != n:
            return None
        values = ends.replace("kB ", " ").replace("KB ", " ").split()
        if len(values) != n:
            return None
    elif " ".join(map(":".join, zip(keys, values))) != " ".join(tokens):
        return None  # a token of two colons or none
    if not _digits(values) or not _keys_ok(keys):
        return None
    fields = dict(zip(keys, map(int, values)))
    return fields if len(fields) == n else None


def _scanned(body: str) -> tuple[str, int | None]:
    """Take ` pages_scanned:N` out of a zone or node line; (-1 as N: not a plain number)."""
    head, sep, rest = body.partition(" pages_scanned:")
    if not sep:
        return body, None
    number, _, rest = rest.partition(" ")
    if not _digits([number]) or " pages_scanned:" in rest:
        return body, -1
    return (f"{head} {rest}" if rest else head), int(number)


def _starts(t0: str, t1: str) -> bool:
    """The walker's `starts()` is not None for these two tokens."""
    if t0[:1].islower():
        return t0 in _RESERVE_HEADS
    return ((t0 == "Node" and t1.isdigit() and t1.isascii() and len(t1) <= 18)
            or bool(ZONE_NAME.match(t0) and t1.startswith("free:"))
            or bool(ZONE_COLON.match(t0) and (BUDDY.match(t1) or t1 == "empty"))
            or t0 in _RESERVE_HEADS or (t0 in ("Free", "Total") and t1 in ("swap", "swap:"))
            or (t0.isdigit() and t0.isascii() and len(t0) <= 18
                and t1 in ("total", "pages", "reserved")))


def _ends_open(tok: str) -> bool:
    """A line's last token that might start a construct with the next line's first token."""
    return (tok in ("Node", "Free", "Total") or bool(ZONE_NAME.match(tok) or ZONE_COLON.match(tok))
            or (tok.isdigit() and tok.isascii() and len(tok) <= 18))


def _zone_fields(body: str) -> tuple[dict[str, int], dict[str, int], bool | None] | None:
    unreclaimable = None
    bulk = body
    if bulk.endswith(_UNRECLAIMABLE):
        unreclaimable = bulk.endswith("yes")
        bulk = bulk[:bulk.rindex(" all_unreclaimable?")]
    bulk, scanned = _scanned(bulk)
    fields_kb = None if scanned == -1 else _pairs(bulk.replace(": ", ":"), True)
    if fields_kb is None:
        return None
    return fields_kb, {} if scanned is None else {"pages_scanned": scanned}, unreclaimable


def _node_line(body: str) -> dict[str, int] | None:
    """`Node N key:NkB ...`: kB pairs; `pages_scanned:N` and `all_unreclaimable? no` (4.8-4.x)
    are read and dropped by the walker's node-line reader too."""
    bulk = body
    if bulk.endswith(_UNRECLAIMABLE):
        bulk = bulk[:bulk.rindex(" all_unreclaimable?")]
    bulk, scanned = _scanned(bulk)
    return None if scanned == -1 else _pairs(bulk.replace(": ", ":"), True)


def _inert(tokens: list[str]) -> bool:
    """The walker reads these tokens as loose words that change nothing: no construct, no
    `key:N` (a summary counter before the first zone), no call-trace text."""
    t = [*tokens, ""]
    return not _ends_open(tokens[-1]) and not any(
        _starts(tok, t[i + 1]) or KV.match(tok) or FRAME_TOKEN.match(tok)
        for i, tok in enumerate(tokens))


def buddy_line(node: int | None, name: str, counts: list[int], sizes: list[int],
               types: list[str], total: int | None) -> BuddyLine:
    """The BuddyLine of a buddy line's cells (shared with the reference walker)."""
    base = sizes[0] if sizes else None
    regular = base is not None and _regular(tuple(sizes))
    adds_up = None
    if total is not None and counts and regular:
        adds_up = sum(map(mul, counts, sizes)) == total
    return assemble(BuddyLine, {
        "node": node, "zone": name, "base_kb": base if regular else None,
        "counts": tuple(counts) if regular else None, "types": tuple(types),
        "total_kb": total, "adds_up": adds_up, "empty": False})


_REGULAR: dict[tuple[int, ...], bool] = {}
"""Sizes of buddy cells seen -> each is twice the one before (a few dozen on any log)."""


def _regular(sizes: tuple[int, ...]) -> bool:
    known = _REGULAR.get(sizes)
    if known is None:
        known = all(s == sizes[0] << k for k, s in enumerate(sizes))
        if len(_REGULAR) < 1024:
            _REGULAR[sizes] = known
    return known


def _buddy(node: int | None, name: str, body: str) -> BuddyLine | None:
    if body == "empty":
        return BuddyLine(node, name, None, None, (), None, None, empty=True)
    if not _BUDDY_CELLS.fullmatch(body):
        return None
    counts, sizes, types = zip(*_BUDDY_CELL.findall(body))
    return buddy_line(node, name, list(map(int, counts)), list(map(int, sizes)), list(types),
                      int(body[body.rindex(" ") + 1:-2]))


def _summary_line(line: str) -> bool:
    """The line starts with a `key:value` token (the counters before the first zone)."""
    space = line.find(" ")
    colon = line.find(":", 0, len(line) if space < 0 else space)
    return colon > 0 and colon != (len(line) if space < 0 else space) - 1


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
        if word[-1:] == ":" and body and _zone_name(word[:-1]):
            b = _buddy(node, word[:-1], body)
            self.buddy += [b] if b else []
            return b is not None
        if body.startswith("free:") and _zone_name(word):
            return self._zone(node, word, body)
        if node is not None:
            return self._node(node, word, rest)
        if word in _RESERVE_HEADS:
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
        return not was_open and (bool(_SWAP_STATS.fullmatch(line)) or _inert(tokens))

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
        read = _zone_fields(body)
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
        fields = None if node in self.nodes else _node_line(rest)
        if fields is None:
            return False
        self.nodes[node] = fields
        self.open = True
        self.undo = ("node", node)
        return True

    def _huge(self, node: int, rest: str) -> bool:
        m = _HUGE_LINE.fullmatch(rest)
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
        if i < len(tokens) and not _inert(tokens[i:]):
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
        if values and not _digits(values):
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
        key = _TAIL_PHRASES.get(tuple(tokens[1:]))
        if key is not None:
            self.tail.setdefault(key, int(tokens[0]))
            return True
        # No phrase: the walker skips two words and reads the rest as loose words. Its phrase
        # lookup must end inside the line: the third word is no phrase's second word.
        return len(tokens) > 2 and tokens[2] not in _TAIL_SECOND[tokens[1]] and _inert(tokens[2:])

    def _swap(self, tokens: list[str]) -> bool:
        if tokens[1:3] == ["swap", "="] and len(tokens) == 4:
            value = tokens[3]
        elif tokens[1] == "swap:" and len(tokens) == 3:
            value = tokens[2]
        else:
            return False
        number = value[:-2]
        if value[-2:] not in ("kB", "KB") or not number or not _digits([number]):
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
    while end < len(kept) and _summary_line(kept[end]):
        end += 1
    summary = _pairs(" ".join(kept[start:end]), False)
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
