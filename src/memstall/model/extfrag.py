"""debugfs extfrag/{extfrag_index,unusable_index} model (values in thousandths)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZoneIndex:
    node: int
    zone: str
    values_milli: tuple[int, ...]
    """One per order; -1000 = a block of that order is free (extfrag_index)."""


@dataclass(frozen=True)
class ExtfragIndexFile:
    zones: tuple[ZoneIndex, ...]
