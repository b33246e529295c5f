"""Orchestration every command shares: read a root or a log into the rules' inputs, sample a
root on a schedule (`Sampler`), filter a log's reports. cli wires, pipeline orchestrates.

The names below are imported on first use (PEP 562), so `memstall logs`, which needs only
the log filter, does not pay for importing the rules and the state reader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memstall.pipeline.log_filter import Bound, EventFilter, in_time_range, parse_bound, wall_time
    from memstall.pipeline.log_inputs import fleet_host, inputs_from_log, of_host, with_mem_total
    from memstall.pipeline.root_inputs import inputs_from_root, one_source
    from memstall.pipeline.sampler import SYSTEM_CLOCK, Clock, Sampler, SystemClock, Tick

_HOME = {
    "Bound": "log_filter", "EventFilter": "log_filter", "in_time_range": "log_filter",
    "parse_bound": "log_filter", "wall_time": "log_filter",
    "fleet_host": "log_inputs", "inputs_from_log": "log_inputs", "of_host": "log_inputs",
    "with_mem_total": "log_inputs",
    "inputs_from_root": "root_inputs", "one_source": "root_inputs",
    "SYSTEM_CLOCK": "sampler", "Clock": "sampler", "Sampler": "sampler", "SystemClock": "sampler",
    "Tick": "sampler",
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "SYSTEM_CLOCK", "Bound", "Clock", "EventFilter", "Sampler", "SystemClock", "Tick", "fleet_host",
    "in_time_range", "inputs_from_log", "inputs_from_root", "of_host", "one_source", "parse_bound",
    "wall_time", "with_mem_total",
]  # the keys of _HOME (tested)
