"""Read a kernel log into allocation reports: the I/O edge for sources.kernlog + parsers.kernlog.

Apart from collect/ so that commands which never read a log do not import the scanner.
"""

from __future__ import annotations

from collections.abc import Iterator

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
