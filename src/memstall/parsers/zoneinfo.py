"""zoneinfo — /proc/zoneinfo

One block per zone (mm/vmstat.c zoneinfo_show_print, docs/kernel.md#zoneinfo). Since 4.8 the first
zone of each node also carries the node's `per-node stats`. A 6.x block::

    Node 0, zone   Normal
      pages free     24566
            boost    0
            min      3851
            low      4813
            high     5775
            promo    6737
            spanned  5505024
            present  5505024
            managed  229376
            cma      0
            protection: (0, 0, 0, 0, 0)
          nr_free_pages 24566
      pagesets
        cpu: 0
                  count:    5767
                  high:     10862
                  batch:    63
      vm stats threshold: 16
      node_unreclaimable:  0
      start_pfn:           1048576

Fields are pages. `min/low/high/promo` include `boost` (5.0+). `promo` is printed since
6.12, `boost` since 5.0, `managed` since 3.8, `cma` with CONFIG_CMA; older kernels put
`protection` after the counters and print `scanned`/`node_scanned`. Unknown `<key> <int>`
lines are kept in `counters`, unknown trailer lines in `extra`, so a new kernel never
breaks the parser. A line of another shape is skipped and listed in `ZoneInfo.skipped`
(line number and text), for the reader to say so: RHEL 8.0 (4.18.0-80) prints one
per-node counter with no name (`                   537792`, after nr_written), 2.6
kernels print `scanned  0 (a: 0 i: 0)` and `cpu: 0 pcp: 0`. A field memstall uses
(`pages free`, min/low/high/promo/boost, spanned/present/managed/cma, protection) with a
value of another shape is a ParseError: never half a watermark.

>>> zi = parse_zoneinfo('''Node 0, zone      DMA
...   pages free     3840
...         min      71
...         low      88
...         high     105
...         spanned  4095
...         present  3998
...         managed  3840
...         protection: (0, 3019)
... ''')
>>> zi.zones[0].low_pages, zi.zones[0].protection_pages
(88, (0, 3019))

`parse_zoneinfo` takes a fast path (`str.split` per line, the key shapes checked once per
process) on plain text in which every line has one of the shapes above; any other line,
a repeated field or zone, or a missing field sends the whole text to
`reference_parse_zoneinfo`, the regex parser, which keeps, skips or refuses it. Both give
the same ZoneInfo (tests/property/test_prop_fastpaths.py compares them on every fixture root and
on generated text).
"""

from __future__ import annotations

import re
from typing import Any

from memstall.errors import ParseError
from memstall.model.zones import NodeStats, Zone, ZoneInfo
from memstall.parsers._lines import is_int, numbered, plain, to_int, valid_name

_ZONE_HEAD = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)\s*$", re.ASCII)
_KEY_INT = re.compile(r"^\s*([A-Za-z_][\w()]*)\s+(-?\d+)\s*$", re.ASCII)
_KEY_COLON = re.compile(r"^\s*([A-Za-z_][\w ]*?):\s*(-?\d+)\s*$", re.ASCII)
_PROTECTION = re.compile(r"^\s*protection:\s*\(([\d,\s]*)\)\s*$", re.ASCII)
_PAGES_FREE = re.compile(r"^\s*pages free\s+(\d+)\s*$", re.ASCII)

_ZONE_FIELDS = {"min", "low", "high", "promo", "boost", "spanned", "present", "managed", "cma"}
_REQUIRED = ("free", "min", "low", "high", "spanned", "present")
_PAGESET_KEYS = {"cpu", "count", "high", "batch", "high_min", "high_max", "vm stats threshold"}


# The first word of a line that carries a field memstall reads: such a line must parse.
_USED_WORDS = _ZONE_FIELDS | {"pages", "protection:", "protection"}


class _ZoneBuilder:
    def __init__(self, node: int, name: str, line_no: int, line: str) -> None:
        self.node, self.name, self.line_no, self.line = node, name, line_no, line
        self.fields: dict[str, int] = {}
        self.protection: tuple[int, ...] = ()
        self.counters: dict[str, int] = {}
        self.extra: dict[str, int] = {}

    def build(self, path: str) -> Zone:
        missing = [k for k in _REQUIRED if k not in self.fields]
        if missing:
            raise ParseError(path, self.line_no, self.line,
                             f"a zone block with {', '.join(missing)} lines")
        f = self.fields
        kwargs: dict[str, Any] = {
            "node": self.node, "zone": self.name, "free_pages": f["free"],
            "min_pages": f["min"], "low_pages": f["low"], "high_pages": f["high"],
            "spanned_pages": f["spanned"], "present_pages": f["present"],
            "managed_pages": f.get("managed"), "boost_pages": f.get("boost"),
            "promo_pages": f.get("promo"), "cma_pages": f.get("cma"),
            "protection_pages": self.protection, "counters": self.counters, "extra": self.extra,
        }
        return Zone(**kwargs)


def parse_zoneinfo(text: str, path: str = "proc/zoneinfo") -> ZoneInfo:
    try:
        return fast_parse_zoneinfo(text, path)
    except _Fallback:
        return reference_parse_zoneinfo(text, path)


class _Fallback(Exception):
    """A line the fast path does not take: the reference parser decides."""


_KEY = re.compile(r"[A-Za-z_][\w()]*", re.ASCII)
_COLON_KEY = re.compile(r"[A-Za-z_][\w ]*", re.ASCII)
_KNOWN_KEYS: set[str] = set()
_KNOWN_COLON_KEYS: set[str] = set()


# The per-CPU lines of a pagesets section (most of the file on a many-CPU host), in the
# shapes the kernel prints them: none but the last `vm stats threshold` is kept, so the
# section is cut to that one line in one pass instead of being split line by line.
_PAGESET_LINES = re.compile(
    r"^  pagesets\n((?:[ ]*(?:cpu|count|high|batch|high_min|high_max|vm stats threshold): +-?\d+\n)+)",
    re.MULTILINE | re.ASCII)
_THRESHOLD = "vm stats threshold:"


def _last_threshold(m: re.Match[str]) -> str:
    """The section as the line-by-line path would keep it: its last threshold line, if any."""
    lines = m.group(1)
    at = lines.rfind(_THRESHOLD)
    if at < 0:
        return "  pagesets\n"
    value = lines[at + len(_THRESHOLD):lines.index("\n", at)].strip()
    return f"  pagesets\n  {_THRESHOLD} {value}\n"


def fast_parse_zoneinfo(text: str, path: str = "proc/zoneinfo") -> ZoneInfo:
    """reference_parse_zoneinfo's result for text of the usual shapes; raises _Fallback otherwise."""
    if not plain(text):
        raise _Fallback
    text = _PAGESET_LINES.sub(_last_threshold, text)
    zones: list[Zone] = []
    seen: set[tuple[int, str]] = set()
    nodes: dict[int, dict[str, int]] = {}
    cur: _ZoneBuilder | None = None
    mode = "zone"
    for no, line in enumerate(text.split("\n"), start=1):
        tokens = line.split()
        if not tokens:
            continue
        first = tokens[0]
        if first == "Node" and line[0] == "N":
            cur = _fast_head(tokens, no, line, cur, zones, seen, path)
            mode = "zone"
            continue
        if cur is None:
            raise _Fallback
        if first == "per-node":
            if line.strip() != "per-node stats":
                raise _Fallback
            mode = "node"
            nodes.setdefault(cur.node, {})
        elif len(tokens) == 1 and first == "pagesets":
            mode = "pagesets"
        elif first == "pages":
            _fast_pages_free(cur, tokens, line)
            mode = "zone"
        elif first.startswith("protection:"):
            cur.protection = _fast_protection(line, path, no)
        elif mode == "pagesets":
            _fast_pageset(cur, line)
        elif len(tokens) == 2 and first in _KNOWN_KEYS and is_int(tokens[1]):  # the common line
            if mode == "node":
                nodes[cur.node][first] = int(tokens[1])
            elif first in _ZONE_FIELDS:
                _fast_zone_field(cur, first, tokens[1])
            else:
                cur.counters[first] = int(tokens[1])
        else:
            _fast_key_int(cur, nodes, mode, tokens)
    if cur is None:
        raise _Fallback
    zones.append(_fast_build(cur, path))
    return ZoneInfo(zones=tuple(zones), nodes=tuple(NodeStats(n, c) for n, c in sorted(nodes.items())))


def _fast_head(tokens: list[str], no: int, line: str, cur: _ZoneBuilder | None, zones: list[Zone],
               seen: set[tuple[int, str]], path: str) -> _ZoneBuilder:
    if len(tokens) != 4 or tokens[2] != "zone" or tokens[1][-1:] != "," or not tokens[1][:-1].isdigit():
        raise _Fallback
    if cur is not None:
        zones.append(_fast_build(cur, path))
    key = (int(tokens[1][:-1]), tokens[3])
    if key in seen:
        raise _Fallback
    seen.add(key)
    return _ZoneBuilder(key[0], key[1], no, line)


def _fast_build(cur: _ZoneBuilder, path: str) -> Zone:
    try:
        return cur.build(path)
    except ParseError:
        raise _Fallback from None


def _fast_pages_free(cur: _ZoneBuilder, tokens: list[str], line: str) -> None:
    if (len(tokens) != 3 or tokens[1] != "free" or not tokens[2].isdigit()
            or not line.lstrip().startswith("pages free") or "free" in cur.fields):
        raise _Fallback
    cur.fields["free"] = int(tokens[2])


def _fast_protection(line: str, path: str, no: int) -> tuple[int, ...]:
    try:
        return _protection(line, path, no)
    except ParseError:
        raise _Fallback from None


def _fast_pageset(cur: _ZoneBuilder, line: str) -> None:
    raw, colon, value = line.partition(":")
    key, value = raw.strip(), value.strip()
    if (not colon or "\t" in raw.lstrip() or not is_int(value)
            or not valid_name(key, _COLON_KEY, _KNOWN_COLON_KEYS)):
        raise _Fallback
    if key not in _PAGESET_KEYS or key == "vm stats threshold":
        cur.extra[key] = int(value)


def _fast_key_int(cur: _ZoneBuilder, nodes: dict[int, dict[str, int]], mode: str,
                  tokens: list[str]) -> None:
    if len(tokens) != 2 or not is_int(tokens[1]) or not valid_name(tokens[0], _KEY, _KNOWN_KEYS):
        raise _Fallback
    key, value = tokens[0], int(tokens[1])
    if mode == "node":
        nodes[cur.node][key] = value
    elif key in _ZONE_FIELDS:
        _fast_zone_field(cur, key, tokens[1])
    else:
        cur.counters[key] = value


def _fast_zone_field(cur: _ZoneBuilder, key: str, value: str) -> None:
    if key in cur.fields:
        raise _Fallback
    cur.fields[key] = int(value)


def reference_parse_zoneinfo(text: str, path: str = "proc/zoneinfo") -> ZoneInfo:
    zones: list[Zone] = []
    nodes: dict[int, dict[str, int]] = {}
    skipped: list[tuple[int, str]] = []
    cur: _ZoneBuilder | None = None
    mode = "zone"
    for no, line in numbered(text):
        m = _ZONE_HEAD.match(line)
        if m:
            if cur is not None:
                zones.append(cur.build(path))
            if any(z.node == int(m.group(1)) and z.zone == m.group(2) for z in zones):
                raise ParseError(path, no, line,  # the kernel prints each zone once
                                 f"each zone once, but node {m.group(1)} {m.group(2)} is repeated")
            cur = _ZoneBuilder(int(m.group(1)), m.group(2), no, line)
            mode = "zone"
            continue
        if cur is None:
            raise ParseError(path, no, line, "'Node <n>, zone <name>' first")
        stripped = line.strip()
        if stripped == "per-node stats":
            mode = "node"
            nodes.setdefault(cur.node, {})
            continue
        if stripped == "pagesets":
            mode = "pagesets"
            continue
        pm = _PAGES_FREE.match(line)
        if pm:
            mode = "zone"
            _set_field(cur, "free", int(pm.group(1)), path, no, line)
            continue
        if stripped.startswith("protection:"):
            cur.protection = _protection(line, path, no)
            continue
        try:
            _take_value(cur, nodes, mode, no, line, path)
        except ParseError:
            if _used(line):
                raise
            skipped.append((no, line))
    if cur is None:
        raise ParseError(path, 0, text[:40], "at least one 'Node <n>, zone <name>' block")
    zones.append(cur.build(path))
    return ZoneInfo(zones=tuple(zones),
                    nodes=tuple(NodeStats(n, c) for n, c in sorted(nodes.items())),
                    skipped=tuple(skipped))


def _protection(line: str, path: str, no: int) -> tuple[int, ...]:
    prot = _PROTECTION.match(line)
    if not prot:
        raise ParseError(path, no, line, "'protection: (<int>, ...)'")
    parts = [p.strip() for p in prot.group(1).split(",") if p.strip()]
    return tuple(to_int(p, path, no, line, "protection: (<int>, ...)") for p in parts)


def _used(line: str) -> bool:
    """Whether `line` names a field memstall reads (then a bad value is an error)."""
    words = line.split()
    return bool(words) and words[0] in _USED_WORDS


def _take_value(cur: _ZoneBuilder, nodes: dict[int, dict[str, int]], mode: str,
                no: int, line: str, path: str) -> None:
    if mode == "pagesets":
        cm = _KEY_COLON.match(line)
        if not cm:
            raise ParseError(path, no, line, "'<key>: <int>' in the pagesets section")
        key = cm.group(1).strip()
        if key not in _PAGESET_KEYS or key == "vm stats threshold":
            cur.extra[key] = int(cm.group(2))
        return
    km = _KEY_INT.match(line)
    if not km:
        raise ParseError(path, no, line, "'<key> <int>'")
    key, value = km.group(1), int(km.group(2))
    if mode == "node":
        nodes[cur.node][key] = value
    elif key in _ZONE_FIELDS:
        _set_field(cur, key, value, path, no, line)
    else:
        cur.counters[key] = value


def _set_field(cur: _ZoneBuilder, key: str, value: int, path: str, no: int, line: str) -> None:
    # Two 'min' lines in one block means two files were glued together: never pick one.
    if key in cur.fields:
        raise ParseError(path, no, line, f"one '{key}' line per zone block")
    cur.fields[key] = value
