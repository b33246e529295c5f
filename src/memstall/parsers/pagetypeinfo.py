"""pagetypeinfo — /proc/pagetypeinfo

Free blocks per order split by migrate type, and how many pageblocks of each migrate
type every zone has (mm/vmstat.c pagetypeinfo_show; docs/kernel.md#pagetypeinfo)::

    Page block order: 9
    Pages per block:  512

    Free pages count per migrate type at order       0      1      2 ...
    Node    0, zone   Normal, type    Unmovable    427    441    348 ...
    Node    0, zone   Normal, type      Movable   1902   1137    726 ...

    Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate
    Node 0, zone   Normal           71         1425           40            0            0

Counts are blocks (free lines) and pageblocks (block lines). Kernel differences:
- the file is mode 0400 (root only) since 5.4 and in the 4.14.y/5.3.y stable releases of
  2019-11 ("mm, vmstat: hide /proc/pagetypeinfo from normal users"); a reader that gets
  EACCES records the file as unavailable, it is not an error;
- 5.4+ stops counting a free list at 100000 and prints `>100000` (a lower bound);
- migrate types: `Reserve` before 4.4, `HighAtomic` since 4.4, `CMA` with CONFIG_CMA,
  `Isolate` with CONFIG_MEMORY_ISOLATION;
- `Number of mixed blocks` is printed only with CONFIG_PAGE_OWNER and page_owner=on.

>>> p = parse_pagetypeinfo('''Page block order: 9
... Pages per block:  512
...
... Free pages count per migrate type at order       0      1
... Node    0, zone   Normal, type      Movable      5 >100000
...
... Number of blocks type     Unmovable      Movable
... Node 0, zone   Normal           71         1425
... ''')
>>> p.free[0].free_blocks, p.free[0].capped_orders, dict(p.blocks[0].blocks)
((5, 100000), (1,), {'Unmovable': 71, 'Movable': 1425})
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.pagetypeinfo import MigrateFreeAreas, PageTypeInfo, ZoneBlockCounts
from memstall.parsers._lines import numbered

_ORDER = re.compile(r"^Page block order:\s*(\d+)\s*$", re.ASCII)
_PER_BLOCK = re.compile(r"^Pages per block:\s*(\d+)\s*$", re.ASCII)
_FREE_HEAD = re.compile(r"^Free pages count per migrate type at order((?:\s+\d+)+)\s*$",
                        re.ASCII)
# "%-23s" of "Number of blocks type " / "Number of mixed blocks " (no "type" there).
_BLOCKS_HEAD = re.compile(r"^Number of (blocks type|mixed blocks)((?:\s+\S+)+)\s*$", re.ASCII)
_FREE_LINE = re.compile(r"^Node\s+(\d+),\s+zone\s+([^\s,]+),\s+type\s+(\S+)((?:\s+\S+)*)\s*$",
                        re.ASCII)
_BLOCK_LINE = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\S+)*)\s*$", re.ASCII)


class _State:
    def __init__(self) -> None:
        self.order: int | None = None
        self.per_block: int | None = None
        self.per_block_at: tuple[int, str] = (0, "")
        self.orders: int | None = None
        self.section = ""
        self.types: tuple[str, ...] = ()
        self.free: list[MigrateFreeAreas] = []
        self.blocks: list[ZoneBlockCounts] = []
        self.mixed: list[ZoneBlockCounts] = []


def _free_line(st: _State, path: str, no: int, line: str) -> MigrateFreeAreas:
    m = _FREE_LINE.match(line)
    if not m or st.orders is None:
        raise ParseError(path, no, line, "'Node <n>, zone <name>, type <type> <count per order>...'")
    counts: list[int] = []
    capped: list[int] = []
    for order, token in enumerate(m.group(4).split()):
        digits = token[1:] if token.startswith(">") else token
        if not (digits.isascii() and digits.isdigit()):
            raise ParseError(path, no, line, "a free-block count per order")
        if digits is not token:
            capped.append(order)
        counts.append(int(digits))
    if len(counts) != st.orders:
        raise ParseError(path, no, line, f"{st.orders} counts, one per order of the header")
    return MigrateFreeAreas(int(m.group(1)), m.group(2), m.group(3), tuple(counts), tuple(capped))


def _block_line(st: _State, path: str, no: int, line: str) -> ZoneBlockCounts:
    m = _BLOCK_LINE.match(line)
    if not m:
        raise ParseError(path, no, line, "'Node <n>, zone <name> <count per migrate type>...'")
    tokens = m.group(3).split()
    if len(tokens) != len(st.types):
        raise ParseError(path, no, line, f"{len(st.types)} counts, one per migrate type of the header")
    if not all(t.isascii() and t.isdigit() for t in tokens):
        raise ParseError(path, no, line, "a pageblock count per migrate type")
    counts = [int(t) for t in tokens]
    return ZoneBlockCounts(int(m.group(1)), m.group(2), dict(zip(st.types, counts)))


def _take(st: _State, path: str, no: int, line: str) -> None:
    stripped = line.strip()
    for regex, attr in ((_ORDER, "order"), (_PER_BLOCK, "per_block")):
        m = regex.match(stripped)
        if m:
            setattr(st, attr, int(m.group(1)))
            if attr == "per_block":
                st.per_block_at = (no, line)
            return
    m = _FREE_HEAD.match(stripped)
    if m:
        st.section, st.orders = "free", len(m.group(1).split())
        return
    m = _BLOCKS_HEAD.match(stripped)
    if m:
        st.section, st.types = m.group(1), tuple(m.group(2).split())
        return
    if st.section == "free":
        st.free.append(_free_line(st, path, no, line))
    elif st.section == "blocks type":
        st.blocks.append(_block_line(st, path, no, line))
    elif st.section == "mixed blocks":
        st.mixed.append(_block_line(st, path, no, line))
    else:
        raise ParseError(path, no, line,
                         "'Page block order: <n>', 'Pages per block: <n>' or a section header")


def parse_pagetypeinfo(text: str, path: str = "proc/pagetypeinfo") -> PageTypeInfo:
    st = _State()
    last_no, last = 0, ""
    for no, line in numbered(text):
        _take(st, path, no, line)
        last_no, last = no, line
    # Errors about the file as a whole point at its last line: that is where it stopped.
    if st.order is None or st.per_block is None:
        raise ParseError(path, last_no, last, "'Page block order: <n>' and 'Pages per block: <n>' lines")
    if st.per_block != 1 << st.order:
        raise ParseError(path, *st.per_block_at, f"'Pages per block: {1 << st.order}' (2**page block order)")
    if st.orders is None or not st.types:
        raise ParseError(path, last_no, last,
                         "the 'Free pages count' and 'Number of blocks type' sections after this line")
    return PageTypeInfo(st.order, st.per_block, tuple(st.free), tuple(st.blocks), tuple(st.mixed))
