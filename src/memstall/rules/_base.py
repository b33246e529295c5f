"""The types every rule shares: Severity, Finding, Skipped, Inputs, Rule, Report.

A rule is a module named after its key (`ZONE_BELOW_WATERMARK` lives in
`zone_below_watermark.py`) exporting `KEY`, its evidence type(s) and
`RULE = Rule(KEY, check, __doc__, (Evidence,))`. `check(inputs)` returns the findings (an
empty tuple means the rule ran and passed) or a `Skipped` saying which input was missing.
The user-facing words come from the module's `TEXT` templates, filled from the evidence:
logic and wording stay apart.

The evidence of a finding is a frozen dataclass declared in the rule's module
(`class Evidence(RuleEvidence)`): its fields are the evidence keys, with units in their
names, in the order they are shown. That declaration is the contract between a rule and
everything downstream: renderers read it as a mapping (`dict(finding.evidence)`), and
advice reads typed attributes (`ev.min_free_kbytes`), so renaming a field breaks mypy and
tests/test_recommend.py instead of silently dropping a recommendation.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Callable, Protocol, Union

from memstall.model.kernel import KernelVersion
from memstall.model.state import SystemState
from memstall.model.trace import TracedStalls
from memstall.units import human_bytes, pages_to_bytes

if TYPE_CHECKING:
    from memstall.analysis.rates import Rates

class AllocEvent(Protocol):
    """What rules read of a kernel-log allocation report (model/kernlog.AllocEvent)."""

    @property
    def kind(self) -> str:
        """'stall' | 'failure' | 'oom'."""

    @property
    def comm(self) -> str | None: ...

    @property
    def order(self) -> int | None: ...

    @property
    def gfp_mode(self) -> str | None: ...

    @property
    def gfp_flags(self) -> tuple[str, ...] | None: ...

    @property
    def stall_ms(self) -> int | None: ...

    @property
    def kernel_version(self) -> str | None:
        """The release the report's CPU line names (decodes a hex-only GFP mask)."""


EvidenceValue = Union[int, float, str, bool, None]


@dataclass(frozen=True)
class RuleEvidence(Mapping[str, EvidenceValue]):
    """Base of every rule's evidence: a frozen dataclass that reads as an ordered mapping.

    Subclass it as `@dataclass(frozen=True) class Evidence(RuleEvidence)` with one field per
    evidence key (snake_case, unit suffix: `free_pages`, `slab_ratio`, `..._per_second`).
    Annotate fields with `Optional[...]`/`Literal[...]` rather than `X | None`: the contract
    test evaluates them at run time, and Python 3.9 cannot evaluate `X | None`.
    A rule that emits two shapes (with and without a kernel-log event, say) declares two
    classes and lists both in its `Rule`.
    """

    def __getitem__(self, name: str) -> EvidenceValue:
        if name not in self._names():
            raise KeyError(name)
        value = getattr(self, name)
        if value is None or isinstance(value, (int, float, str)):
            return value
        raise TypeError(f"{type(self).__qualname__}.{name} is {type(value).__name__}, "
                        "not a number, a string or None")

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self))


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True)
class Finding:
    key: str
    severity: Severity
    subject: str
    """What it is about: `node0/Normal`, `node1`, `host`, `order1`..."""
    evidence: RuleEvidence
    """The measured numbers: the rule's declared evidence dataclass (a mapping of its fields)."""
    summary: str
    explanation: str
    fix: str


@dataclass(frozen=True)
class Skipped:
    key: str
    reason: str


@dataclass(frozen=True)
class Inputs:
    """Everything a rule may look at. Absent parts are None / empty, never zero."""

    state: SystemState
    rates: Rates | None = None
    """Per-second rates between two samples (None: one sample only, or a log)."""
    events: tuple[AllocEvent, ...] = ()
    """Allocation stalls/failures/OOMs from a kernel log, oldest first."""
    kernel: KernelVersion | None = None
    """The kernel version (the state's own, or the one a log names)."""
    from_log: bool = False
    """True when the state was rebuilt from a kernel log's Mem-Info."""
    logs_read: bool = False
    """True when kernel logs were read for `events` (a root's own, or --log files beside a root)."""
    history: tuple[SystemState, ...] = ()
    """Earlier samples of the same host, oldest first (`state` is the latest)."""
    rates_reason: str = ("needs two samples to compute rates: run `memstall diagnose` live, "
                         "or on a capture made with `memstall snapshot --samples 2`")
    """Why `rates` is None, shown in the Skipped line of rules that need rates."""
    traced: TracedStalls | None = None
    """Stall latencies measured by a trace beside the live sample (`diagnose --trace N`)."""


Result = Union[Sequence[Finding], Skipped]


@dataclass(frozen=True)
class Rule:
    key: str
    check: Callable[[Inputs], Result]
    doc: str
    """The module docstring: What it detects / Why it matters / Evidence / Remediation / References."""
    evidence: tuple[type[RuleEvidence], ...]
    """Every evidence class a finding of this rule may carry (tests check each finding's)."""


@dataclass(frozen=True)
class Text:
    """The words of one rule: str.format templates filled from evidence and display values."""

    summary: str
    explanation: str
    fix: str

    def finding(self, key: str, severity: Severity, subject: str, evidence: RuleEvidence,
                **display: object) -> Finding:
        values: dict[str, object] = {"subject": subject, **evidence, **display}
        return Finding(key, severity, subject, evidence,
                       self.summary.format(**values), " ".join(self.explanation.format(**values).split()),
                       " ".join(self.fix.format(**values).split()))


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]
    passed: tuple[str, ...]

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)


def kernel_of(inputs: Inputs) -> KernelVersion | None:
    return inputs.kernel or inputs.state.kernel


def rates_skip(key: str, inputs: Inputs) -> Skipped:
    return Skipped(key, inputs.rates_reason)


def missing(key: str, inputs: Inputs, what: str, rel: str | None = None,
            in_mem_info: bool = True) -> Skipped:
    """Skipped because `what` was not read; names the file and the reason when known.

    `in_mem_info`: a kernel log's Mem-Info dump would show `what` (so its absence is said).
    """
    if inputs.from_log:
        no_dump = inputs.state.unavailable.get("Mem-Info") if in_mem_info else None
        return Skipped(key, f"{what}: {no_dump}" if no_dump else f"a kernel log does not show {what}")
    reason = inputs.state.unavailable.get(rel) if rel else None
    hint = inputs.state.hints.get(rel) if rel else None  # the file registry's, via the reader
    return Skipped(key, f"{what} unavailable" + (f" ({rel}: {reason})" if reason else "")
                   + (f"; {hint}" if hint else ""))


def human(pages: int, page_size: int) -> str:
    """Pages as text for templates: '1.5 GiB'."""
    return human_bytes(pages_to_bytes(pages, page_size))


def ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0
