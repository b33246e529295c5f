"""The line shapes of a Mem-Info dump that meminfo_fast reads on their own, and the walker's
token shapes (meminfo.py reads those from here).

Each reader takes one line (or its part after `[Node N ]<word> `) and gives what the token
walker would give for it, or None when the line is not exactly of its shape: one colon per
`key:NkB` token, ASCII numbers of at most 18 digits, keys of the walker's key pattern, no key
twice. See meminfo_fast for why such a line can be read on its own.
"""

from __future__ import annotations

import re
from operator import mul

from memstall.model.kernlog import BuddyLine, assemble

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
HUGE_LINE = re.compile(r"hugepages_total=(\d{1,18}) hugepages_free=(\d{1,18}) "
                   r"hugepages_surp=(\d{1,18}) hugepages_size=(\d{1,18})kB", re.ASCII)
SWAP_STATS = re.compile(r"Swap cache(?: stats)?: add \d+, delete \d+, find \d+/\d+(?:, race \d+\+\d+)?",
                         re.ASCII)
"""Loose words to the walker (no construct, no `key:N`, no frame; `N/N` last)."""
_UNRECLAIMABLE = (" all_unreclaimable? no", " all_unreclaimable? yes")
RESERVE_HEADS = ("lowmem_reserve[]:", "protections[]:")

TAIL_PHRASES: dict[tuple[str, ...], str] = {
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
TAIL_SECOND: dict[str, frozenset[str]] = {
    first: frozenset(words[1] for words in TAIL_PHRASES if words[0] == first)
    for first in ("total", "pages", "reserved")}
"""The second words of the phrases by their first word: a third token outside it ends the
walker's phrase lookup inside the line."""

_ZONE_NAMES: set[str] = set()
"""Words already checked against _ZONE_NAME (bounded like _GOOD_KEYS)."""


def zone_name(word: str) -> bool:
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


def digits(values: list[str]) -> bool:
    """Every value is 1-18 ASCII digits (the walker's `\\d{1,18}` taken by `int`)."""
    joined = "".join(values)
    return joined.isdigit() and joined.isascii() and max(map(len, values)) <= 18


def pairs(text: str, unit: bool) -> dict[str, int] | None:
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
    if not digits(values) or not _keys_ok(keys):
        return None
    fields = dict(zip(keys, map(int, values)))
    return fields if len(fields) == n else None


def _scanned(body: str) -> tuple[str, int | None]:
    """Take ` pages_scanned:N` out of a zone or node line; (-1 as N: not a plain number)."""
    head, sep, rest = body.partition(" pages_scanned:")
    if not sep:
        return body, None
    number, _, rest = rest.partition(" ")
    if not digits([number]) or " pages_scanned:" in rest:
        return body, -1
    return (f"{head} {rest}" if rest else head), int(number)


def _starts(t0: str, t1: str) -> bool:
    """The walker's `starts()` is not None for these two tokens."""
    if t0[:1].islower():
        return t0 in RESERVE_HEADS
    return ((t0 == "Node" and t1.isdigit() and t1.isascii() and len(t1) <= 18)
            or bool(ZONE_NAME.match(t0) and t1.startswith("free:"))
            or bool(ZONE_COLON.match(t0) and (BUDDY.match(t1) or t1 == "empty"))
            or t0 in RESERVE_HEADS or (t0 in ("Free", "Total") and t1 in ("swap", "swap:"))
            or (t0.isdigit() and t0.isascii() and len(t0) <= 18
                and t1 in ("total", "pages", "reserved")))


def _ends_open(tok: str) -> bool:
    """A line's last token that might start a construct with the next line's first token."""
    return (tok in ("Node", "Free", "Total") or bool(ZONE_NAME.match(tok) or ZONE_COLON.match(tok))
            or (tok.isdigit() and tok.isascii() and len(tok) <= 18))


def zone_fields(body: str) -> tuple[dict[str, int], dict[str, int], bool | None] | None:
    unreclaimable = None
    bulk = body
    if bulk.endswith(_UNRECLAIMABLE):
        unreclaimable = bulk.endswith("yes")
        bulk = bulk[:bulk.rindex(" all_unreclaimable?")]
    bulk, scanned = _scanned(bulk)
    fields_kb = None if scanned == -1 else pairs(bulk.replace(": ", ":"), True)
    if fields_kb is None:
        return None
    return fields_kb, {} if scanned is None else {"pages_scanned": scanned}, unreclaimable


def node_line(body: str) -> dict[str, int] | None:
    """`Node N key:NkB ...`: kB pairs; `pages_scanned:N` and `all_unreclaimable? no` (4.8-4.x)
    are read and dropped by the walker's node-line reader too."""
    bulk = body
    if bulk.endswith(_UNRECLAIMABLE):
        bulk = bulk[:bulk.rindex(" all_unreclaimable?")]
    bulk, scanned = _scanned(bulk)
    return None if scanned == -1 else pairs(bulk.replace(": ", ":"), True)


def inert(tokens: list[str]) -> bool:
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


def read_buddy(node: int | None, name: str, body: str) -> BuddyLine | None:
    if body == "empty":
        return BuddyLine(node, name, None, None, (), None, None, empty=True)
    if not _BUDDY_CELLS.fullmatch(body):
        return None
    counts, sizes, types = zip(*_BUDDY_CELL.findall(body))
    return buddy_line(node, name, list(map(int, counts)), list(map(int, sizes)), list(types),
                      int(body[body.rindex(" ") + 1:-2]))


def summary_line(line: str) -> bool:
    """The line starts with a `key:value` token (the counters before the first zone)."""
    space = line.find(" ")
    colon = line.find(":", 0, len(line) if space < 0 else space)
    return colon > 0 and colon != (len(line) if space < 0 else space) - 1
