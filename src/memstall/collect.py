"""Read a root (live or captured) into a SystemState: the I/O edge for sources + parsers.

Every file goes through the same three steps: read (sources), parse (parsers), store.
A missing or unreadable optional file is recorded in `SystemState.unavailable` with the
reason, never raised: rules that need it say they were skipped. A file that is present
but malformed is a ParseError naming the file: we never return half-parsed data.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Callable, TypeVar

from memstall.errors import ParseError, SourceUnavailable, UnsupportedInput
from memstall.model.kernel import KernelVersion
from memstall.model.kthreads import KThreadStat
from memstall.model.state import SystemState
from memstall.model.thp import ThpSettings
from memstall.parsers.buddyinfo import parse_buddyinfo
from memstall.parsers.extfrag import parse_extfrag
from memstall.parsers.kthread_stat import parse_kthread_stat
from memstall.parsers.meminfo import parse_meminfo
from memstall.parsers.pagetypeinfo import parse_pagetypeinfo
from memstall.parsers.psi import parse_psi
from memstall.parsers.sysctl_vm import parse_sysctl_vm
from memstall.parsers.thp import parse_thp_choice, parse_thp_flag
from memstall.parsers.vmstat import parse_vmstat
from memstall.parsers.zoneinfo import parse_zoneinfo
from memstall.sources import Source, specs
from memstall.sources.snapshot import SampleView, sample_count

T = TypeVar("T")
_NODE_DIR = re.compile(r"^node(\d+)$")


class _Reader:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.unavailable: dict[str, str] = {}

    def text(self, rel: str) -> str | None:
        try:
            return self.source.read_text(rel)
        except SourceUnavailable as err:
            self.unavailable[rel] = err.reason
            return None

    def parsed(self, rel: str, parse: Callable[[str, str], T]) -> T | None:
        text = self.text(rel)
        if text is None:
            return None
        try:
            return parse(text, rel)
        except ParseError as err:
            raise err.at(rel) from None


def read_manifest(source: Source) -> dict[str, object] | None:
    if not source.exists(specs.MANIFEST):
        return None
    text = source.read_text(specs.MANIFEST)
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ParseError(specs.MANIFEST, getattr(err, "lineno", 0), text.splitlines()[0] if text else "",
                         "a JSON object") from None
    if not isinstance(data, dict):
        raise UnsupportedInput(f"{specs.MANIFEST}: expected a JSON object")
    return data


def _page_size(source: Source, manifest: dict[str, object] | None) -> tuple[int, str | None]:
    recorded = manifest.get("page_size") if manifest is not None else None
    if recorded is not None:
        # Every kernel page size is a power of two of at least 4 KiB (8/16/64/256 KiB
        # elsewhere); anything else would make every page count wrong, so refuse it.
        if (not isinstance(recorded, int) or isinstance(recorded, bool) or recorded < 4096
                or recorded & (recorded - 1)):
            raise ParseError(specs.MANIFEST, 0, json.dumps(recorded),
                             "page_size to be a power of two of at least 4096 bytes")
        return recorded, None
    if source.is_live:
        return os.sysconf("SC_PAGE_SIZE"), None
    return 4096, "page size not recorded in this capture: assumed 4096 bytes"


def read_sysctl_vm(reader: _Reader) -> dict[str, str]:
    files: dict[str, str] = {}
    for name in reader.source.list_dir(specs.SYSCTL_VM_DIR):
        if name in specs.SYSCTL_VM_WRITE_ONLY:
            continue
        text = reader.text(f"{specs.SYSCTL_VM_DIR}/{name}")
        if text is not None:
            files[name] = text
    if not files:
        reader.unavailable[specs.SYSCTL_VM_DIR] = "no such directory"
    return files


def _per_node(reader: _Reader, pattern: str, parse: Callable[[str, str], T]) -> dict[int, T]:
    out: dict[int, T] = {}
    for rel in reader.source.glob(pattern):
        m = _NODE_DIR.match(rel.split("/")[-2])
        value = reader.parsed(rel, parse)
        if m and value is not None:
            out[int(m.group(1))] = value
    return out


def _kthreads(reader: _Reader) -> tuple[KThreadStat, ...]:
    found = []
    for rel in reader.source.glob("proc/[0-9]*/comm"):
        try:
            comm = reader.source.read_text(rel).strip()
        except SourceUnavailable:
            continue  # the process exited between listing and reading
        if not comm.startswith(specs.KTHREAD_COMM_PREFIXES):
            continue
        stat_rel = rel[: -len("comm")] + "stat"
        stat = reader.parsed(stat_rel, parse_kthread_stat)
        if stat is not None:
            found.append(stat)
    return tuple(sorted(found, key=lambda s: s.comm))


def _thp(reader: _Reader) -> ThpSettings | None:
    enabled = reader.parsed(specs.THP_ENABLED, parse_thp_choice)
    defrag = reader.parsed(specs.THP_DEFRAG, parse_thp_choice)
    khugepaged_defrag = reader.parsed(specs.THP_KHUGEPAGED_DEFRAG, parse_thp_flag)
    if enabled is None and defrag is None:
        return None
    return ThpSettings(enabled=enabled, defrag=defrag, khugepaged_defrag=khugepaged_defrag)


def _uptime(reader: _Reader) -> float | None:
    text = reader.text(specs.UPTIME)
    if text is None:
        return None
    try:
        seconds = float(text.split()[0])
    except (ValueError, IndexError):
        seconds = math.nan
    # float() also reads 'nan', 'inf' and '-1': none is a time since boot, and each would
    # turn every rate into garbage.
    if not math.isfinite(seconds) or seconds < 0:
        raise ParseError(specs.UPTIME, 1, (text.strip().splitlines() or [""])[0],
                         "'<seconds> <idle seconds>'")
    return seconds


def select_sample(source: Source, sample: int | None) -> Source:
    """Sample k of a `snapshot --samples N` capture (0 or None: the capture itself)."""
    if not sample:
        return source
    count = sample_count(source)
    if sample < 0 or sample >= count:
        raise SourceUnavailable(f"{specs.SAMPLES_DIR}/{sample}",
                                f"no such sample: {source.label} holds samples 0..{count - 1}")
    return SampleView(source, sample)


def _with_manifest_reasons(unavailable: dict[str, str],
                           manifest: dict[str, object] | None) -> dict[str, str]:
    """A capture's MANIFEST says why a file is missing better than 'no such file'."""
    said = manifest.get("unavailable") if manifest else None
    if not isinstance(said, dict):
        return unavailable
    return {rel: str(said.get(rel, why)) for rel, why in unavailable.items()}


def load_state(source: Source, sample: int | None = None) -> SystemState:
    """Read and parse everything memstall uses from one root (or one sample of a capture)."""
    source = select_sample(source, sample)
    manifest = read_manifest(source)
    reader = _Reader(source)
    page_size, page_note = _page_size(source, manifest)
    release = (reader.text(specs.OSRELEASE) or "").strip() or None
    if release is None and manifest is not None and isinstance(manifest.get("kernel"), str):
        release = str(manifest["kernel"]).strip() or None
    notes = list(source.notes())
    if page_note:
        notes.append(page_note)
    if release is None or KernelVersion.parse(release) is None:
        # Every era-dependent formula (watermarks, min_free_kbytes cap) then takes the newest.
        shown = "not recorded" if release is None else f"{release!r} has no version number"
        notes.append(f"kernel release {shown}: the newest kernel's formulas are assumed")
    sysctl_files = read_sysctl_vm(reader)
    return SystemState(
        source=source.label,
        page_size=page_size,
        kernel_release=release,
        uptime_seconds=_uptime(reader),
        buddyinfo=reader.parsed(specs.BUDDYINFO, parse_buddyinfo),
        zoneinfo=reader.parsed(specs.ZONEINFO, parse_zoneinfo),
        vmstat=reader.parsed(specs.VMSTAT, parse_vmstat),
        meminfo=reader.parsed(specs.MEMINFO, parse_meminfo),
        psi_memory=reader.parsed(specs.PSI_MEMORY, parse_psi),
        sysctl_vm=parse_sysctl_vm(sysctl_files) if sysctl_files else None,
        thp=_thp(reader),
        node_vmstat=_per_node(reader, specs.NODE_VMSTAT, parse_vmstat),
        node_meminfo=_per_node(reader, specs.NODE_MEMINFO, parse_meminfo),
        kthreads=_kthreads(reader),
        extfrag_index=reader.parsed(specs.DEBUGFS_EXTFRAG_INDEX, parse_extfrag),
        unusable_index=reader.parsed(specs.DEBUGFS_UNUSABLE_INDEX, parse_extfrag),
        pagetypeinfo=reader.parsed(specs.PAGETYPEINFO, parse_pagetypeinfo),
        unavailable=_with_manifest_reasons(reader.unavailable, manifest),
        notes=tuple(notes),
    )


__all__ = ["load_state", "read_manifest", "sample_count", "select_sample"]


class StateReader:
    """Reads one root repeatedly (replaced by the caching reader of the registry branch)."""
    def __init__(self, source: Source, *, strict: bool = True) -> None:
        self.source, self.strict = source, strict
    def read(self, *, refresh_static: bool = True) -> SystemState:
        return load_state(self.source)
