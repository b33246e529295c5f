"""Parse the `hist` file of a tracefs hist trigger (CONFIG_HIST_TRIGGERS, since 4.7).

    # event histogram
    #
    # trigger info: hist:keys=order,lat.log2:vals=hitcount:sort=order,lat.log2:size=2048 [active]
    #

    { order:          0, lat: ~ 2^8  } hitcount:        166
    { order:          0, lat: ~ 2^14 } hitcount:          1

    Totals:
        Hits: 210
        Entries: 4
        Dropped: 0

Printed the same way from 4.7 to 6.18 (hist_trigger_entry_print / hist_trigger_show). A
file with several triggers repeats the block; this parser takes one trigger per file and
refuses a second.
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.trace import HistEntry, TraceHist

_ENTRY = re.compile(r"\{(?P<keys>[^}]*)\}(?P<values>.*)$")
_VALUE = re.compile(r"(\w+):\s*(-?\d+)")
_LOG2 = re.compile(r"~ 2\^(\d+)$")


def log2_bucket(text: str) -> int:
    """The k of a `.log2` key printed `~ 2^k`.

    >>> log2_bucket("~ 2^14")
    14
    """
    match = _LOG2.match(text.strip())
    if match is None:
        raise ValueError(f"not a log2 key: {text!r}")
    return int(match.group(1))


def _keys(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition(":")
        if not sep or not name.strip():
            raise ValueError(part)
        out[name.strip()] = value.strip()
    return out


def parse_trace_hist(text: str, path: str = "hist") -> TraceHist:
    """Every entry and the totals of one trigger's histogram.

    >>> h = parse_trace_hist("{ order:          0, lat: ~ 2^8  } hitcount:        166\\nTotals:\\n"
    ...                      "    Hits: 166\\n    Entries: 1\\n    Dropped: 0\\n")
    >>> (h.entries[0].keys, h.entries[0].values["hitcount"], h.hits)
    ({'order': '0', 'lat': '~ 2^8'}, 166, 166)
    """
    trigger = ""
    entries: list[HistEntry] = []
    totals: dict[str, int] = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("# trigger info:"):
            if trigger:
                raise ParseError(path, line_no, line, "one trigger per hist file")
            trigger = stripped[len("# trigger info:"):].strip()
        if not stripped or stripped.startswith("#") or stripped == "Totals:":
            continue
        match = _ENTRY.match(stripped)
        try:
            if match:
                entries.append(HistEntry(keys=_keys(match["keys"]),
                                         values={k: int(v) for k, v in _VALUE.findall(match["values"])}))
                continue
            name, sep, value = stripped.partition(":")
            if not sep or name not in ("Hits", "Entries", "Dropped"):
                raise ValueError(stripped)
            totals[name] = int(value)
        except ValueError as err:
            raise ParseError(path, line_no, line,
                             "'{ key: value, ... } hitcount: N' or a Totals line") from err
    if "Hits" not in totals:
        raise ParseError(path, 0, text[:40], "a 'Totals:' block with 'Hits: N'")
    return TraceHist(trigger=trigger, entries=tuple(entries), hits=totals["Hits"],
                     entries_count=totals.get("Entries", len(entries)), dropped=totals.get("Dropped", 0))
