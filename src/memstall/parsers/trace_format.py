"""Parse an event's tracefs `format` file: its fields' C types, sizes and signedness.

    name: mm_vmscan_direct_reclaim_begin
    ID: 512
    format:
        field:unsigned short common_type;    offset:0;    size:2;    signed:0;
        ...
        field:int order;    offset:8;    size:4;    signed:1;
        field:unsigned long gfp_flags;    offset:16;    size:8;    signed:0;

    print fmt: "order=%d gfp_flags=%s", ...

The same shape since 2.6.31 (`signed:` since 2.6.34). The hist path reads it to declare
its synthetic event's fields with the types the kernel checks them against.
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.trace import EventField

_FIELD = re.compile(r"\s*field:(?P<decl>[^;]+);\s*offset:\d+;\s*size:(?P<size>\d+);"
                    r"\s*signed:(?P<signed>[01]);")


def parse_event_format(text: str, path: str = "format") -> dict[str, EventField]:
    """{field name: EventField} of every `field:` line (the common_ ones included).

    >>> parse_event_format("\\tfield:int order;\\toffset:8;\\tsize:4;\\tsigned:1;\\n")["order"]
    EventField(name='order', type='int', size_bytes=4, signed=True)
    """
    out: dict[str, EventField] = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip().startswith("field:"):
            continue
        match = _FIELD.match(line)
        if match is None:
            raise ParseError(path, line_no, line, "'field:<type> <name>; offset:N; size:N; signed:0|1;'")
        decl = match["decl"].strip()
        ctype, _, name = decl.rpartition(" ")
        name = re.sub(r"\[\w*\]$", "", name)  # char comm[16]
        if not ctype or not re.fullmatch(r"\w+", name):
            raise ParseError(path, line_no, line, "a field declaration '<type> <name>'")
        out[name] = EventField(name, ctype, int(match["size"]), match["signed"] == "1")
    if not out:
        raise ParseError(path, 0, text[:40], "'field:' lines")
    return out
