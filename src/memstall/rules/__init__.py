"""Diagnoses: one module per rule, named after its stable key, each exporting KEY, its
evidence dataclass(es) (rules/_base.RuleEvidence: the contract advice reads) and RULE.

`run_rules(inputs)` runs every rule of REGISTRY in order and collects the findings,
the rules that passed and the rules skipped for missing input (with the reason).
docs/rules.md is generated from the rule docstrings (rules/_doc.py, tests/test_rules_registry.py).
"""

from __future__ import annotations

from memstall.rules import (
    compaction_stalls,
    direct_reclaim,
    high_order_exhaustion,
    hugetlb_squeezes_page_cache,
    kswapd_busy,
    kswapd_wakes_quickly,
    log_alloc_stalls,
    min_free_kbytes_low,
    numa_imbalance,
    page_cache_dominant,
    psi_memory_pressure,
    reclaimable_slab,
    thp_defrag_stalls,
    watermark_gap_too_small,
    zone_below_watermark,
)
from memstall.rules._base import (
    AllocEvent,
    EvidenceValue,
    Finding,
    Inputs,
    Report,
    Rule,
    RuleEvidence,
    Severity,
    Skipped,
)

REGISTRY: tuple[Rule, ...] = (
    zone_below_watermark.RULE,
    direct_reclaim.RULE,
    kswapd_wakes_quickly.RULE,
    kswapd_busy.RULE,
    watermark_gap_too_small.RULE,
    high_order_exhaustion.RULE,
    compaction_stalls.RULE,
    page_cache_dominant.RULE,
    reclaimable_slab.RULE,
    hugetlb_squeezes_page_cache.RULE,
    thp_defrag_stalls.RULE,
    psi_memory_pressure.RULE,
    numa_imbalance.RULE,
    min_free_kbytes_low.RULE,
    log_alloc_stalls.RULE,
)


def run_rules(inputs: Inputs, rules: tuple[Rule, ...] = REGISTRY) -> Report:
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    passed: list[str] = []
    for rule in rules:
        result = rule.check(inputs)
        if isinstance(result, Skipped):
            skipped.append(result)
        elif result:
            findings.extend(result)
        else:
            passed.append(rule.key)
    findings.sort(key=lambda f: (-f.severity, f.key, f.subject))
    return Report(tuple(findings), tuple(skipped), tuple(passed))


__all__ = ["REGISTRY", "AllocEvent", "EvidenceValue", "Finding", "Inputs", "Report", "Rule",
           "RuleEvidence", "Severity", "Skipped", "run_rules"]
