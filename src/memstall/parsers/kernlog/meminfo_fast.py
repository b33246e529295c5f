"""Mem-Info dumps of the usual shapes, parsed a line at a time with bulk string operations.

`reference_parse_mem_info` (meminfo.py) walks the dump as one token stream, because log
pipelines break its lines anywhere. Most dumps are not broken: every line after the summary
counters starts one construct (zone, lowmem_reserve, buddy, node, hugepages, tail, swap
line) and holds nothing else. For those, each line is parsed on its own with a few C-level
string operations (`str.split`, `str.replace`, one `map(int, ...)`) instead of one regex and
one Python step per token. Only lines whose shape guarantees that the token walker would read
them the same way are taken; any other line (a wrapped or cut line, interleaved call trace,
an unknown line, a negative or Unicode number, a repeated key) makes `fast_parse_mem_info`
return None and the caller runs the reference walker on the whole dump. The two agree on
every dump (tests/test_kernlog_meminfo_fast.py: corpus dumps, mutated and re-wrapped ones).

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
    if " ".join(map(":".join, zip(keys, values))) != " ".join(tokens):
        return None  # a token of two colons or none
    if unit:
        ends = " ".join(values) + " "
        if ends.count("kB ") + ends.count("KB ") != n:
            return None
        values = ends.replace("kB ", " ").replace("KB ", " ").split()
        if len(values) != n:
            return None
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


_Fields = tuple[dict[str, int], dict[str, int], "bool | None", bool]


def _read_tokens(tokens: list[str], zone: bool) -> _Fields | None:
    """The walker's zone (`zone`) or node-line reader on one line's tokens: (kB fields, plain
    fields, all_unreclaimable, complete); None when it would stop inside the line, read into
    the next one (`all_unreclaimable?` or `Node` last) or meet call-trace text."""
    if tokens and (tokens[-1] == "all_unreclaimable?" or _ends_open(tokens[-1])):
        return None
    kb: dict[str, int] = {}
    plain: dict[str, int] = {}
    unreclaimable = None
    complete = True
    t = [*tokens, "", ""]
    i, n = 0, len(tokens)
    while i < n:
        tok = t[i]
        if _starts(tok, t[i + 1]):
            return None
        m = KV_KB.match(tok)
        k = None if m else KEY.match(tok)
        v = VAL_KB.match(t[i + 1]) if k else None
        if m:
            kb.setdefault(m.group(1), int(m.group(2)))
        elif k and v:
            kb.setdefault(k.group(1), int(v.group(1)))
            i += 1
        elif zone and tok == "all_unreclaimable?":
            unreclaimable = t[i + 1] == "yes"
            i += 1
        elif zone:
            p = KV.match(tok)
            if p and p.group(1).endswith("scanned"):
                plain[p.group(1)] = int(p.group(2))
            elif p:  # a kB field without its unit: a cut line
                complete = False
            elif FRAME_TOKEN.match(tok):
                return None
        i += 1
    return kb, plain, unreclaimable, complete


def _zone_fields(body: str) -> _Fields | None:
    unreclaimable = None
    bulk = body
    if bulk.endswith(_UNRECLAIMABLE):
        unreclaimable = bulk.endswith("yes")
        bulk = bulk[:bulk.rindex(" all_unreclaimable?")]
    bulk, scanned = _scanned(bulk)
    fields_kb = None if scanned == -1 else _pairs(bulk.replace(": ", ":"), True)
    if fields_kb is None:
        return _read_tokens(body.split(), True)
    return fields_kb, {} if scanned is None else {"pages_scanned": scanned}, unreclaimable, True


def _node_line(body: str) -> dict[str, int] | None:
    """`Node N key:NkB ...`: kB pairs; `pages_scanned:N` and `all_unreclaimable? no` (4.8-4.x)
    are read and dropped by the walker's node-line reader too."""
    bulk = body
    if bulk.endswith(_UNRECLAIMABLE):
        bulk = bulk[:bulk.rindex(" all_unreclaimable?")]
    bulk, scanned = _scanned(bulk)
    fields = None if scanned == -1 else _pairs(bulk.replace(": ", ":"), True)
    if fields is None:
        read = _read_tokens(body.split(), False)
        return None if read is None else read[0]
    return fields


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
    regular = base is not None and all(s == base << k for k, s in enumerate(sizes))
    adds_up = None
    if total is not None and counts and regular:
        adds_up = sum(c * s for c, s in zip(counts, sizes)) == total
    return BuddyLine(node, name, base if regular else None, tuple(counts) if regular else None,
                     tuple(types), total, adds_up)


def _buddy(node: int | None, name: str, body: str) -> BuddyLine | None:
    if body == "empty":
        return BuddyLine(node, name, None, None, (), None, None, empty=True)
    if not _BUDDY_CELLS.fullmatch(body):
        return None
    cells = _BUDDY_CELL.findall(body)
    counts, sizes, types = zip(*cells)
    return buddy_line(node, name, list(map(int, counts)), list(map(int, sizes)), list(types),
                      int(body[body.rindex(" ") + 1:-2]))


def _dropped(line: str) -> bool:
    """The reference's filter (per-cpu pagesets, `Free pages:`, `[...]`), run only on lines
    holding a word each of its alternatives needs."""
    if "pu" not in line and "PU" not in line and "Free pages:" not in line and "[...]" not in line:
        return False
    return bool(PERCPU.match(line)) or line.lstrip().startswith(("Free pages:", "[...]"))


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
        self.open: dict[str, int] | None = None
        self.open_zone: dict[str, object] | None = None
        self.open_last = ""
        self.after_reserve = False
        self.after_huge = False

    def line(self, line: str) -> bool:
        """Read one line after the summary; False: not a shape this module takes."""
        after_reserve, self.after_reserve = self.after_reserve, False
        after_huge, self.after_huge = self.after_huge, False
        was_open, self.open = self.open, None
        open_zone, self.open_zone = self.open_zone, None
        if after_huge and HUGE.match(line.split(None, 1)[0] if line.strip() else ""):
            return False
        node = None
        rest = line
        if line.startswith("Node "):
            space = line.find(" ", 5)
            number = line[5:space]
            if space < 0 or not number or not _digits([number]):
                return False
            node, rest = int(number), line[space + 1:]
        space = rest.find(" ")
        word, body = (rest[:space], rest[space + 1:]) if space > 0 else (rest, "")
        if word[-1:] == ":" and body and _ZONE_NAME.fullmatch(word, 0, len(word) - 1):
            b = _buddy(node, word[:-1], body)
            self.buddy += [b] if b else []
            return b is not None
        if body.startswith("free:") and _ZONE_NAME.fullmatch(word):
            return self._zone(node, word, body)
        if node is not None:
            return self._node(node, word, rest)
        if word in _RESERVE_HEADS:
            return self._reserve(body)
        tokens = line.split()
        if not tokens or (after_reserve and tokens[0].isdigit()):
            return not tokens
        if tokens[0].isdigit() and tokens[1:2] in (["total"], ["pages"], ["reserved"]):
            return self._tail(tokens)
        if tokens[0] in ("Free", "Total") and tokens[1:2] in (["swap"], ["swap:"]):
            return self._swap(tokens)
        if was_open is not None:
            return self._continued(was_open, open_zone, tokens)
        return _inert(tokens)

    def _continued(self, fields_kb: dict[str, int], zone: dict[str, object] | None,
                   tokens: list[str]) -> bool:
        """A line that starts no construct, after a zone or node line: the walker's reader of
        that line reads it too (unless `key:` ended the line and this one starts `NkB`)."""
        if KEY.match(self.open_last) and VAL_KB.match(tokens[0]):
            return False
        read = _read_tokens(tokens, zone is not None)
        if read is None:
            return False
        kb, plain, unreclaimable, complete = read
        for key, value in kb.items():
            fields_kb.setdefault(key, value)
        if zone is not None:
            zone["fields"].update(plain)  # type: ignore[attr-defined]
            if unreclaimable is not None:
                zone["all_unreclaimable"] = unreclaimable
            zone["complete"] = zone["complete"] and complete
        self._opened(fields_kb, zone, tokens[-1])
        return True

    def _opened(self, fields_kb: dict[str, int], zone: dict[str, object] | None, last: str) -> None:
        self.open, self.open_zone, self.open_last = fields_kb, zone, last

    def _zone(self, node: int | None, name: str, body: str) -> bool:
        read = _zone_fields(body)
        if read is None:
            return False
        fields_kb, plain, unreclaimable, complete = read
        zone: dict[str, object] = {
            "node": node, "zone": name, "fields_kb": fields_kb, "fields": plain,
            "all_unreclaimable": unreclaimable, "lowmem_reserve": None,
            "complete": complete}  # and "free" and "high" read: see fast_parse_mem_info
        self.zones.append(zone)
        self._opened(fields_kb, zone, body[body.rfind(" ") + 1:])
        return True

    def _node(self, node: int, word: str, rest: str) -> bool:
        first = word if word else (rest.split(None, 1) or [""])[0]
        if HUGE.match(first):
            return self._huge(node, rest)
        if not (KV_KB.match(first) or KEY.match(first)):
            return False  # the walker skips `Node N` and reads on: not taken here
        fields = None if node in self.nodes else _node_line(rest)
        if fields is None:
            return False
        self.nodes[node] = fields
        self._opened(fields, None, rest[rest.rfind(" ") + 1:])
        return True

    def _huge(self, node: int, rest: str) -> bool:
        m = _HUGE_LINE.fullmatch(rest)
        if m:
            total, free, surp, size = map(int, m.groups())
            self.huge.append(HugepagesLine(node, total, free, surp, size))
            self.after_huge = True
            return True
        tokens = rest.split()  # the walker's reader: `hugepages_key=N` words, last value kept
        values: dict[str, int] = {}
        i = 0
        for i, tok in enumerate([*tokens, ""]):  # noqa: B007 (i is read after the loop)
            h = HUGE.match(tok)
            if not h:
                break
            values[h.group(1)] = int(h.group(2))
        if {"total", "free", "size"} <= values.keys():
            self.huge.append(HugepagesLine(node, values["total"], values["free"],
                                           values.get("surp", 0), values["size"]))
        self.after_huge = i == len(tokens)  # it would read on into the next line
        return i == len(tokens) or _inert(tokens[i:])

    def _reserve(self, body: str) -> bool:
        values = body.split()
        if values and not _digits(values):
            return False
        reserve = tuple(map(int, values))
        self.reserves.append(reserve)
        if self.zones and self.zones[-1]["lowmem_reserve"] is None:  # the zone line before it
            self.zones[-1]["lowmem_reserve"] = reserve
        self.after_reserve = True
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


def fast_parse_mem_info(lines: Sequence[str], source: str, line_no: int,
                        complete: bool) -> MemInfoDump | None:
    """reference_parse_mem_info's dump when every line has a usual shape; None otherwise."""
    kept = [line for line in lines if not _dropped(line) and not line.isspace() and line]
    start = 1 if kept and kept[0].strip() == "Mem-Info:" else 0
    end = start
    while end < len(kept) and _summary_line(kept[end]):
        end += 1
    summary = _pairs(" ".join(kept[start:end]), False)
    if summary is None:
        return None
    d = _Dump()
    for line in kept[end:]:
        if not d.line(line):
            return None
    for z in d.zones:
        z["complete"] = z["complete"] and "free" in z["fields_kb"] and "high" in z["fields_kb"]  # type: ignore[operator]
    zones = tuple(assemble(MemInfoZone, z) for z in d.zones)
    partial = (not complete or not zones or not d.buddy or any(not z.complete for z in zones))
    tail = d.tail
    return assemble(MemInfoDump, {
        "summary_pages": summary, "nodes_kb": d.nodes, "zones": zones, "buddy": tuple(d.buddy),
        "hugepages": tuple(d.huge), "lowmem_reserve": tuple(d.reserves),
        "total_pagecache_pages": tail.get("total_pagecache_pages"),
        "pages_ram": tail.get("pages_ram"), "pages_reserved": tail.get("pages_reserved"),
        "pages_highmem": tail.get("pages_highmem"),
        "pages_cma_reserved": tail.get("pages_cma_reserved"),
        "swap_cache_pages": tail.get("swap_cache_pages"), "free_swap_kb": tail.get("free_swap_kb"),
        "total_swap_kb": tail.get("total_swap_kb"), "partial": partial, "source": source,
        "line_no": line_no, "interleaved": False})
