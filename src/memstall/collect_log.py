"""Read a kernel log into allocation reports: the I/O edge for sources.kernlog + parsers.kernlog.

Apart from collect/ so that commands which never read a log do not import the scanner.
"""

from __future__ import annotations

import pickle
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import IO, TypeVar

from memstall.model.kernlog import KINDS, AllocEvent, DumpText, MemInfoDump
from memstall.parsers.kernlog import Item, LogScanner, with_dump_parsed
from memstall.parsers.kernlog.scanner import HELD_LINES, HELD_SPAN_BYTES, PREFILTER_WORDS, holdable
from memstall.sources.kernlog import STDIN, LogReader, compressed


def scan_log(reader: LogReader, scanner: LogScanner, prefilter: bool | None = None) -> Iterator[Item]:
    """Every report of one log, in file order. A big plain file is prefiltered by grep
    (`LogReader.sparse_blocks`): same result as reading every block, tested."""
    if prefilter is None:
        prefilter = reader.prefilterable()
    if prefilter:
        for gap, block in reader.sparse_blocks(PREFILTER_WORDS, lambda: scanner.busy,
                                                hold=holdable, hold_lines=HELD_LINES,
                                                hold_span_bytes=HELD_SPAN_BYTES):
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


def _dump_of(item: Item) -> MemInfoDump | DumpText | None:
    return (item.mem_info or item.mem_info_text) if isinstance(item, AllocEvent) else item


def _without_dump(item: Item) -> Item | None:
    """The item with its Mem-Info dropped: an event keeps its facts, a standalone dump goes."""
    return replace(item, mem_info=None, mem_info_text=None) if isinstance(item, AllocEvent) else None


def read_log_last_dump(path: str) -> tuple[str, list[Item]]:
    """`read_log` for `diagnose --log`, which reads only the last Mem-Info: every event, but
    only the dump with the highest line number is kept (memory stays flat however many
    reports the log holds)."""
    reader = LogReader(path)
    return reader.label, scan_last_dump(reader)


def scan_last_dump(reader: LogReader) -> list[Item]:
    """Every event of one log, and only its last Mem-Info (see `read_log_last_dump`); the
    reader is closed. The events' dumps are parsed only for the one kept (deferred: KINDS)."""
    items: list[Item] = []
    best: int | None = None  # index in items of the item holding the last dump so far
    best_line = -1
    try:
        for item in scan_log(reader, LogScanner(reader.label, defer_dumps=KINDS)):
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
        if best is not None:
            kept_item = items[best]
            if isinstance(kept_item, AllocEvent):
                items[best] = with_dump_parsed(kept_item)
        return items
    finally:
        reader.close()


# --- one file scanned by several processes (memstall logs --jobs N) ---------------------------

PART_BYTES = 8 << 20
"""A file is cut into parts of about this size (at least one per job): the main process holds
one part's reports at a time, so memory stays flat."""
WARM_BYTES = 512 << 10
"""Each part after the first is scanned from this far before its start, to build the state
(open reports, learned hosts and prefixes) the scan of everything before it would have."""


@dataclass(frozen=True)
class _Part:
    """Lines (first_line, last_line] of the file, which start at byte `start`; the scan
    starts at byte `warm`, line `warm_line` (a line start at most WARM_BYTES before)."""

    path: str
    label: str
    warm: int
    warm_line: int
    first_line: int
    last_line: int | None  # None: to the end of the file
    defer_dumps: tuple[str, ...] = ()
    """The kinds whose dumps the scanner leaves unparsed (`LogScanner`'s defer_dumps)."""
    state: bytes | None = None
    """A pickled scanner to go on from instead of a warm-up (then warm is the part's start)."""


@dataclass(frozen=True)
class _PartScan:
    items: list[Item]
    skipped: dict[str, int]
    cut_lines: int
    truncated: int
    start_key: tuple[object, ...]
    end_key: tuple[object, ...] | None
    end_state: bytes | None
    """The pickled scanner at the part's end: where a serial scan resumes after a mismatch."""


def _line_starts(path: str, parts: int, warm_bytes: int) -> list[tuple[int, int, int, int]]:
    """(warm offset, start offset, lines before start, lines before warm) of each part; both
    offsets are line starts."""
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        starts = [0]
        for k in range(1, parts):
            f.seek(max(starts[-1], size * k // parts))
            f.readline()
            if f.tell() >= size or f.tell() <= starts[-1]:
                break
            starts.append(f.tell())
        out = []
        lines = 0
        prev = 0
        for start in starts:
            lines += _count_newlines(f, prev, start)
            prev = start
            warm = start
            if start:
                f.seek(max(0, start - warm_bytes))
                if f.tell():
                    f.readline()
                warm = min(f.tell(), start)
            out.append((warm, start, lines, lines - _count_newlines(f, warm, start)))
    return out


def _count_newlines(f: IO[bytes], start: int, end: int) -> int:
    f.seek(start)
    n = 0
    left = end - start
    while left > 0:
        data = f.read(min(left, 1 << 20))
        if not data:
            break
        n += data.count(b"\n")
        left -= len(data)
    return n


T = TypeVar("T")


def _scan_part(part: _Part) -> _PartScan:
    reader = LogReader(part.path)
    if part.state is not None:
        scanner: LogScanner = pickle.loads(part.state)
    else:
        scanner = LogScanner(part.label, defer_dumps=part.defer_dumps)
        scanner.at_line(part.warm_line)
    items: list[Item] = []
    start_key: tuple[object, ...] | None = None
    truncated = seen = 0  # seen: reader.truncated after the previous block
    line = part.warm_line
    try:
        for raw in reader.blocks(part.warm):
            before, seen = seen, reader.truncated  # a cut line comes as a block of its own
            block = raw
            if start_key is None:  # the warm-up: its items and counts are the part before's
                head, block = _split_lines(raw, part.first_line - line)
                scanner.feed_block(head)
                line += _lines_in(head)
                if line < part.first_line:
                    continue
                start_key = scanner.state_key()
                scanner.reset_counts()
            if block:
                truncated += seen - before
            n = _lines_in(block)
            if part.last_line is not None and line + n >= part.last_line:
                items.extend(scanner.feed_block(_split_lines(block, part.last_line - line)[0]))
                break
            items.extend(scanner.feed_block(block))
            line += n
    finally:
        reader.close()
    if start_key is None:  # nothing after the warm-up
        start_key = scanner.state_key()
        scanner.reset_counts()
    if part.last_line is not None:
        return _PartScan(items, scanner.skipped, scanner.cut_lines, truncated, start_key,
                         scanner.state_key(), pickle.dumps(scanner))
    items.extend(scanner.finish())
    return _PartScan(items, scanner.skipped, scanner.cut_lines, truncated, start_key, None, None)


def _scan_part_digested(digest: Callable[[list[Item]], T], part: _Part) -> tuple[_PartScan, T]:
    """`_scan_part` in a worker, which sends back `digest` of the part's items instead of the
    items (the main process then neither unpickles them nor does the digest's work)."""
    res = _scan_part(part)
    return replace(res, items=[]), digest(res.items)


def _split_lines(block: bytes, n: int) -> tuple[bytes, bytes]:
    """The first `n` lines of a block of lines, and the rest."""
    pos = 0
    for _ in range(n):
        nl = block.find(b"\n", pos)
        if nl < 0:
            return block, b""
        pos = nl + 1
    return block[:pos], block[pos:]


def _lines_in(block: bytes) -> int:
    return block.count(b"\n") + (len(block) > 0 and block[-1:] != b"\n")


def splittable(path: str) -> bool:
    """A plain (uncompressed) regular file, which parts can be read of independently."""
    if path == STDIN:
        return False
    try:
        if not stat.S_ISREG(Path(path).stat().st_mode):
            return False
        with open(path, "rb") as f:
            return not compressed(f.read(8))
    except OSError:
        return False


@dataclass
class ParallelScan:
    """Every report of one plain file, scanned in parts by `jobs` processes; the same items,
    in the same order, and the same counts as `scan_log`.

    Each part is scanned from WARM_BYTES before its start. At the part's first line, the
    state of that scanner (`LogScanner.state_key`) must equal the state of the scan of the
    part before at its end; then the part's items are exactly those of a scan of the whole
    file. Where the states differ (a report longer than the warm-up, a host or a wrapper
    learned earlier in the file), that part is scanned again in this process from the state
    the part before ended with, and the next part is checked against the state it ends with.
    """

    path: str
    label: str
    jobs: int
    part_bytes: int = PART_BYTES
    warm_bytes: int = WARM_BYTES
    defer_dumps: tuple[str, ...] = ()
    """The kinds whose dumps are left unparsed (`LogScanner`'s defer_dumps)."""
    skipped: dict[str, int] = field(default_factory=dict)
    cut_lines: int = 0
    serial_parts: list[int] = field(default_factory=list)
    """The parts whose start state differed, scanned again in this process."""

    def _parts(self) -> list[_Part]:
        size = Path(self.path).stat().st_size
        # a multiple of jobs: 3 parts on 2 processes would leave one idle for the last third
        count = self.jobs * max(1, -(-size // (self.part_bytes * self.jobs)))
        starts = _line_starts(self.path, count, self.warm_bytes)
        parts = []
        for k, (warm, _start, lines, warm_lines) in enumerate(starts):
            last = starts[k + 1][2] if k + 1 < len(starts) else None
            parts.append(_Part(self.path, self.label, warm, warm_lines, lines, last, self.defer_dumps))
        self._offsets = [start for _, start, _, _ in starts]
        return parts

    def _add(self, skipped: dict[str, int], cut_lines: int) -> None:
        for reason, n in skipped.items():  # a part's count may be negative (LogScanner._fed_held)
            total = self.skipped.get(reason, 0) + n
            if total:
                self.skipped[reason] = total
            else:
                self.skipped.pop(reason, None)
        self.cut_lines += cut_lines

    def __iter__(self) -> Iterator[Item]:
        for items in self.digested(list):
            yield from items

    def digested(self, digest: Callable[[list[Item]], T]) -> Iterator[T]:
        """`digest(items)` of each part's items, part after part: what `__iter__` yields, cut
        into parts and handed to `digest` in the worker that scanned the part (in this process
        for a part scanned again). `digest` must pickle (a module-level function, or an
        instance of a module-level class) and its result too; `skipped` and `cut_lines` are
        whole once the iterator is exhausted."""
        import multiprocessing  # here: a one-process `memstall logs` does not pay for its import

        parts = self._parts()
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ctx.Pool(min(self.jobs, len(parts))) as pool:
            end_key: tuple[object, ...] | None = None
            end_state: bytes | None = None
            scans = pool.imap(partial(_scan_part_digested, digest), parts)
            for k, (res, done) in enumerate(scans):
                if k and (end_key is None or res.start_key != end_key):
                    # scanned again here, on from the state the part before ended with
                    self.serial_parts.append(k)
                    res = _scan_part(replace(parts[k], warm=self._offsets[k],  # noqa: PLW2901
                                             warm_line=parts[k].first_line, state=end_state))
                    done = digest(res.items)  # noqa: PLW2901
                yield done
                self._add(res.skipped, res.cut_lines + res.truncated)
                end_key, end_state = res.end_key, res.end_state
