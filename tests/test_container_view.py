"""A container's meminfo beside the host's zoneinfo is detected and said, not mixed (issue 9).

Inputs: real roots of ../shared/real-roots (PROVENANCE.md there): hotsos-cephmon-5.4 is an
LXD container whose proc/meminfo comes from lxcfs (2 GiB) while its zoneinfo shows the
16 GiB host; nodeexp-x86 is a fixture whose meminfo (3.7 GiB) and zoneinfo (32 GiB) come
from different machines; hotsos-openstack-5.4 is the same host's view on both.
"""

from __future__ import annotations

import json

import pytest

from conftest import SHARED, run_cli
from memstall.collect import load_state
from memstall.sources import open_root

REAL = SHARED / "real-roots"


@pytest.mark.parametrize(("root", "memtotal_kib", "zones_kib"), [
    ("hotsos-cephmon-5.4", 2097152, 16393164),
    ("nodeexp-x86", 3742148, 32756424),
])
def test_a_meminfo_smaller_than_the_zones_is_left_out_and_said(root: str, memtotal_kib: int,
                                                               zones_kib: int) -> None:
    state = load_state(open_root(str(REAL / root)))
    assert state.meminfo is None and state.container_meminfo is not None
    assert state.container_meminfo.kib("MemTotal") == memtotal_kib
    assert any(n.startswith("proc/meminfo is a container's view (lxcfs, a cgroup limit) or another "
                            f"machine's: MemTotal {memtotal_kib} kB, but the zones of proc/zoneinfo "
                            f"manage {zones_kib} kB") for n in state.notes)
    # Rules that need meminfo say why they did not run; nothing mixes the two.
    doc = json.loads(run_cli("--root", str(REAL / root), "--format", "json", "diagnose").out)
    reasons = {s["key"]: s["reason"] for s in doc["skipped"]}
    assert "a container's view" in reasons["HUGETLB_SQUEEZES_PAGE_CACHE"]
    # `show meminfo` still shows the file, with the note.
    shown = json.loads(run_cli("--root", str(REAL / root), "--format", "json", "show", "meminfo").out)
    assert shown["fields_kib"]["MemTotal"] == memtotal_kib
    assert any("a container's view" in n for n in shown["notes"])


def test_the_hosts_own_meminfo_is_used() -> None:
    state = load_state(open_root(str(REAL / "hotsos-openstack-5.4")))
    assert state.meminfo is not None and state.container_meminfo is None
    assert not any("container" in n for n in state.notes)
