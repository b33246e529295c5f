"""MANIFEST.json of a capture (`memstall.snapshot/1`, docs/json.md): built here, and only here.

`memstall snapshot` (sources/capture.py) and `memstall logs --as-snapshot`
(outputs/logs_snapshot.py) both call `build_manifest`; the reader (collect) parses one
with `parse_manifest` and checks the numbers it trusts with `recorded_page_size` and
`recorded_clock_ticks`. Pure: no I/O, so every layer may use it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from memstall.errors import ParseError, UnsupportedInput

SNAPSHOT_FORMAT = "memstall.snapshot/1"
MANIFEST = "MANIFEST.json"

def build_manifest(*, source: str, kernel: str | None, arch: str | None, page_size: int | None,
                   clock_ticks_per_second: int | None, numa_nodes: int | None,
                   captured: str | None, hostname: str | None, files: Iterable[str],
                   unavailable: Mapping[str, str], edited: Iterable[str] = (), shows: str = "",
                   samples: int = 1, interval_seconds: float | None = None,
                   extfrag_buddyinfo_stable: bool | None = None,
                   **extra: Any) -> dict[str, Any]:
    """The MANIFEST.json object; `extra` adds keys of one producer (`rebuilt_from_log`)."""
    return {
        "format": SNAPSHOT_FORMAT,
        "kernel": kernel,
        "arch": arch,
        "page_size": page_size,
        "clock_ticks_per_second": clock_ticks_per_second,
        "numa_nodes": numa_nodes,
        "captured": captured,
        "source": source,
        "hostname": hostname,
        "edited": list(edited),
        "shows": shows,
        "samples": samples,
        "interval_seconds": interval_seconds if samples > 1 else None,
        "extfrag_buddyinfo_stable": extfrag_buddyinfo_stable,
        "files": sorted(files),
        "unavailable": dict(sorted(unavailable.items())),
        **extra,
    }


def dump_manifest(manifest: Mapping[str, Any]) -> bytes:
    """The bytes written as MANIFEST.json."""
    return json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"


def parse_manifest(text: str) -> dict[str, object]:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ParseError(MANIFEST, getattr(err, "lineno", 0), text.splitlines()[0] if text else "",
                         "a JSON object") from None
    if not isinstance(data, dict):
        raise UnsupportedInput(f"{MANIFEST}: expected a JSON object")
    return data


def recorded_page_size(manifest: Mapping[str, object] | None) -> int | None:
    """The page size a capture recorded (None: not recorded); refuses an impossible one."""
    recorded = manifest.get("page_size") if manifest is not None else None
    if recorded is None:
        return None
    # Every kernel page size is a power of two of at least 4 KiB (8/16/64/256 KiB
    # elsewhere); anything else would make every page count wrong, so refuse it.
    if (not isinstance(recorded, int) or isinstance(recorded, bool) or recorded < 4096
            or recorded & (recorded - 1)):
        raise ParseError(MANIFEST, 0, json.dumps(recorded),
                         "page_size to be a power of two of at least 4096 bytes")
    return recorded


def recorded_clock_ticks(manifest: Mapping[str, object] | None) -> int | None:
    """USER_HZ a capture recorded (sysconf(_SC_CLK_TCK) of the captured host), or None."""
    recorded = manifest.get("clock_ticks_per_second") if manifest is not None else None
    if recorded is None:
        return None
    if not isinstance(recorded, int) or isinstance(recorded, bool) or recorded <= 0:
        raise ParseError(MANIFEST, 0, json.dumps(recorded),
                         "clock_ticks_per_second to be a positive integer")
    return recorded
