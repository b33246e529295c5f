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
file with several triggers repeats the block from `# event histogram` on:
`parse_trace_hist` takes one trigger per file and refuses a second, `parse_trace_hists`
returns each. A `common_pid.execname` key prints as `common_pid: <comm> [<pid>]` (comm
padded to 16, pid to 10); its value is kept as printed and `execname_key` splits it.
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.trace import HistEntry, HistLatencyRow, HistTaskRow, TraceHist

_ENTRY = re.compile(r"\{(?P<keys>[^}]*)\}(?P<values>.*)$")
_VALUE = re.compile(r"(\w+):\s*(-?\d+)")
_LOG2 = re.compile(r"~ 2\^(\d+)$")
_EXECNAME = re.compile(r"\s*(?P<name>\w+):\s(?P<comm>.*)\[\s*(?P<pid>\d+)\]\s*$")


def log2_bucket(text: str) -> int:
    """The k of a `.log2` key printed `~ 2^k`.

    >>> log2_bucket("~ 2^14")
    14
    """
    match = _LOG2.match(text.strip())
    if match is None:
        raise ValueError(f"not a log2 key: {text!r}")
    return int(match.group(1))


def execname_key(text: str) -> tuple[str, int]:
    """(comm, pid) of a `common_pid.execname` key printed `bash            [      1234]`.

    >>> execname_key("dd              [       123]")
    ('dd', 123)
    """
    match = _EXECNAME.match("k: " + text)
    if match is None:
        raise ValueError(f"not an execname key: {text!r}")
    return match["comm"].rstrip(), int(match["pid"])


def _keys(text: str) -> dict[str, str]:
    single = _EXECNAME.match(text)
    if single is not None:  # a comm may hold commas: one key only
        return {single["name"]: f"{single['comm'].rstrip()} [{single['pid']}]"}
    out: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition(":")
        if not sep or not name.strip():
            raise ValueError(part)
        out[name.strip()] = value.strip()
    return out


def parse_trace_hists(text: str, path: str = "hist") -> tuple[TraceHist, ...]:
    """Every trigger's histogram in a `hist` file, in the kernel's order."""
    blocks: list[tuple[int, list[str]]] = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if line.strip() == "# event histogram" or not blocks:
            blocks.append((line_no, []))
        blocks[-1][1].append(line)
    out = []
    for first, lines in blocks:
        if not any(ln.strip() for ln in lines):
            continue
        try:
            out.append(parse_trace_hist("\n".join(lines), path))
        except ParseError as err:
            raise ParseError(path, err.line_no + first - 1 if err.line_no else 0,
                             err.line, err.expected) from None
    return tuple(out)


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


def latency_rows(hist: TraceHist, path: str = "hist") -> list[HistLatencyRow]:
    """The entries of a `keys=order,gfp_flags,lat.log2:vals=hitcount,lat` hist."""
    try:
        return [HistLatencyRow(order=int(e.keys["order"]), gfp_flags=int(e.keys["gfp_flags"]),
                               bucket=log2_bucket(e.keys["lat"]), count=e.values["hitcount"],
                               lat_us=e.values.get("lat", 0)) for e in hist.entries]
    except (KeyError, ValueError) as err:
        raise ParseError(path, 0, str(err), "entries keyed order, gfp_flags, lat.log2") from None


def task_rows(hist: TraceHist, path: str = "hist") -> list[HistTaskRow]:
    """The entries of a `keys=common_pid.execname:vals=hitcount,lat` hist."""
    out = []
    try:
        for e in hist.entries:
            comm, pid = execname_key(e.keys["common_pid"])
            out.append(HistTaskRow(pid, comm, e.values["hitcount"], e.values.get("lat", 0)))
    except (KeyError, ValueError) as err:
        raise ParseError(path, 0, str(err), "entries keyed common_pid.execname") from None
    return out
