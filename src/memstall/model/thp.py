"""Transparent hugepage settings (sysfs): the bracketed choice of each file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ThpSettings:
    enabled: str | None
    """always | madvise | never (None: no THP in this kernel)."""
    defrag: str | None
    """always | defer | defer+madvise | madvise | never."""
    khugepaged_defrag: int | None
