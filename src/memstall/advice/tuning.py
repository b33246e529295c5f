"""A tuning plan: what `memstall tune` would write, why, and what refuses it.

Frozen data only: `tune/plan.py` builds it (probing the target root), `tune/transaction.py`
applies it and `outputs/tune.py` renders it, so the renderer need not import the write edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from memstall.analysis.whatif import ZoneChange
from memstall.model.sysctl_conf import swap_separators


@dataclass(frozen=True)
class Refusal:
    name: str
    reason: str
    forceable: bool

    def __str__(self) -> str:
        return f"{self.reason}" + (" (--force overrides this judgement call)" if self.forceable else "")


@dataclass(frozen=True)
class Request:
    key: str
    """/proc/sys relative path."""
    value: str
    rationale: str = "asked for with --set"
    effect: str = ""
    risk: str = ""


@dataclass(frozen=True)
class Change:
    key: str
    current: str | None
    """The running value (stripped text); None when it could not be read."""
    proposed: str
    rationale: str
    effect: str
    risk: str
    refusals: tuple[Refusal, ...] = ()

    @property
    def name(self) -> str:
        return swap_separators(self.key)

    @property
    def unchanged(self) -> bool:
        return self.current is not None and self.current.split() == self.proposed.split()


@dataclass(frozen=True)
class Plan:
    root: str
    kernel_release: str | None
    page_size: int
    changes: tuple[Change, ...]
    watermarks: tuple[ZoneChange, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def blocking(self, force: bool) -> list[Refusal]:
        return [r for c in self.changes for r in c.refusals if not (force and r.forceable)]

    def to_write(self) -> list[Change]:
        return [c for c in self.changes if not c.unchanged]
