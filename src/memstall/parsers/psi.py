"""psi — /proc/pressure/memory (PSI, 4.20+ with CONFIG_PSI; docs/kernel.md#psi)

    some avg10=0.00 avg60=0.00 avg300=0.00 total=0
    full avg10=0.00 avg60=0.00 avg300=0.00 total=0

avgN: percent of wall time some (or all non-idle) tasks stalled on memory over N
seconds; total: cumulative stall time in microseconds.

>>> p = parse_psi("some avg10=1.50 avg60=0.20 avg300=0.00 total=1234\\n")
>>> p.some.avg10, p.some.total_us, p.full is None
(1.5, 1234, True)
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.pressure import Pressure, PressureLine
from memstall.parsers._lines import numbered

_LINE = re.compile(
    r"^(some|full)\s+avg10=(\d+\.\d+)\s+avg60=(\d+\.\d+)\s+avg300=(\d+\.\d+)\s+total=(\d+)\s*$", re.ASCII)


def parse_psi(text: str, path: str = "proc/pressure/memory") -> Pressure:
    lines: dict[str, PressureLine] = {}
    last_no, last = 0, text[:40]
    for no, line in numbered(text):
        last_no, last = no, line
        m = _LINE.match(line)
        if not m:
            raise ParseError(path, no, line,
                             "'some|full avg10=<f> avg60=<f> avg300=<f> total=<int>'")
        lines[m.group(1)] = PressureLine(float(m.group(2)), float(m.group(3)),
                                         float(m.group(4)), int(m.group(5)))
    if "some" not in lines:
        raise ParseError(path, last_no, last, "a 'some ...' line")
    return Pressure(some=lines["some"], full=lines.get("full"))
