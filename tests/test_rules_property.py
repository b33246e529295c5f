"""Every rule and the recommender on arbitrary (even odd) model objects: never an exception.

Ratios stay within 0..1 where the evidence says `_ratio`, every finding carries exactly
the evidence its rule declares (tests/test_rules_contract.py), and recommendations stay in
the kernel's range whatever the input.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from builders import alloc_event, buddy, meminfo, psi, rates, state, sysctl, zone, zoneinfo
from memstall.advice.recommend import recommend
from memstall.analysis.sysctl_limits import limits_for, validate
from memstall.model.kernel import KernelVersion
from memstall.model.thp import ThpSettings
from memstall.rules import REGISTRY, Inputs, run_rules
from test_rules_contract import evidence_problems

pages = st.integers(0, 1 << 26)
maybe = st.none() | st.just(True)


@st.composite
def anything(draw: st.DrawFn) -> Inputs:
    zones = [zone(draw(st.integers(0, 3)), draw(st.sampled_from(["DMA", "DMA32", "Normal", "Movable"])),
                  free=draw(pages), min_=draw(pages), low=draw(pages), high=draw(pages),
                  managed=draw(st.integers(0, 1 << 26)), boost=draw(st.none() | pages))
             for _ in range(draw(st.integers(1, 4)))]
    blocks = [(z.node, z.zone, draw(st.lists(st.integers(0, 5000), min_size=1, max_size=13)))
              for z in zones]
    kib = st.integers(0, 1 << 30)
    huge = {"HugePages_Total": draw(st.integers(0, 1 << 16)), "HugePages_Free": draw(st.integers(0, 10))}
    m = meminfo(huge,
                MemTotal=draw(kib), MemFree=draw(kib), Active_file=draw(kib), Inactive_file=draw(kib),
                Dirty=draw(kib), Writeback=draw(kib), SReclaimable=draw(kib))
    kernel = draw(st.sampled_from([KernelVersion(3, 10), KernelVersion(4, 9), KernelVersion(5, 10),
                                   KernelVersion(6, 18)]))
    rate = st.floats(0, 1e9)
    r = rates(interval=draw(st.floats(0.1, 60)), pgalloc_normal=draw(rate), allocstall_normal=draw(rate),
              pgscan_direct=draw(rate), pgscan_kswapd=draw(rate), kswapd_low_wmark_hit_quickly=draw(rate),
              compact_stall=draw(rate), compact_fail=draw(rate), compact_success=draw(rate),
              kthreads={"kswapd0": draw(st.floats(0, 2))}, psi_some=draw(st.floats(0, 1)),
              psi_full=draw(st.floats(0, 1))) if draw(maybe) else None
    s = state(zoneinfo=zoneinfo(*zones), buddyinfo=buddy(*blocks), meminfo=m, kernel_release=str(kernel),
              psi_memory=psi(draw(st.floats(0, 100)), draw(st.floats(0, 100))),
              sysctl_vm=sysctl(min_free_kbytes=draw(st.integers(0, 1 << 22)),
                               watermark_scale_factor=draw(st.integers(1, 3000))),
              thp=ThpSettings(draw(st.sampled_from(["always", "madvise", "never"])),
                              draw(st.sampled_from(["always", "defer", "madvise", "never"])), 1))
    events = tuple(alloc_event(draw(st.sampled_from(["stall", "failure", "oom"])),
                               draw(st.none() | st.integers(0, 12))) for _ in range(draw(st.integers(0, 3))))
    return Inputs(s, rates=r, events=events, kernel=kernel)


@given(anything())
def test_rules_and_recommendations_never_raise_and_stay_in_range(inputs: Inputs) -> None:
    report = run_rules(inputs)
    rules = {r.key: r for r in REGISTRY}
    for f in report.findings:
        assert evidence_problems(rules[f.key], f) == []
        for key, value in f.evidence.items():
            if key.endswith("_ratio") and key != "cpu_ratio" and isinstance(value, float):
                assert value >= 0.0, (f.key, key, value)
    advice = recommend(report, inputs)
    for rec in advice.recommendations:
        if rec.setting == THP_DEFRAG:
            assert rec.proposed in thp_defrag_values(inputs.kernel), rec
            continue
        # A knob this kernel does not have (limits_for None) must never be recommended.
        assert limits_for(rec.setting, inputs.kernel) is not None, rec
        assert validate(rec.setting, rec.proposed, inputs.kernel) is None, rec


THP_DEFRAG = "sys/kernel/mm/transparent_hugepage/defrag"


def thp_defrag_values(kernel: KernelVersion | None) -> set[str]:
    """What the defrag file accepts: 'defer' since 4.6, 'defer+madvise' since 4.11."""
    values = {"always", "madvise", "never"}
    if kernel is None or kernel.at_least(4, 6):
        values.add("defer")
    if kernel is None or kernel.at_least(4, 11):
        values.add("defer+madvise")
    return values
