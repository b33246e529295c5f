"""GFP masks: decode `mode:0x...` the way the kernel's `%pGg` prints it, for each kernel era.

The kernel prints `mode:%#x(%pGg)` from 4.6 on: `format_flags()` (lib/vsprintf.c) walks
`gfpflag_names` (include/trace/events/mmflags.h) in order, prints every entry whose whole
mask is set, clears those bits, and prints what is left as one hex number:
`GFP_KERNEL|__GFP_COMP|0x1000000`. The bit values and the list changed many times
(docs/kernel.md#gfp-flags); `gfp_tables.py` holds them per era. Before 4.6 the kernel printed hex only;
decoding such a mask needs the kernel version, and when the log does not give it the era is
inferred from the bit pattern and the result is marked `guessed`.

>>> decode_gfp(0x26040c0, KernelVersion(4, 9, 0)).names
('GFP_KERNEL', '__GFP_COMP', '__GFP_NOTRACK')
>>> d = decode_gfp(0xcc0, None)
>>> d.names, d.era, d.guessed
(('GFP_KERNEL',), '6.3+', True)
>>> gfp_zone_and_reclaim(parse_gfp_names("(GFP_ATOMIC|__GFP_COMP)")).direct_reclaim
False
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Union

from memstall.analysis.gfp_tables import (
    COMPOSITE_ORDER,
    LAYOUTS,
    NAME_TABLE_VERSIONS,
    SINGLE_ORDER_615,
    SINGLE_ORDER_OLD,
    Layout,
    Version,
)
from memstall.model.kernel import KernelVersion

KernelLike = Union[KernelVersion, Version, None]
NameTable = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class GfpDecoding:
    """A mask decoded for one kernel era.

    `names` is what `%pGg` prints (composites first, then single bits, then the leftover bits
    as one `0x...` token, exactly as the kernel appends it); `era` the bit-layout era used
    (`'4.10-4.17'`); `guessed` is True when the kernel version was unknown and the era was
    inferred from the bits; `unknown_bits` are the bits no name of that era covers.
    """

    names: tuple[str, ...]
    era: str
    guessed: bool
    unknown_bits: int

    @property
    def text(self) -> str:
        """The `%pGg` text: `GFP_KERNEL|__GFP_COMP`."""
        return "|".join(self.names)


@dataclass(frozen=True)
class GfpInfo:
    """What a GFP mask lets the allocator do; input for rules.

    `zone` is the highest zone the allocation may use (gfp_zone(): `Movable` needs both
    `__GFP_HIGHMEM` and `__GFP_MOVABLE`); `migratetype` the pageblock type it is steered to.
    `direct_reclaim` means it may sleep in direct reclaim/compaction (the stall itself);
    `atomic` means it cannot sleep at all.
    """

    zone: str
    migratetype: str
    direct_reclaim: bool
    kswapd_reclaim: bool
    atomic: bool
    high: bool
    io: bool
    fs: bool
    nowarn: bool
    noretry: bool
    retry_mayfail: bool
    nofail: bool
    comp: bool
    zero: bool
    nomemalloc: bool
    memalloc: bool
    thisnode: bool
    hardwall: bool
    account: bool
    transhuge: bool


def _version(kernel: KernelLike) -> Version | None:
    if kernel is None:
        return None
    if isinstance(kernel, KernelVersion):
        return (kernel.major, kernel.minor, kernel.patch)
    return kernel


def _cmp_version(v: Version) -> Version:
    """Patch releases matter only on 2.6.x (2.6.24, 2.6.31); 4.13.11 counts as 4.13."""
    return v if v[:2] == (2, 6) else (v[0], v[1], 0)


def layout_for(kernel: KernelLike) -> Layout:
    """The bit layout in force for a kernel version (the newest when None)."""
    v = _version(kernel)
    if v is None:
        return LAYOUTS[-1]
    v = _cmp_version(v)
    chosen = LAYOUTS[0]
    for layout in LAYOUTS:
        if layout.since <= v:
            chosen = layout
    return chosen


def _composites(b: Layout, v: Version) -> dict[str, int]:
    """Composite values from the era's definitions (include/linux/gfp.h, gfp_types.h)."""
    bit = b.bit
    if "WAIT" in b.bits:  # <= 4.3
        reclaim = bit("WAIT")
    else:
        reclaim = bit("DIRECT_RECLAIM") | bit("KSWAPD_RECLAIM")
    kernel = reclaim | bit("IO") | bit("FS")
    user = kernel | bit("HARDWALL")
    hum = user | bit("HIGHMEM") | bit("MOVABLE")
    out = {
        "GFP_HIGHUSER_MOVABLE": hum, "GFP_HIGHUSER": user | bit("HIGHMEM"), "GFP_USER": user,
        "GFP_KERNEL": kernel, "GFP_NOFS": reclaim | bit("IO"), "GFP_NOIO": reclaim,
        "GFP_DMA": bit("DMA"), "__GFP_HIGHMEM": bit("HIGHMEM"), "GFP_DMA32": bit("DMA32"),
        "__GFP_RECLAIM": reclaim if "DIRECT_RECLAIM" in b.bits else 0,
    }
    if v < (4, 14, 0):  # "mm: treewide: remove GFP_TEMPORARY allocation flag", 4.14
        out["GFP_TEMPORARY"] = kernel | bit("RECLAIMABLE")
    if v >= (4, 5, 0):
        out["GFP_KERNEL_ACCOUNT"] = kernel | bit("ACCOUNT")
    if v < (4, 4, 0):
        out["GFP_ATOMIC"] = bit("HIGH")  # GFP_NOWAIT was 0 then: never printed
    elif v < (6, 3, 0):
        out["GFP_ATOMIC"] = bit("HIGH") | bit("ATOMIC") | bit("KSWAPD_RECLAIM")
    else:  # 6.3 "mm: discard __GFP_ATOMIC"
        out["GFP_ATOMIC"] = bit("HIGH") | bit("KSWAPD_RECLAIM")
    if v >= (4, 4, 0):  # 6.8: 16f5dfbc851b "gfp: include __GFP_NOWARN in GFP_NOWAIT"
        out["GFP_NOWAIT"] = bit("KSWAPD_RECLAIM") | (bit("NOWARN") if v >= (6, 8, 0) else 0)
    thp = hum | bit("COMP") | bit("NOMEMALLOC") | bit("NOWARN")
    if v >= (4, 8, 0):  # "mm, thp: introduce GFP_TRANSHUGE_LIGHT", 4.8
        out["GFP_TRANSHUGE_LIGHT"] = thp & ~reclaim
        out["GFP_TRANSHUGE"] = (thp & ~reclaim) | bit("DIRECT_RECLAIM")
    elif v >= (4, 6, 0):  # 4.6 THP defrag rework: no reclaim at all by default
        out["GFP_TRANSHUGE"] = (thp | bit("NORETRY")) & ~reclaim
    elif v >= (4, 4, 0):
        out["GFP_TRANSHUGE"] = (thp | bit("NORETRY")) & ~bit("KSWAPD_RECLAIM")
    elif v >= (2, 6, 38):  # THP merged in 2.6.38
        out["GFP_TRANSHUGE"] = thp | bit("NORETRY") | bit("NO_KSWAPD")
    return out


def _single_name(key: str, v: Version) -> str:
    if key == "REPEAT" and v >= (4, 13, 0):  # 4.13: __GFP_REPEAT became __GFP_RETRY_MAYFAIL
        return "__GFP_RETRY_MAYFAIL"
    return "__GFP_" + key


def name_table(kernel: KernelLike) -> NameTable:
    """`gfpflag_names` of a kernel version in print order, as (name, mask) pairs."""
    return _name_table(_cmp_version(_version(kernel) or NAME_TABLE_VERSIONS[-1]))


@lru_cache(maxsize=128)
def _name_table(v: Version) -> NameTable:
    layout = layout_for(v)
    comp = _composites(layout, v)
    table: list[tuple[str, int]] = []
    new_order = v >= (6, 15, 0)
    for name in COMPOSITE_ORDER:
        if name == "__GFP_HIGHMEM" and new_order:
            continue
        table.append((name, comp.get(name, 0)))
    gone_415 = ("COLD", "NOTRACK")  # 4.15 removed both from the list (bits left unused)
    for key in SINGLE_ORDER_615 if new_order else SINGLE_ORDER_OLD:
        if key == "RECLAIM":
            table.append(("__GFP_RECLAIM", comp["__GFP_RECLAIM"]))
        elif key in layout.bits and not (key in gone_415 and v >= (4, 15, 0)):
            table.append((_single_name(key, v), layout.bits[key]))
    return tuple((n, m) for n, m in table if m)


def _format_flags(mask: int, table: NameTable) -> tuple[tuple[str, ...], int]:
    """lib/vsprintf.c format_flags(): names in table order, then the remainder."""
    names: list[str] = []
    flags = mask
    for name, bits in table:
        if not flags:
            break
        if flags & bits == bits:
            names.append(name)
            flags &= ~bits
    if flags:
        names.append(f"{flags:#x}")
    return tuple(names), flags


def decode_gfp(mask: int, kernel: KernelVersion | None) -> GfpDecoding:
    """Decode a GFP mask for a kernel version; infer the era when the version is None."""
    if mask < 0:
        raise ValueError(f"GFP mask must be >= 0, got {mask}")
    if kernel is not None:
        names, unknown = _format_flags(mask, name_table(kernel))
        return GfpDecoding(names, layout_for(kernel).era, False, unknown)
    return _guess(mask)


def _signature(mask: int, layout: Layout) -> bool:
    """Does the mask carry the bits every ordinary allocation of this era has?

    4.4+: a reclaim bit (GFP_KERNEL, GFP_ATOMIC, GFP_NOWAIT and THP masks all have one);
    before 4.4: __GFP_WAIT (sleeping allocations) or __GFP_HIGH (GFP_ATOMIC was just HIGH).
    """
    if "WAIT" in layout.bits:
        return bool(mask & (layout.bits["WAIT"] | layout.bits["HIGH"]))
    return bool(mask & (layout.bits["DIRECT_RECLAIM"] | layout.bits["KSWAPD_RECLAIM"]))


@lru_cache(maxsize=4096)
def _guess(mask: int) -> GfpDecoding:
    """Try every name-table version; keep the most plausible decoding.

    Ranked by: the era's reclaim signature is present, no bit is left unnamed, the most bits
    explained by composite (`GFP_*`) names, the fewest names, then the newest version.
    """
    best: tuple[tuple[bool, bool, int, int, Version], GfpDecoding] | None = None
    for v in NAME_TABLE_VERSIONS:
        layout = layout_for(v)
        table = name_table(v)
        names, unknown = _format_flags(mask, table)
        masks = dict(table)
        composite = 0
        for name in names:
            if name.startswith("GFP_"):
                composite |= masks[name]
        key = (_signature(mask, layout), unknown == 0, bin(composite).count("1"), -len(names), v)
        if best is None or key > best[0]:
            best = (key, GfpDecoding(names, layout.era, True, unknown))
    assert best is not None
    return best[1]


_NAME = re.compile(r"(?:__)?GFP_[A-Z0-9_]+|0x[0-9a-fA-F]+")


def parse_gfp_names(text: str) -> tuple[str, ...]:
    """`(GFP_KERNEL|__GFP_COMP)` or `GFP_KERNEL|__GFP_COMP` -> ('GFP_KERNEL', '__GFP_COMP').

    `()` and `` give (): the kernel prints `0x0()` for an empty mask. Raises ValueError
    naming the first token that is not a GFP name or a hex remainder.

    >>> parse_gfp_names("(GFP_HIGHUSER_MOVABLE|__GFP_ZERO)")
    ('GFP_HIGHUSER_MOVABLE', '__GFP_ZERO')
    """
    body = text.strip()
    body = body[1:] if body.startswith("(") else body
    body = (body[:-1] if body.endswith(")") else body).strip()
    if not body:
        return ()
    tokens = tuple(t.strip() for t in body.split("|"))
    for tok in tokens:
        if not _NAME.fullmatch(tok):
            raise ValueError(f"expected GFP flag names separated by '|', got {tok!r} in {text!r}")
    return tokens


def encode_gfp(names: Iterable[str], kernel: KernelLike) -> int:
    """The mask the names stand for in a kernel version's table (hex tokens taken as is)."""
    table = dict(name_table(kernel))
    mask = 0
    for name in names:
        if name.startswith("0x"):
            mask |= int(name, 16)
        elif name in table:
            mask |= table[name]
        else:
            raise ValueError(f"{name} is not a GFP flag name of kernel era {layout_for(kernel).era}")
    return mask


def _table_for_names(names: Sequence[str]) -> Version:
    """The newest name-table version that knows every name (for names without a version)."""
    wanted = {n for n in names if not n.startswith("0x")}
    for v in reversed(NAME_TABLE_VERSIONS):
        if wanted <= {n for n, _ in name_table(v)}:
            return v
    raise ValueError(f"no kernel era names all of {sorted(wanted)}")


def gfp_zone_and_reclaim(names: Sequence[str], kernel: KernelVersion | None = None) -> GfpInfo:
    """Reclaim, zone and retry behaviour of a printed flag list (`parse_gfp_names` output).

    Names are expanded with the tables of `kernel`, or of the newest era that knows them all
    (GFP_NOWAIT implies __GFP_NOWARN only on 6.8+, GFP_TRANSHUGE had no reclaim on 4.6-4.7).
    """
    v = _version(kernel) or _table_for_names(names)
    layout = layout_for(v)
    mask = encode_gfp(names, v)

    def has(key: str) -> bool:
        bit = layout.bit(key)
        return bool(bit) and mask & bit == bit

    direct = has("DIRECT_RECLAIM") or has("WAIT")
    kswapd = has("KSWAPD_RECLAIM") if "KSWAPD_RECLAIM" in layout.bits else not has("NO_KSWAPD")
    return GfpInfo(
        zone=_zone(has),
        migratetype="Movable" if has("MOVABLE") else "Reclaimable" if has("RECLAIMABLE") else "Unmovable",
        direct_reclaim=direct, kswapd_reclaim=kswapd, atomic=not direct,
        high=has("HIGH"), io=has("IO"), fs=has("FS"), nowarn=has("NOWARN"),
        noretry=has("NORETRY"), retry_mayfail=has("REPEAT") and v >= (4, 13, 0),
        nofail=has("NOFAIL"), comp=has("COMP"), zero=has("ZERO"), nomemalloc=has("NOMEMALLOC"),
        memalloc=has("MEMALLOC"), thisnode=has("THISNODE"), hardwall=has("HARDWALL"),
        account=has("ACCOUNT") or has("KMEMCG"),
        transhuge=any(n.startswith("GFP_TRANSHUGE") for n in names),
    )


def _zone(has: Callable[[str], bool]) -> str:
    """gfp_zone(): DMA, DMA32, Movable (HIGHMEM|MOVABLE), HighMem, else Normal."""
    if has("DMA"):
        return "DMA"
    if has("DMA32"):
        return "DMA32"
    if has("HIGHMEM"):
        return "Movable" if has("MOVABLE") else "HighMem"
    return "Normal"
