"""The file registry: complete, consistent, and the one list snapshot/collect/show/rules use."""

from __future__ import annotations

import dataclasses
import fnmatch
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from memstall import specs
from memstall.collect import load_state
from memstall.collect.registry import (
    FILES,
    ROOT_HINT,
    hint_for,
    record_for,
    sample_paths,
    snapshot_paths,
)
from memstall.model.state import SystemState
from memstall.rules import Inputs
from memstall.rules import min_free_kbytes_low as mfk
from memstall.rules import thp_defrag_stalls as thp
from memstall.rules._base import Skipped
from memstall.sources import DirSource
from memstall.sources.snapshot import _wanted

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
# Not read from a kernel file: where the state came from, and what the reader adds.
# kthreads_ps: not a registry file but what stands in for one (collect/fallbacks.py, a
# sosreport's ps output when proc/<pid>/stat is absent).
_NOT_FILES = {"source", "page_size", "clock_ticks_per_second", "unavailable", "hints", "notes",
              "kthreads_ps", "absence_is_known", "container_meminfo"}


def test_every_state_field_is_filled_by_a_record_and_every_record_fills_one() -> None:
    fields = {f.name for f in dataclasses.fields(SystemState)} - _NOT_FILES
    assert {f.field for f in FILES} == fields


def test_the_files_of_one_field_change_together() -> None:
    for name in {f.field for f in FILES}:
        assert len({f.sampled for f in FILES if f.field == name}) == 1, name


def test_paths_are_unique_and_a_tarball_keeps_every_one() -> None:
    paths = snapshot_paths()
    assert len(paths) == len(set(paths))
    concrete = [p.replace("[0-9]*", "93").replace("node*", "node1").replace("/*", "/x") for p in paths]
    assert all(_wanted(p) and _wanted(f"{specs.SAMPLES_DIR}/2/{p}") for p in concrete)


def test_samples_store_the_sampled_files_but_debugfs() -> None:
    assert set(sample_paths()) < set(snapshot_paths())
    assert specs.VMSTAT in sample_paths() and specs.KTHREAD_STAT in sample_paths()
    assert specs.SYSCTL_VM_FILES not in sample_paths() and specs.THP_ENABLED not in sample_paths()
    assert not any(p.startswith(specs.DEBUGFS_DIR) for p in sample_paths())


@pytest.mark.parametrize(("rel", "pattern"), [
    ("sys/devices/system/node/node3/meminfo", specs.NODE_MEMINFO),
    ("proc/4711/stat", specs.KTHREAD_STAT),
    ("proc/sys/vm", specs.SYSCTL_VM_FILES),
    ("proc/sys/vm/min_free_kbytes", specs.SYSCTL_VM_FILES),
    ("proc/pressure/memory", specs.PSI_MEMORY),
])
def test_a_concrete_path_finds_its_record(rel: str, pattern: str) -> None:
    record = record_for(rel)
    assert record is not None and record.path == pattern
    assert fnmatch.fnmatchcase(rel, pattern) or rel == record.unavailable_key


def test_hints_follow_the_reason() -> None:
    assert "CONFIG_PSI" in (hint_for(specs.PSI_MEMORY, "no such file") or "")
    assert hint_for(specs.PAGETYPEINFO, "permission denied") == ROOT_HINT
    assert "mount -t debugfs none /sys/kernel/debug" in (
        hint_for(specs.DEBUGFS_EXTFRAG_INDEX, "debugfs not mounted (or no CONFIG_COMPACTION)") or "")
    assert hint_for(specs.MEMINFO, "malformed: proc/meminfo:1: expected x, got 'y'") is None
    assert hint_for("proc/cpuinfo", "no such file") is None
    privileged = {f.path for f in FILES if f.privileges}
    assert privileged == {specs.PAGETYPEINFO, specs.SLABINFO, specs.DEBUGFS_EXTFRAG_INDEX,
                          specs.DEBUGFS_UNUSABLE_INDEX}


def test_a_rule_skip_line_says_the_registry_hint(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root, ignore=shutil.ignore_patterns("samples", "expected", "vm"))
    (root / "sys/kernel/mm/transparent_hugepage/defrag").unlink()
    state = load_state(DirSource(str(root)))
    assert state.hints[specs.SYSCTL_VM_DIR] == record_for(specs.SYSCTL_VM_DIR).hint  # type: ignore[union-attr]
    skipped = mfk.check(Inputs(state))
    assert isinstance(skipped, Skipped)
    assert skipped.reason.endswith("(proc/sys/vm: no such directory); a capture without "
                                   "proc/sys/vm (sosreports keep sysctl -a instead)")
    skipped = thp.check(Inputs(state))
    assert isinstance(skipped, Skipped) and "CONFIG_TRANSPARENT_HUGEPAGE" in skipped.reason


def test_snapshot_notes_say_the_hint(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root, ignore=shutil.ignore_patterns("pressure"))
    r = run_cli("--root", str(root), "snapshot", "-o", str(tmp_path / "out"))
    assert r.code == 0
    assert ("not captured: proc/pressure/memory: no such file (PSI needs kernel >= 4.20 with "
            "CONFIG_PSI, or boot with psi=1)") in r.err
