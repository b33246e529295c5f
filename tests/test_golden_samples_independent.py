"""The parser-sample goldens checked against the sample text, read WITHOUT memstall's parsers.

`tests/test_parser_samples.py` and `tests/test_sysctl_conf.py` compare each parser's output
with `<sample>.expected.json` / `.error` files written by `pytest --update-golden`; those
catch regressions only. Here every number in those goldens that has a home in the sample is
read from the sample again with str.split or a regex of this file, and compared:

- valid samples: free blocks, kB fields, counters, PSI averages and totals, the bracketed THP
  mode, zone sizes and watermarks, debugfs index values ("%d.%03d" read back by hand),
  /proc/<pid>/stat ticks, pagetypeinfo counts, sysctl values and sysctl.conf assignments
  (with their line numbers);
- invalid samples: the line number an error names holds the text the error quotes.
All values are INDEPENDENT of memstall: copied from the sample file by this test's own code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES

SAMPLES = FIXTURES / "samples"


def _valid(parser: str) -> list[Path]:
    return sorted((SAMPLES / parser / "valid").glob("*.txt"))


def _golden(sample: Path) -> Any:
    return json.loads(sample.with_suffix(".expected.json").read_text())


def _node_zone(fields: list[str]) -> tuple[int, str]:
    return int(fields[1].rstrip(",")), fields[3].rstrip(",")


def _buddyinfo(text: str, golden: Any) -> None:
    raw = {_node_zone(line.split()): [int(n) for n in line.split()[4:]] for line in text.splitlines()}
    assert {(z["node"], z["zone"]): z["free_blocks"] for z in golden["zones"]} == raw


def _meminfo(text: str, golden: Any) -> None:
    pairs = re.findall(r"^(?:Node \d+ )?(\S+):\s+(\d+)( kB)?\s*$", text, re.MULTILINE)
    assert golden["fields_kib"] == {k: int(v) for k, v, unit in pairs if unit}
    assert golden["counts"] == {k: int(v) for k, v, unit in pairs if not unit}


def _vmstat(text: str, golden: Any) -> None:
    assert golden["counters"] == {k: int(v) for k, v in (line.split() for line in text.splitlines())}


def _psi(text: str, golden: Any) -> None:
    for line in text.splitlines():
        kind, *pairs = line.split()
        v = dict(p.split("=") for p in pairs)
        assert golden[kind] == {"avg10": float(v["avg10"]), "avg60": float(v["avg60"]),
                                "avg300": float(v["avg300"]), "total_us": int(v["total"])}


def _thp(text: str, golden: Any) -> None:
    assert golden == re.search(r"\[([\w+]+)\]", text)[1]  # type: ignore[index]


def _zoneinfo(text: str, golden: Any) -> None:
    raw: dict[tuple[int, str], dict[str, int]] = {}
    current: dict[str, int] = {}
    for line in text.splitlines():
        head = re.match(r"Node (\d+), zone\s+(\w+)", line)
        if head:
            current = raw.setdefault((int(head[1]), head[2]), {})
        m = re.match(r"\s+(pages free|min|low|high|spanned|present|managed)\s+(\d+)$", line)
        if m:
            current[m[1].replace("pages ", "")] = int(m[2])
    assert {(z["node"], z["zone"]) for z in golden["zones"]} == set(raw)
    for z in golden["zones"]:
        r = raw[(z["node"], z["zone"])]
        got = {k: z[f"{k}_pages"] for k in ("free", "min", "low", "high", "spanned", "present")}
        assert got == {k: r[k] for k in got}
        assert z["managed_pages"] == r.get("managed")  # the managed line is 3.8+


def _extfrag_index(text: str, golden: Any) -> None:
    """debugfs prints "%2d.%03d" of (index / 1000, index % 1000) with C truncation, so -500
    comes out as "0.-500"; read it back by hand."""
    raw = {}
    for line in text.splitlines():
        f = line.split()
        values = []
        for v in f[4:]:
            whole, frac = v.split(".")
            if frac.startswith("-"):
                values.append(int(frac))
            else:
                values.append(int(whole) * 1000 + (-int(frac) if whole.startswith("-") else int(frac)))
        raw[_node_zone(f)] = values
    assert {(z["node"], z["zone"]): z["values_milli"] for z in golden["zones"]} == raw


def _kthread_stat(text: str, golden: Any) -> None:
    """pid (comm) state ...: utime, stime are fields 14, 15 and starttime 22 (man 5 proc)."""
    comm = text[text.index("(") + 1:text.rindex(")")]
    rest = text[text.rindex(")") + 2:].split()
    assert (golden["pid"], golden["comm"], golden["state"]) == (int(text.split(maxsplit=1)[0]), comm, rest[0])
    assert (golden["utime_ticks"], golden["stime_ticks"], golden["starttime_ticks"]) == (
        int(rest[11]), int(rest[12]), int(rest[19]))


def _pagetypeinfo(text: str, golden: Any) -> None:
    free = {}
    for line in text.splitlines():
        m = re.match(r"Node\s+(\d+), zone\s+(\w+), type\s+(\w+)\s+([\d\s]+)$", line)
        if m:
            free[(int(m[1]), m[2], m[3])] = [int(n) for n in m[4].split()]
    assert {(f["node"], f["zone"], f["migrate_type"]): f["free_blocks"] for f in golden["free"]} == free


def _slabinfo(text: str, golden: Any) -> None:
    """'name active num objsize perslab pages : tunables l b s : slabdata as ns sa [: ...]'."""
    rows = []
    for line in text.splitlines()[1:]:
        if line.startswith("#"):
            continue
        head, tunables, slabdata = line.split(" : ")[:3]
        rows.append([head.split()[0], *map(int, head.split()[1:] + tunables.split()[1:]
                                           + slabdata.split()[1:])])
    keys = ("name", "active_objs", "num_objs", "objsize_bytes", "objperslab", "pagesperslab",
            "limit", "batchcount", "sharedfactor", "active_slabs", "num_slabs", "sharedavail")
    assert [[c[k] for k in keys] for c in golden["caches"]] == rows


CHECKS: dict[str, Callable[[str, Any], None]] = {
    "buddyinfo": _buddyinfo, "meminfo": _meminfo, "vmstat": _vmstat, "psi": _psi, "thp": _thp,
    "zoneinfo": _zoneinfo, "extfrag_index": _extfrag_index, "kthread_stat": _kthread_stat,
    "pagetypeinfo": _pagetypeinfo, "slabinfo": _slabinfo,
}
VALID = [(p, s) for p in sorted(CHECKS) for s in _valid(p)]


@pytest.mark.parametrize(("parser", "sample"), VALID, ids=[f"{p}/{s.name}" for p, s in VALID])
def test_valid_sample_golden_holds_the_samples_numbers(parser: str, sample: Path) -> None:
    CHECKS[parser](sample.read_text(), _golden(sample))


def test_every_parser_with_samples_is_checked_here() -> None:
    parsers = {p.name for p in SAMPLES.iterdir() if (p / "valid").is_dir()}
    assert parsers == set(CHECKS) | {"sysctl_vm", "sysctl_conf"}


def test_sysctl_vm_golden_is_the_files() -> None:
    for d in sorted(p for p in (SAMPLES / "sysctl_vm" / "valid").iterdir() if p.is_dir()):
        golden = json.loads((d.parent / f"{d.name}.expected.json").read_text())
        raw = {p.name: p.read_text().strip() for p in d.iterdir()}
        assert golden["values"] == raw


@pytest.mark.parametrize("conf", sorted((SAMPLES / "sysctl_conf" / "valid").glob("*.conf")),
                         ids=lambda p: p.name)
def test_sysctl_conf_golden_assignments_are_the_files_lines(conf: Path) -> None:
    """sysctl.d(5): '#' and ';' start comments; 'key = value'; a leading '-' means "ignore a
    failure"; dots in the key are path separators."""
    mine = []
    for no, line in enumerate(conf.read_text().splitlines(), start=1):
        m = re.match(r"\s*(-?)([^#;=\s][^=]*?)\s*=\s*(.*?)\s*$", line)
        if m:
            mine.append([no, m[2].replace(".", "/"), m[3], m[1] == "-"])
    golden = json.loads(conf.with_suffix(".expected.json").read_text())
    assert golden["assignments"] == mine


INVALID = sorted(SAMPLES.glob("*/invalid/*.error"))


@pytest.mark.parametrize("error", INVALID, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_error_golden_names_the_line_that_holds_the_quoted_text(error: Path) -> None:
    message = error.read_text()
    sample = error.with_suffix("")  # sysctl_vm: a directory of knob files
    if sample.is_dir():
        sample = sample / message.split(":", 1)[0].rsplit("/", 1)[1]
    else:
        sample = error.with_suffix(".txt")
    text = sample.read_text()
    quoted = message[message.rindex(", got '") + len(", got '"):].rstrip("\n")[:-1]
    located = re.match(r"[^:]+:(\d+): ", message)
    if located is None:  # errors about the whole file: only for a file with no content
        assert not text.strip()
        return
    line = text.splitlines()[int(located[1]) - 1]
    assert line.rstrip() == quoted.rstrip() or line.startswith(quoted)
