"""/proc/pressure/memory (PSI, 4.20+) model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PressureLine:
    """avg* are percentages of wall time; total_us is cumulative stall time."""

    avg10: float
    avg60: float
    avg300: float
    total_us: int


@dataclass(frozen=True)
class Pressure:
    some: PressureLine
    full: PressureLine | None
    """`full` is absent for the cpu resource before 5.13; memory always has it."""
