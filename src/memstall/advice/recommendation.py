"""The Recommendation record shared by `diagnose` (which makes them) and `tune` (which applies them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recommendation:
    """One sysctl change with its reasons. Values are the sysctl's text (as written to /proc/sys)."""

    setting: str
    """Full sysctl name, e.g. 'vm.watermark_scale_factor'."""
    current: str | None
    """What the kernel runs now (None: unknown, e.g. from a log alone)."""
    proposed: str
    rationale: str
    """Why, in one or two sentences, with the measured numbers."""
    effect: str
    """The predicted effect (e.g. the new free band from whatif)."""
    risk: str
    """What could go wrong and how to watch for it."""
    findings: tuple[str, ...] = ()
    """Keys of the findings this answers."""
