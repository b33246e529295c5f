"""MIN_FREE_KBYTES_LOW — vm.min_free_kbytes is below what the kernel itself would pick.

What it detects:
    vm.min_free_kbytes below the kernel's default for this memory size
    (4*sqrt(lowmem kB), clamped to 128 kB..64 MiB, 256 MiB from 5.7), below the value
    khugepaged sets when THP is enabled, or below 1024 kB.

Why it matters:
    min_free_kbytes sets the min watermark: the reserve only atomic and emergency
    allocations may use. Below the kernel's own choice the reserve is smaller than the
    kernel sized it for; with THP on, khugepaged raises it so that pageblocks of every
    migrate type stay free and huge pages can be assembled. The kernel documentation
    says below 1024 kB the system becomes "subtly broken, and prone to deadlock".

Evidence:
    min_free_kbytes, default_kbytes, thp_recommended_kbytes, origin.

Remediation:
    Remove the override (or set at least the larger of the default and the THP value).

References:
    mm/page_alloc.c calculate_min_free_kbytes; mm/khugepaged.c
    set_recommended_min_free_kbytes; Documentation/admin-guide/sysctl/vm.rst;
    docs/kernel.md#default-min-free-kbytes, docs/kernel.md#thp-min-free-kbytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from memstall.analysis.zone_watermarks import min_free_origin
from memstall.rules._base import Inputs, Result, Rule, RuleEvidence, Severity, Text, missing

KEY = "MIN_FREE_KBYTES_LOW"
BROKEN_BELOW_KBYTES = 1024


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    min_free_kbytes: int
    default_kbytes: int
    """What the kernel computes for this memory size (init_per_zone_wmark_min)."""
    thp_recommended_kbytes: Optional[int]
    """What khugepaged raises it to; None when THP is off or absent."""
    origin: str
    """'kernel default', 'THP recommendation' or 'set by an administrator'."""


TEXT = Text(
    summary="vm.min_free_kbytes={min_free_kbytes} is below {what} ({wanted} kB)",
    explanation="""vm.min_free_kbytes is {min_free_kbytes} kB ({origin}). The kernel would choose
    {default_kbytes} kB for this memory size{thp_words}. min_free_kbytes sets the min watermark,
    the reserve that only atomic and emergency allocations may use, and through it the low and
    high watermarks when vm.watermark_scale_factor is small; a smaller reserve than the kernel
    sized for runs out first under bursts of atomic allocations (network receive, I/O
    completion).""",
    fix="""Set vm.min_free_kbytes to at least {wanted} (or remove the override so the kernel
    recomputes it).""",
)


def check(inputs: Inputs) -> Result:
    origin = min_free_origin(inputs.state)
    if origin is None:
        return missing(KEY, inputs, "vm.min_free_kbytes and zone sizes", "proc/sys/vm",
                       in_mem_info=False)
    current = origin.current_kbytes
    thp = origin.thp_recommended_kbytes
    if thp is not None and current < thp and thp >= origin.default_kbytes:
        what, wanted = "the THP-recommended value", thp
    elif current < origin.default_kbytes:
        what, wanted = "the kernel default", origin.default_kbytes
    else:
        return ()
    severity = Severity.CRITICAL if current < BROKEN_BELOW_KBYTES else Severity.WARNING
    thp_words = (f", and khugepaged raises it to {thp} kB while THP is enabled"
                 if thp is not None else "")
    evidence = Evidence(min_free_kbytes=current, default_kbytes=origin.default_kbytes,
                        thp_recommended_kbytes=thp, origin=origin.origin)
    return (TEXT.finding(KEY, severity, "host", evidence, what=what, wanted=wanted,
                         thp_words=thp_words),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
