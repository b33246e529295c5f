"""Read a kernel log into allocation reports: the I/O edge for sources.kernlog + parsers.kernlog.

Apart from collect/ so that commands which never read a log do not import the scanner.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from memstall.model.kernlog import AllocEvent, MemInfoDump
from memstall.parsers.kernlog import Item, LogScanner
from memstall.parsers.kernlog.scanner import PREFILTER_ERE
from memstall.sources.kernlog import LogReader


def scan_log(reader: LogReader, scanner: LogScanner, prefilter: bool | None = None) -> Iterator[Item]:
    """Every report of one log, in file order. A big plain file is prefiltered by grep
    (`LogReader.sparse_blocks`): same result as reading every block, tested."""
    if prefilter is None:
        prefilter = reader.prefilterable()
    if prefilter:
        for gap, block in reader.sparse_blocks(PREFILTER_ERE, lambda: scanner.busy):
            scanner.skip_idle(gap)
            yield from scanner.feed_block(block)
    else:
        for block in reader.blocks():
            yield from scanner.feed_block(block)
    yield from scanner.finish()


def read_log(path: str) -> tuple[str, list[Item]]:
    """Every report and Mem-Info of one log file (or '-'), in file order, and the log's label."""
    reader = LogReader(path)
    try:
        return reader.label, list(scan_log(reader, LogScanner(reader.label)))
    finally:
        reader.close()


def _dump_of(item: Item) -> MemInfoDump | None:
    return item.mem_info if isinstance(item, AllocEvent) else item


def _without_dump(item: Item) -> Item | None:
    """The item with its Mem-Info dropped: an event keeps its facts, a standalone dump goes."""
    return replace(item, mem_info=None) if isinstance(item, AllocEvent) else None


def read_log_last_dump(path: str) -> tuple[str, list[Item]]:
    """`read_log` for `diagnose --log`, which reads only the last Mem-Info: every event, but
    only the dump with the highest line number is kept (memory stays flat however many
    reports the log holds)."""
    reader = LogReader(path)
    return reader.label, scan_last_dump(reader)


def scan_last_dump(reader: LogReader) -> list[Item]:
    """Every event of one log, and only its last Mem-Info (see `read_log_last_dump`); the
    reader is closed."""
    items: list[Item] = []
    best: int | None = None  # index in items of the item holding the last dump so far
    best_line = -1
    try:
        for item in scan_log(reader, LogScanner(reader.label)):
            dump = _dump_of(item)
            kept: Item | None = item
            if dump is not None and dump.line_no > best_line:
                if best is not None:
                    prev = _without_dump(items[best])
                    if prev is None:
                        del items[best]
                    else:
                        items[best] = prev
                best, best_line = len(items), dump.line_no
            elif dump is not None:
                kept = _without_dump(item)
            if kept is not None:
                items.append(kept)
        return items
    finally:
        reader.close()
