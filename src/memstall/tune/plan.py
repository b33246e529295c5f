"""The plan: what `tune` would write, why, the predicted watermark effect and the refusals.

Nothing here writes. The plan comes from `--set key=value` arguments or from diagnose's
Recommendation records; each change is checked by `safety.refusals` against the kernel's
range for this version and memstall's safety limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

from memstall.advice.recommendation import Recommendation
from memstall.advice.risks import RISKS
from memstall.advice.tuning import Change, Plan, Request
from memstall.analysis.whatif import WhatIfUnavailable, ZoneChange, what_if
from memstall.errors import UsageError
from memstall.model.state import SystemState
from memstall.model.sysctl_name import SettingError, parse_setting, swap_separators, sysctl_key
from memstall.tune.safety import KnobFacts, refusals

WATERMARK_KEYS = frozenset({"vm/min_free_kbytes", "vm/watermark_scale_factor"})


def parse_assignment(text: str) -> Request:
    """A --set argument (model/sysctl_name.parse_setting) as a Request.

    >>> parse_assignment("vm.watermark_scale_factor = 20").key
    'vm/watermark_scale_factor'
    """
    try:
        key, value = parse_setting(text)
    except SettingError as err:
        raise UsageError(str(err), hint="e.g. --set vm.watermark_scale_factor=20") from None
    return Request(key, value)


def from_recommendations(recs: Sequence[Recommendation]) -> tuple[list[Request], list[str]]:
    """diagnose's sysctl recommendations as requests; the others (sysfs files such as
    sys/kernel/mm/transparent_hugepage/defrag) as notes: tune writes only /proc/sys."""
    requests, notes = [], []
    for r in recs:
        if r.setting.startswith("sys/"):
            notes.append(f"diagnose also recommends /{r.setting} = {r.proposed} ({r.effect}); it is a "
                         f"sysfs file, not a sysctl, so tune leaves it out: echo {r.proposed} > "
                         f"/{r.setting}, and set it at boot with your tuned profile or boot scripts")
        else:
            requests.append(Request(sysctl_key(r.setting), r.proposed.strip(), r.rationale, r.effect,
                                    r.risk))
    return requests, notes


def _watermark_effect(state: SystemState, values: dict[str, str]) -> tuple[ZoneChange, ...]:
    changes: dict[str, int] = {}
    for key in sorted(WATERMARK_KEYS & set(values)):
        try:
            changes[swap_separators(key)] = int(values[key])
        except ValueError:
            return ()  # refused anyway: not an integer
    try:
        wi = what_if(state, changes, state.kernel)
    except WhatIfUnavailable:
        return ()
    return tuple(z for z in wi.zones if z.managed_pages > 0)


def _effect_text(effects: Sequence[ZoneChange], page_size: int) -> str:
    if not effects:
        return "watermarks not predicted (zoneinfo or min_free_kbytes unavailable)"
    hb = sum(e.before.high_pages for e in effects)
    ha = sum(e.after.high_pages for e in effects)
    bb = sum(e.before.high_pages - e.before.low_pages for e in effects)
    ba = sum(e.after.high_pages - e.after.low_pages for e in effects)
    mib = page_size / (1024 * 1024)
    return (f"sum of high watermarks {hb} -> {ha} pages ({hb * mib:.0f} -> {ha * mib:.0f} MiB); "
            f"kswapd low->high band {bb} -> {ba} pages")


def build_plan(state: SystemState, requests: Sequence[Request], facts: Callable[[str], KnobFacts],
               root: str) -> Plan:
    """Check every request and predict the watermark effect. Later requests for a key win."""
    merged: dict[str, Request] = {}
    for r in requests:
        merged[r.key] = r
    memtotal = state.meminfo.kib("MemTotal") if state.meminfo else None
    effects = _watermark_effect(state, {k: r.value for k, r in merged.items()})
    notes: list[str] = []
    if memtotal is None:
        notes.append("proc/meminfo unavailable: min_free_kbytes cannot be checked against RAM")
    changes = []
    for key, r in merged.items():
        current = state.sysctl_vm.text(key[3:]) if state.sysctl_vm and key.startswith("vm/") else None
        effect = r.effect or (_effect_text(effects, state.page_size) if key in WATERMARK_KEYS else "")
        risk = r.risk or RISKS.get(swap_separators(key), "")
        changes.append(Change(key, current, r.value, r.rationale, effect, risk,
                              refusals(facts(key), r.value, state.kernel, memtotal)))
    return Plan(root, state.kernel_release, state.page_size, tuple(changes),
                effects if WATERMARK_KEYS & set(merged) else (), tuple(notes))
