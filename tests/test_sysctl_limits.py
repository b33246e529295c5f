"""analysis/sysctl_limits: kernel ranges per era, and the refusal reasons."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memstall.advice.risks import RISKS
from memstall.analysis.sysctl_limits import known_names, limits_for, validate
from memstall.model.kernel import KernelVersion
from memstall.model.sysctl_name import sysctl_name

K = KernelVersion


@pytest.mark.parametrize(("kernel", "maximum"), [
    (K(4, 6), 1000), (K(5, 16, 20), 1000), (K(5, 17), 3000), (K(6, 18), 3000), (None, 3000)])
def test_watermark_scale_factor_max_by_era(kernel: KernelVersion | None, maximum: int) -> None:
    limit = limits_for("vm.watermark_scale_factor", kernel)
    assert limit is not None
    assert (limit.min_value, limit.max_value, limit.default) == (1, maximum, 10)
    assert validate("vm.watermark_scale_factor", maximum, kernel) is None
    assert validate("vm.watermark_scale_factor", maximum + 1, kernel) is not None
    assert validate("vm.watermark_scale_factor", 0, kernel) is not None


def test_watermark_scale_factor_absent_before_4_6() -> None:
    assert validate("vm.watermark_scale_factor", 10, K(4, 4)) == (
        "vm.watermark_scale_factor does not exist before Linux 4.6 (this kernel: 4.4)")


@pytest.mark.parametrize(("kernel", "maximum"), [(K(5, 4), 100), (K(5, 7, 19), 100), (K(5, 8), 200)])
def test_swappiness_max_by_era(kernel: KernelVersion, maximum: int) -> None:
    assert validate("vm.swappiness", maximum, kernel) is None
    assert validate("vm.swappiness", maximum + 1, kernel) == (
        f"vm.swappiness must be between 0 and {maximum} on Linux {kernel.major}.{kernel.minor} "
        f"(got {maximum + 1})")


def test_introduced_versions() -> None:
    cases = {"vm.watermark_boost_factor": K(5, 0), "vm.compaction_proactiveness": K(5, 9),
             "vm.defrag_mode": K(6, 15), "vm.vfs_cache_pressure_denom": K(6, 16),
             "vm.percpu_pagelist_high_fraction": K(5, 14), "vm.extfrag_threshold": K(2, 6, 35)}
    for name, first in cases.items():
        limit = limits_for(name, None)
        assert limit is not None and limit.introduced == first, name
        before = K(first.major, first.minor - 1) if first.minor else K(first.major - 1, 99)
        assert validate(name, limit.min_value, before) is not None
        assert validate(name, limit.min_value, first) is None


def test_extfrag_and_proactiveness_ranges() -> None:
    assert validate("vm.extfrag_threshold", 1000, None) is None
    assert validate("vm.extfrag_threshold", 1001, None) == (
        "vm.extfrag_threshold must be between 0 and 1000 (got 1001)")
    assert validate("vm.compaction_proactiveness", 101, K(6, 1)) is not None
    assert validate("vm.compaction_proactiveness", 0, K(6, 1)) is None


def test_vfs_cache_pressure_has_no_max_and_denom_min_100() -> None:
    assert validate("vm.vfs_cache_pressure", 10**9, None) is None
    assert validate("vm.vfs_cache_pressure", -1, None) == (
        "vm.vfs_cache_pressure must be at least 0 (got -1)")
    assert validate("vm.vfs_cache_pressure_denom", 99, K(6, 16)) == (
        "vm.vfs_cache_pressure_denom must be at least 100 on Linux 6.16 (got 99)")


def test_percpu_pagelist_high_fraction_gap() -> None:
    assert validate("vm.percpu_pagelist_high_fraction", 0, None) is None
    assert validate("vm.percpu_pagelist_high_fraction", 8, None) is None
    assert validate("vm.percpu_pagelist_high_fraction", 7, None) == (
        "vm.percpu_pagelist_high_fraction rejects 1..7: use 0 (kernel default) or at least 8 (got 7)")


def test_text_values_and_names() -> None:
    assert validate("vm/swappiness", "60\n", None) is None
    assert validate("vm.swappiness", "6O", None) == "vm.swappiness takes one integer (got '6O')"
    assert limits_for("vm.no_such_knob", None) is None
    assert validate("vm.no_such_knob", 1, None) is None
    assert sysctl_name("vm/dirty_ratio") == "vm.dirty_ratio"


def test_required_knobs_are_covered() -> None:
    required = {"vm.min_free_kbytes", "vm.watermark_scale_factor", "vm.watermark_boost_factor",
                "vm.extfrag_threshold", "vm.vfs_cache_pressure", "vm.vfs_cache_pressure_denom",
                "vm.compaction_proactiveness", "vm.dirty_ratio", "vm.dirty_background_ratio",
                "vm.dirty_bytes", "vm.dirty_background_bytes", "vm.swappiness",
                "vm.zone_reclaim_mode", "vm.defrag_mode", "vm.percpu_pagelist_high_fraction"}
    assert required <= set(known_names())


kernels = st.builds(K, st.integers(2, 7), st.integers(0, 30), st.integers(0, 300))


@given(st.sampled_from(known_names()), st.one_of(st.integers(-10**12, 10**12), st.text(max_size=12)),
       st.one_of(st.none(), kernels))
def test_validate_agrees_with_the_limit(name: str, value: int | str, kernel: KernelVersion | None) -> None:
    reason = validate(name, value, kernel)
    limit = limits_for(name, kernel)
    assert limit is not None
    if isinstance(value, int) and (kernel is None or limit.introduced is None
                                   or kernel >= limit.introduced):
        in_range = value >= limit.min_value and (limit.max_value is None or value <= limit.max_value)
        if limit.excluded is not None:
            in_range = in_range and not limit.excluded[0] <= value <= limit.excluded[1]
        assert (reason is None) == in_range
    if reason is not None:
        assert reason.startswith(limit.name)


def test_every_knob_in_the_table_has_a_risk_and_only_those() -> None:
    assert set(RISKS) == set(known_names())
    assert all(text.strip() and "\n" not in text for text in RISKS.values())
