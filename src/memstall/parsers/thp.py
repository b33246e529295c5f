"""thp — sys/kernel/mm/transparent_hugepage/{enabled,defrag,khugepaged/defrag}

`enabled` and `defrag` list every choice with the active one in brackets::

    always [madvise] never

>>> parse_thp_choice("always [madvise] never\\n")
'madvise'
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
