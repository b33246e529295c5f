"""Read a root (live or captured) into a SystemState: the I/O edge for sources + parsers.

Every file of the registry goes through the same three steps: read (sources), parse
(parsers), store. A missing or unreadable file is recorded in `SystemState.unavailable`
with the reason (and in `hints` what to do about it), never raised: rules that need it
say they were skipped. A file that is present but malformed is a ParseError naming the
file and line (strict, the default: never half-parsed data), or with strict=False an
unavailable file whose reason is `malformed: <that error>`, so that one bad file does not
cost a long-running command the rest of the state.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from memstall import specs
from memstall.collect.fallbacks import (
    CONTAINER_REASON,
    container_view,
    kthreads_from_ps,
    page_size_from_orders,
    release_elsewhere,
    summed_from_nodes,
)
from memstall.collect.registry import FILES, KernelFile, hint_for, record_for, sample_paths
from memstall.errors import ParseError, SourceUnavailable
from memstall.manifest import parse_manifest, recorded_clock_ticks, recorded_page_size
from memstall.model.kernel import KernelVersion
from memstall.model.kthreads import KThreadStat
from memstall.model.state import SystemState
from memstall.model.thp import ThpSettings
from memstall.sources import Source
from memstall.sources.expand import discover_kthreads, expand
from memstall.sources.snapshot import SampleView, sample_count


class _Read:
    """One pass over some files: their texts, parsed, and why some could not be."""

    def __init__(self, source: Source, strict: bool, globs: dict[str, list[str]] | None = None) -> None:
        self.source = source
        self.strict = strict
        self.globs = {} if globs is None else globs
        """pattern -> its matches, kept by the StateReader between static refreshes."""
        self.unavailable: dict[str, str] = {}
        self.errors: dict[str, ParseError] = {}
        self.notes: list[str] = []

    def text(self, rel: str) -> str | None:
        try:
            return self.source.read_text(rel)
        except SourceUnavailable as err:
            self.unavailable[rel] = err.reason
            return None

    def _why_absent(self, directory: str) -> str:
        if self.source.exists(directory):
            return "no file in it"
        try:
            self.source.read_text(directory)
        except SourceUnavailable as err:
            return err.reason
        return "no such file"

    def parse(self, rel: str, build: Callable[[], Any]) -> Any:
        """`build()`, or None (strict=False) with `rel` recorded as malformed."""
        try:
            return build()
        except ParseError as err:
            # A directory's parser names the file inside it (proc/sys/vm/<name>).
            named = err if err.path.startswith(rel + "/") else err.at(rel)
            if self.strict:
                raise named from None
            self.unavailable[rel] = f"malformed: {named}"
            self.errors[rel] = named
            return None

    def parsed(self, rel: str, parse: Callable[[str, str], Any]) -> Any:
        text = self.text(rel)
        value = None if text is None else self.parse(rel, lambda: parse(text, rel))
        note = skipped_note(rel, getattr(value, "skipped", ()))
        if note:
            self.notes.append(note)
        return value

    def file(self, f: KernelFile) -> Any:
        """The value of one registry record (not per-pid: see StateReader._kthreads)."""
        assert f.parse is not None
        per = f.per
        if per == "node":
            out = {}
            if f.path not in self.globs:  # the node directories: listed again on a static refresh
                self.globs[f.path] = self.source.glob(f.path)
            for rel in self.globs[f.path]:
                node = rel.split("/")[-2][len("node"):]
                value = self.parsed(rel, f.parse)
                if node.isdigit() and value is not None:
                    out[int(node)] = value
            return out
        if per == "glob":
            texts = {rel: self.text(rel) for rel in self.source.glob(f.path)}
            found = {rel: text for rel, text in texts.items() if text is not None}
            if not found:
                # The source says why in its own words ('no such file', 'not in this sosreport').
                reason = self._why_absent(f.unavailable_key)
                self.unavailable[f.unavailable_key] = reason
                return None
            parse = f.parse
            return self.parse(f.path, lambda: parse(found, f.path))
        if per == "dir":
            directory = f.unavailable_key
            texts = {rel.rsplit("/", 1)[1]: self.text(rel) for rel in expand(self.source, f.path)}
            files = {name: text for name, text in texts.items() if text is not None}
            if not files:
                self.unavailable[directory] = "no such directory"
                return None
            parse = f.parse
            return self.parse(directory, lambda: parse(files, directory))
        return self.parsed(f.path, f.parse)


_SHOWN_SKIPPED = 3


def skipped_note(rel: str, skipped: tuple[tuple[int, str], ...]) -> str | None:
    """The note for lines a tolerant parser left out of `rel` (file:line and the text).

    >>> skipped_note("proc/zoneinfo", ((30, "                   537792"),))
    "proc/zoneinfo: left out 1 line of a shape memstall does not read: proc/zoneinfo:30 '537792'"
    """
    if not skipped:
        return None
    shown = ", ".join(f"{rel}:{no} {' '.join(line.split())!r}" for no, line in skipped[:_SHOWN_SKIPPED])
    more = len(skipped) - _SHOWN_SKIPPED
    return (f"{rel}: left out {len(skipped)} line{'' if len(skipped) == 1 else 's'} of a shape "
            f"memstall does not read: {shown}" + (f" and {more} more" if more > 0 else ""))


def _thp(parts: Mapping[str, Any]) -> ThpSettings | None:
    enabled, defrag = parts[specs.THP_ENABLED], parts[specs.THP_DEFRAG]
    if enabled is None and defrag is None:
        return None
    return ThpSettings(enabled=enabled, defrag=defrag,
                       khugepaged_defrag=parts[specs.THP_KHUGEPAGED_DEFRAG])


# Fields filled by several files: field -> (path -> parsed value) -> value.
_COMBINE: dict[str, Callable[[Mapping[str, Any]], Any]] = {"thp": _thp}


def _by_field(sampled: bool, skip: Collection[str]) -> dict[str, list[KernelFile]]:
    """The registry's sampled (or static) files but kthreads, by the field they fill."""
    key = (sampled, tuple(sorted(skip)))
    found = _BY_FIELD.get(key)
    if found is None:
        found = _BY_FIELD[key] = {}
        for f in FILES:
            if f.sampled == sampled and f.per != "pid" and f.field not in skip:
                found.setdefault(f.field, []).append(f)
    return found


_BY_FIELD: dict[tuple[bool, tuple[str, ...]], dict[str, list[KernelFile]]] = {}


def _fields(read: _Read, sampled: bool, skip: Collection[str] = ()) -> dict[str, Any]:
    """Every field the registry's sampled (or static) files fill, but kthreads and `skip`."""
    out = {}
    for name, files in _by_field(sampled, skip).items():
        parts = {f.path: read.file(f) for f in files}
        out[name] = _COMBINE[name](parts) if name in _COMBINE else parts[files[0].path]
    return out


def read_manifest(source: Source) -> dict[str, object] | None:
    if not source.exists(specs.MANIFEST):
        return None
    return parse_manifest(source.read_text(specs.MANIFEST))


def _page_size(source: Source, manifest: dict[str, object] | None) -> tuple[int, str | None]:
    recorded = recorded_page_size(manifest)
    if recorded is not None:
        return recorded, None
    if source.is_live:
        return os.sysconf("SC_PAGE_SIZE"), None
    return 4096, "page size not recorded in this capture: assumed 4096 bytes"


def _clock_ticks(source: Source, manifest: dict[str, object] | None) -> int | None:
    """USER_HZ: recorded by the capture, or this host's; None: a capture without it."""
    recorded = recorded_clock_ticks(manifest)
    if recorded is None and source.is_live:
        return os.sysconf("SC_CLK_TCK")
    return recorded


@dataclass
class _Static:
    """What refresh_static=False reuses: settings and identity, read once."""

    fields: dict[str, Any]
    unavailable: dict[str, str]
    manifest: dict[str, object] | None
    page_size: int
    clock_ticks: int | None
    notes: list[str] = field(default_factory=list)
    errors: dict[str, ParseError] = field(default_factory=dict)
    page_note: str | None = None
    """The 'assumed 4096 bytes' note, when the page size was neither recorded nor live."""


def _read_static(source: Source, strict: bool) -> _Static:
    manifest = read_manifest(source)
    page_size, page_note = _page_size(source, manifest)
    read = _Read(source, strict)
    fields = _fields(read, sampled=False)
    release = fields["kernel_release"]
    if release is None and manifest is not None and isinstance(manifest.get("kernel"), str):
        fields["kernel_release"] = release = str(manifest["kernel"]).strip() or None
    notes = list(source.notes()) + read.notes
    if page_note:
        notes.append(page_note)
    elsewhere = release_elsewhere(source) if release is None else None
    if elsewhere is not None:
        release, said = elsewhere
        fields["kernel_release"] = release
        notes.append(said)
    if release is None or KernelVersion.parse(release) is None:
        # Every era-dependent formula (watermarks, min_free_kbytes cap) then takes the newest.
        shown = "not recorded" if release is None else f"{release!r} has no version number"
        notes.append(f"kernel release {shown}: the newest kernel's formulas are assumed")
    return _Static(fields, read.unavailable, manifest, page_size,
                   _clock_ticks(source, manifest), notes, read.errors, page_note)


def _with_manifest_reasons(unavailable: dict[str, str],
                           manifest: dict[str, object] | None) -> dict[str, str]:
    """A capture's MANIFEST says why a file is missing better than 'no such file'."""
    said = manifest.get("unavailable") if manifest else None
    if not isinstance(said, dict):
        return unavailable
    return {rel: why if why.startswith("malformed:") else str(said.get(rel, why))
            for rel, why in unavailable.items()}


class StateReader:
    """Reads one root again and again; re-reads only what changes when asked to.

    `read()` reads every file of the registry. `read(refresh_static=False)` re-reads only
    the sampled ones and reuses the settings (sysctls, THP, osrelease, the MANIFEST's page
    size and clock ticks) and the list of NUMA node directories of the previous read. The
    kswapd/kcompactd threads are found once (proc/*/comm) and afterwards only their
    proc/<pid>/stat is read; they are looked for again on a full read, or when a pid
    vanished or its stat names another thread.
    """

    def __init__(self, source: Source, *, strict: bool = True, skip: Collection[str] = ()) -> None:
        self.source = source
        self.strict = strict
        self.skip = tuple(skip)
        """Sampled fields the caller never reads (the exporter: node_vmstat, node_meminfo),
        not read: their SystemState default, and nothing of them in `unavailable`."""
        self._static: _Static | None = None
        self._kthread_dirs: list[tuple[str, str]] | None = None
        self._globs: dict[str, list[str]] = {}
        self.errors: dict[str, ParseError] = {}
        """strict=False: the files the last read() left out as malformed, with the error."""

    def read(self, *, refresh_static: bool = True) -> SystemState:
        if refresh_static or self._static is None:
            self._static = _read_static(self.source, self.strict)
            self._kthread_dirs = None
            self._globs.clear()
        static = self._static
        read = _Read(self.source, self.strict, self._globs)
        values = {**static.fields, **_fields(read, sampled=True, skip=self.skip)}
        values["kthreads"] = self._kthreads_or_why(read)
        if not values["kthreads"]:
            values["kthreads_ps"], said = kthreads_from_ps(self.source)
            read.notes += [said] if said else []
        read.notes += summed_from_nodes(values, {**static.unavailable, **read.unavailable})
        container = container_view(values, static.page_size)
        if container is not None:
            values["container_meminfo"], values["meminfo"] = values["meminfo"], None
            read.unavailable[specs.MEMINFO] = CONTAINER_REASON
            read.notes.append(container)
        unavailable = _with_manifest_reasons({**static.unavailable, **read.unavailable},
                                             static.manifest)
        hints = {rel: hint for rel, why in unavailable.items()
                 if (hint := hint_for(rel, why)) is not None}
        self.errors = {**static.errors, **read.errors}
        left_out = [f"{rel} left out: {err}" for rel, err in self.errors.items()]
        page_size, notes = static.page_size, list(static.notes)
        inferred = page_size_from_orders(values["buddyinfo"]) if static.page_note else None
        if inferred is not None:
            page_size = inferred[0]
            notes = [inferred[1] if n == static.page_note else n for n in notes]
        return SystemState(source=self.source.label, page_size=page_size,
                           clock_ticks_per_second=static.clock_ticks, unavailable=unavailable,
                           hints=hints, notes=(*notes, *read.notes, *left_out),
                           absence_is_known=self.source.is_live or static.manifest is not None,
                           **values)

    def _kthreads(self, read: _Read) -> tuple[KThreadStat, ...]:
        if self._kthread_dirs is not None:
            again = _Read(self.source, self.strict)
            found = self._stats(again, check=True)
            if found is not None:
                read.unavailable.update(again.unavailable)
                read.errors.update(again.errors)
                return found
        self._kthread_dirs = discover_kthreads(self.source)
        found = self._stats(read, check=False)
        assert found is not None
        return found

    def _kthreads_or_why(self, read: _Read) -> tuple[KThreadStat, ...]:
        found = self._kthreads(read)
        if not self._kthread_dirs:
            read.unavailable[specs.KTHREAD_STAT] = "no kswapd or kcompactd thread found"
        return found

    def _stats(self, read: _Read, check: bool) -> tuple[KThreadStat, ...] | None:
        """proc/<pid>/stat of the known threads; with `check`, None when one is gone."""
        assert self._kthread_dirs is not None and _STAT.parse is not None
        found = []
        for pid_dir, comm in self._kthread_dirs:
            rel = f"{pid_dir}/stat"
            text = read.text(rel)
            if text is None and check:
                return None  # the thread exited (memory hot-remove): look again
            stat = None if text is None else read.parse(rel, partial(_STAT.parse, text, rel))
            if check and stat is not None and stat.comm != comm:
                return None  # the pid now belongs to another task
            if stat is not None:
                found.append(stat)
        return tuple(sorted(found, key=lambda s: s.comm))


_STAT = next(f for f in FILES if f.field == "kthreads" and f.parse is not None)


def select_sample(source: Source, sample: int | None) -> Source:
    """Sample k of a `snapshot --samples N` capture (0 or None: the capture itself)."""
    if not sample:
        return source
    count = sample_count(source)
    if sample < 0 or sample >= count:
        raise SourceUnavailable(f"{specs.SAMPLES_DIR}/{sample}",
                                f"no such sample: {source.label} holds samples 0..{count - 1}")
    return SampleView(source, sample, sampled=sample_paths())


def load_state(source: Source, sample: int | None = None, *,
               needs: Collection[str] | None = None) -> SystemState:
    """Read and parse everything memstall uses from one root (or one sample of a capture).

    `needs`: the SystemState fields the caller cannot do without (`show zones` needs
    "zoneinfo"). A malformed file that fills one of them is a ParseError; any other
    malformed file is left out with a note, so that a zoneinfo oddity does not stop
    `show sysctl`. None (the default): every file is needed, the first malformed one raises.
    """
    reader = StateReader(select_sample(source, sample), strict=needs is None)
    state = reader.read()
    for rel, err in reader.errors.items():
        record = record_for(rel)
        if record is None or record.field in (needs or ()):
            raise err
    return state

