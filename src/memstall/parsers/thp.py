"""thp — sys/kernel/mm/transparent_hugepage/{enabled,defrag,khugepaged/defrag}

`enabled` and `defrag` list every choice with the active one in brackets::

    always [madvise] never

`khugepaged/defrag` is a flag, `0` or `1`.

>>> parse_thp_choice("always [madvise] never\\n")
'madvise'
>>> parse_thp_flag("1\\n")
1
"""

from __future__ import annotations

import re

from memstall.errors import ParseError

_CHOSEN = re.compile(r"\[([^\]\s]+)\]")


def parse_thp_choice(text: str, path: str = "sys/kernel/mm/transparent_hugepage/enabled") -> str:
    line = text.strip()
    found = _CHOSEN.findall(line)
    if len(found) != 1:
        raise ParseError(path, 1, line, "the choices with exactly one in [brackets]")
    return str(found[0])


def parse_thp_flag(text: str,
                   path: str = "sys/kernel/mm/transparent_hugepage/khugepaged/defrag") -> int:
    line = text.strip()
    if line not in ("0", "1"):
        raise ParseError(path, 1, line, "0 or 1")
    return int(line)
