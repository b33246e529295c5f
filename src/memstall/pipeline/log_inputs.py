"""The rules' inputs from a kernel log: its allocation reports and its last Mem-Info dump.

A fleet syslog interleaves hosts: only the host of the last Mem-Info is diagnosed (the
others are counted, `memstall logs --host H` shows them). A dump that prints the zones of
some nodes only still gives MemTotal as pages RAM - pages reserved.
"""

from __future__ import annotations

from dataclasses import replace

from memstall.analysis.log_state import state_from_mem_info
from memstall.collect_log import read_log_last_dump
from memstall.model.kernel import KernelVersion
from memstall.model.kernlog import AllocEvent, MemInfoDump
from memstall.model.meminfo import MemInfo
from memstall.model.state import SystemState
from memstall.rules import Inputs

NO_RATES = "a kernel log holds no counters to compute rates from"


def last_dump(events: tuple[AllocEvent, ...], standalone: list[MemInfoDump]) -> MemInfoDump | None:
    """The Mem-Info dump printed last, inside a report or on its own."""
    dumps = [e.mem_info for e in events if e.mem_info is not None] + standalone
    return max(dumps, key=lambda d: d.line_no, default=None)


def with_mem_total(state: SystemState, dump: MemInfoDump) -> tuple[SystemState, int | None]:
    """MemTotal (= Σ managed) when the log lacks zone lines: pages RAM - pages reserved.

    Returns the state (with MemTotal filled in and a note, when it was missing) and the
    host's managed total in pages (None when the dump does not print both counts).
    """
    if dump.pages_ram is None or dump.pages_reserved is None:
        return state, None
    managed = dump.pages_ram - dump.pages_reserved
    m = state.meminfo
    if m is None or m.kib("MemTotal") is not None:
        return state, managed
    fields = dict(m.fields_kib)
    fields["MemTotal"] = managed * state.page_size // 1024
    note = ("MemTotal estimated as pages RAM - pages reserved "
            f"({dump.pages_ram} - {dump.pages_reserved} pages): not every node's zones were printed")
    return replace(state, meminfo=MemInfo(fields, m.counts), notes=(*state.notes, note)), managed


def fleet_host(events: tuple[AllocEvent, ...], dump: MemInfoDump | None) -> str | None:
    """The host to diagnose: the one whose report holds `dump`, else the only host named."""
    owner = next((e for e in events if e.mem_info is dump and dump is not None), None)
    if owner is not None:
        return owner.host
    hosts = {e.host for e in events if e.host}
    return hosts.pop() if len(hosts) == 1 else None


def of_host(events: tuple[AllocEvent, ...], host: str | None) -> tuple[tuple[AllocEvent, ...], int]:
    """The events of `host` (and those naming no host), and how many of other hosts were left out."""
    if not host:
        return events, 0
    kept = tuple(e for e in events if not e.host or e.host == host)
    return kept, len(events) - len(kept)


def inputs_from_log(path: str) -> tuple[Inputs, str, int | None]:
    """Rules' inputs from a kernel log: its reports, and its last Mem-Info as a SystemState.

    Returns the inputs, a description, and the host's managed total (pages RAM - pages
    reserved) used to estimate zones the log does not print.
    """
    label, items = read_log_last_dump(path)  # only the last Mem-Info is used: flat memory
    events = tuple(i for i in items if isinstance(i, AllocEvent))
    dump = last_dump(events, [i for i in items if isinstance(i, MemInfoDump)])
    host = fleet_host(events, dump)
    events, others = of_host(events, host)
    release = next((e.kernel_version for e in reversed(events) if e.kernel_version), None)
    managed: int | None = None
    if dump is None:
        state = SystemState(source=label, kernel_release=release,
                            unavailable={"Mem-Info": "the log holds no Mem-Info dump"})
        where = "no Mem-Info"
    else:
        state, managed = with_mem_total(
            state_from_mem_info(dump, kernel_release=release, source=f"{label}:{dump.line_no}"), dump)
        where = f"Mem-Info at line {dump.line_no}"
    inputs = Inputs(state, events=events, kernel=KernelVersion.parse(release) if release else None,
                    from_log=True, rates_reason=NO_RATES)
    how = f"kernel log: {len(events)} allocation report{'' if len(events) == 1 else 's'}, {where}"
    if others:
        how += f"; host {host} only, {others} reports of other hosts left out (see memstall logs)"
    return inputs, how, managed


__all__ = ["fleet_host", "inputs_from_log", "last_dump", "of_host", "with_mem_total"]
