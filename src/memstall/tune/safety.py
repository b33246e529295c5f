"""Refusals: what `tune` will not write, and which of those --force may override.

Hard refusals (never overridable): a key outside vm.* (tune is for memory-management
settings; kernel.core_pattern or kernel.modprobe would run code as root), a value that is
not one line of printable ASCII, the knob does not exist on this kernel, is a trigger
or read-only, or the value is outside the kernel's range (it would fail with EINVAL
anyway), or min_free_kbytes above a quarter of RAM (the high watermark would then sit
above ~37 % of memory: reclaim storms or an instant OOM, docs/kernel.md#min-free-kbytes-risks).

Judgement calls (--force overrides): min_free_kbytes above 5 % of RAM or below 1024 kB,
vfs_cache_pressure 0, watermark_scale_factor above 1000 (10 % of each zone between
watermarks; the pre-5.17 maximum), zone_reclaim_mode bits beyond 1|2|4, knobs memstall
has no range for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memstall.advice.tuning import Refusal
from memstall.analysis.sysctl_limits import absent_reason, as_int, limits_for, validate
from memstall.model.kernel import KernelVersion
from memstall.model.sysctl_conf import swap_separators
from memstall.model.sysctl_name import text_problem

# What tune may write at all: one file directly under proc/sys/vm. Anything else
# (kernel.core_pattern, kernel.modprobe: code execution as root) is refused outright.
TUNABLE_KEY = re.compile(r"vm/[A-Za-z0-9_-]+")
# Write-only triggers: writing them acts once, there is no value to restore.
TRIGGERS = frozenset({"vm/compact_memory", "vm/drop_caches", "vm/stat_refresh"})
MIN_FREE_JUDGEMENT_SHARE = 0.05
MIN_FREE_HARD_SHARE = 0.25
MIN_FREE_FLOOR_KIB = 1024
WSF_JUDGEMENT_MAX = 1000


@dataclass(frozen=True)
class KnobFacts:
    """What the plan knows about one knob on the target root."""

    key: str
    exists: bool
    regular: bool = True
    writable: bool = True


def _hard(facts: KnobFacts, value: str, kernel: KernelVersion | None) -> str | None:
    name = swap_separators(facts.key)
    if not TUNABLE_KEY.fullmatch(facts.key):
        return (f"{ascii(name)[1:-1]}: tune changes only the kernel's memory-management settings (vm.*), the "
                "knobs behind page-allocation stalls and fragmentation; it will not write anything else, "
                "not even with --force (use sysctl(8) for other settings)")
    if facts.key in TRIGGERS:
        return f"{name} is a one-shot trigger, not a setting: there is nothing to restore"
    if not facts.exists:
        reason = absent_reason(name, kernel)
        why = f": {reason}" if reason else ""
        return f"{name}: no such sysctl here (proc/sys/{facts.key} does not exist){why}"
    if not facts.regular:
        return f"{name}: proc/sys/{facts.key} is not a file"
    if not facts.writable:
        return f"{name} is read-only (proc/sys/{facts.key} has no write permission)"
    problem = text_problem(value) if value else "empty"
    if problem is not None:
        return f"{name}: the value {value!a} cannot be written: {problem}"
    return validate(name, value, kernel)


def _min_free(name: str, kib: int, memtotal_kib: int | None) -> list[Refusal]:
    out = []
    if kib < MIN_FREE_FLOOR_KIB:
        out.append(Refusal(name, f"{name} = {kib} is below 1024 kB: the kernel documents this as "
                                 "'subtly broken, prone to deadlock under high loads'", True))
    if memtotal_kib:
        share = kib / memtotal_kib
        pct = f"{share * 100:.1f} % of MemTotal ({memtotal_kib} kB)"
        if share > MIN_FREE_HARD_SHARE:
            out.append(Refusal(name, f"{name} = {kib} is {pct}: above {MIN_FREE_HARD_SHARE:.0%} "
                                     "the watermarks alone keep over a third of memory free "
                                     "(reclaim storms or an immediate OOM)", False))
        elif share > MIN_FREE_JUDGEMENT_SHARE:
            out.append(Refusal(name, f"{name} = {kib} is {pct}, above the {MIN_FREE_JUDGEMENT_SHARE:.0%} "
                                     "memstall considers safe ('setting this too high will OOM your "
                                     "machine instantly')", True))
    return out


def _judgement(facts: KnobFacts, value: int, memtotal_kib: int | None) -> list[Refusal]:
    name = swap_separators(facts.key)
    if facts.key == "vm/min_free_kbytes":
        return _min_free(name, value, memtotal_kib)
    if facts.key == "vm/vfs_cache_pressure" and value == 0:
        return [Refusal(name, f"{name} = 0: the kernel never reclaims dentries and inodes then, "
                              "which 'can easily lead to out-of-memory conditions'", True)]
    if facts.key == "vm/watermark_scale_factor" and value > WSF_JUDGEMENT_MAX:
        return [Refusal(name, f"{name} = {value} keeps {value / 100:g} % of every zone between each "
                              f"pair of watermarks; above {WSF_JUDGEMENT_MAX} kswapd reclaims a "
                              "large share of memory on every wake-up", True)]
    if facts.key == "vm/zone_reclaim_mode" and value & ~7:
        return [Refusal(name, f"{name} = {value} sets bits other than 1|2|4, which have no meaning", True)]
    return []


def refusals(facts: KnobFacts, value: str, kernel: KernelVersion | None,
             memtotal_kib: int | None) -> tuple[Refusal, ...]:
    """Every reason not to write `value`; an empty tuple means it may be written."""
    name = swap_separators(facts.key)
    hard = _hard(facts, value, kernel)
    if hard is not None:
        return (Refusal(name, hard, False),)
    if limits_for(name, kernel) is None:
        return (Refusal(name, f"memstall knows no range or safety rule for {name}; the kernel "
                              "will still check the value", True),)
    number = as_int(value)
    return tuple(_judgement(facts, number, memtotal_kib)) if number is not None else ()
