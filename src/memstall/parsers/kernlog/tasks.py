"""The OOM task table (`dump_tasks()` in mm/oom_kill.c, printed when vm.oom_dump_tasks is 1).

Header by era (the columns are read from the header, so a vendor's extra column is kept):

* 2.6.x:      `[ pid ]   uid  tgid total_vm      rss cpu oom_adj name`
* 2.6.36-4.0: `[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name`
* 4.1-4.14:   `... rss nr_ptes nr_pmds swapents oom_score_adj name`
* 4.15+:      `[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name`
  (af5b0f6a09e4 "mm: consolidate page table accounting"); 5.x prints
  `Tasks state (memory values in pages):` before it.

`total_vm`, `rss` and `swapents` are pages in every era; `nr_ptes`/`nr_pmds` are page-table
pages, `pgtables_bytes` bytes. A name is the rest of the row: it may hold spaces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from memstall.model.oom import OomTask, TaskTable

HEADER = re.compile(r"^\s*\[\s*pid\s*\]\s+(.*\S)\s*$")
ROW = re.compile(r"^\s*\[\s*(\d{1,18})\]\s+(.*)$")
_INT = re.compile(r"^-?\d{1,20}$")

# Header-less rows (the header was lost): the columns guessed from how many numbers they hold.
# Seven numbers are 2.6.36-4.0 (nr_ptes) or 4.15+ (pgtables_bytes): bytes are whole pages.
_GUESS = {
    6: ("uid", "tgid", "total_vm", "rss", "cpu", "oom_adj"),
    7: ("uid", "tgid", "total_vm", "rss", "nr_ptes", "swapents", "oom_score_adj"),
    8: ("uid", "tgid", "total_vm", "rss", "nr_ptes", "nr_pmds", "swapents", "oom_score_adj"),
}


def header_columns(text: str) -> tuple[str, ...] | None:
    """The column names after `[ pid ]`, or None when `text` is not the header.

    >>> header_columns("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name")
    ('uid', 'tgid', 'total_vm', 'rss', 'nr_ptes', 'swapents', 'oom_score_adj', 'name')
    """
    m = HEADER.match(text)
    return tuple(m.group(1).split()) if m else None


def _guess_columns(parts: Sequence[str]) -> list[str] | None:
    count = 0
    while count < len(parts) and _INT.match(parts[count]):
        count += 1
    guess = _GUESS.get(count) if count < len(parts) else None
    guess = guess or _GUESS.get(count - 1)  # a name made of digits
    if guess is None:
        return None
    cols = list(guess)
    if len(cols) == 7 and int(parts[4]) >= 4096 and int(parts[4]) % 4096 == 0:
        cols[4] = "pgtables_bytes"
    return cols


def parse_row(text: str, columns: Sequence[str] | None) -> OomTask | None:
    """One row; None when it is not a row of a table with these columns.

    >>> t = parse_row("[ 6576] 12345  6576  8478546  5157063   15483  1527848             0 mysqld",
    ...               header_columns("[ pid ] uid tgid total_vm rss nr_ptes swapents oom_score_adj name"))
    >>> (t.pid, t.rss_pages, t.swapents_pages, t.nr_ptes, t.name)
    (6576, 5157063, 1527848, 15483, 'mysqld')
    """
    m = ROW.match(text)
    if m is None:
        return None
    numeric = [c for c in columns if c != "name"] if columns else None
    parts = m.group(2).split(None, len(numeric)) if numeric is not None else m.group(2).split()
    if numeric is None:
        numeric = _guess_columns(parts)
        if numeric is None:
            return None
        parts = m.group(2).split(None, len(numeric))
    if len(parts) < len(numeric) + 1 or not all(_INT.match(p) for p in parts[:len(numeric)]):
        return None
    values = dict(zip(numeric, (int(p) for p in parts)))
    if "total_vm" not in values or "rss" not in values:
        return None
    return OomTask(
        pid=int(m.group(1)), uid=values.get("uid"), tgid=values.get("tgid"),
        total_vm_pages=values["total_vm"], rss_pages=values["rss"],
        pgtables_bytes=values.get("pgtables_bytes"), nr_ptes=values.get("nr_ptes"),
        nr_pmds=values.get("nr_pmds"), swapents_pages=values.get("swapents"),
        oom_score_adj=values.get("oom_score_adj", values.get("oom_adj")),
        name=parts[len(numeric)].rstrip(),
    )


def parse_task_table(lines: Sequence[str]) -> TaskTable | None:
    """The header (if it was printed) and every row that parses; None when there is neither."""
    columns: tuple[str, ...] | None = None
    tasks: list[OomTask] = []
    for line in lines:
        cols = header_columns(line)
        if cols is not None:
            columns = cols
            continue
        task = parse_row(line, columns)
        if task is not None:
            tasks.append(task)
    if columns is None and not tasks:
        return None
    return TaskTable(columns or (), tuple(tasks))
