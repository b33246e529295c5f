"""Read kernel logs line by line: plain, .gz, .xz, .bz2, .zst (with the `zstd` extra) or stdin.

Compression is recognised by the file's magic bytes, not its name. Lines come out as bytes
without their newline; decoding (UTF-8 with replacement) is the scanner's business, so a
binary or mis-encoded file never raises here. Memory stays constant: the file is read in
1 MiB chunks and a line longer than MAX_LINE is cut there (the rest of it is dropped and
counted in `truncated`).

/dev/kmsg is read to the end of the ring buffer, not followed (`KmsgStream`).

Errors are one-line `SourceUnavailable` naming the file: missing, a directory, a character
device other than /dev/kmsg, a terminal or /dev/null, permission denied, not decompressible,
or zstd without the `zstandard` module.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from memstall.errors import SourceUnavailable
from memstall.sources.prefilter import (
    COMPRESSED_MAGIC,
    PREFILTER_MIN_BYTES,
    plain_and_big,
    prefilter_command,
    search_program,
    start,
    take_early,
)

CHUNK = 1 << 20
MAX_LINE = 1 << 16
STDIN = "-"
REGION = 16 << 10
"""Bytes read at a time from a prefilter hit while the scanner is busy."""
DENSE_LINES = 20_000
"""After this many lines fed from hits, a prefilter that skips fewer lines than it feeds
(a log made of reports) is stopped and the rest of the file is read block by block."""

_MAGIC = COMPRESSED_MAGIC


def compressed(head: bytes) -> bool:
    """The first bytes of a file say it is gzip, xz, bzip2 or zstd."""
    return any(head.startswith(magic) for magic, _ in _MAGIC)


KMSG_DEVICE = (1, 11)
"""major, minor of /dev/kmsg (Documentation/admin-guide/devices.txt: 1 char, 11 = /dev/kmsg)."""
NULL_DEVICE = (1, 3)
KMSG_RECORD_MAX = 1 << 16
"""One read() of /dev/kmsg returns one record and fails with EINVAL when the buffer is smaller
(records are at most CONSOLE_EXT_LOG_MAX = 8 KiB since 3.5): 64 KiB always holds one."""


class KmsgStream:
    """/dev/kmsg read to its current end, not followed: the device blocks for the next record
    once the buffer is drained, so the descriptor is non-blocking and EAGAIN is the end (what
    `dmesg` does). EPIPE means records were overwritten while reading: go on with the next.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)

    def fileno(self) -> int:
        return self.fd

    def read(self, n: int = -1) -> bytes:
        """Whole records, at least `n` bytes of them unless the end comes first."""
        out: list[bytes] = []
        size = 0
        while n < 0 or size < n:
            try:
                record = os.read(self.fd, KMSG_RECORD_MAX)
            except BlockingIOError:
                break
            except BrokenPipeError:
                continue
            if not record:
                break
            out.append(record)
            size += len(record)
        return b"".join(out)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _char_device(path: str, raw: IO[bytes]) -> IO[bytes]:
    """/dev/kmsg is read to its end; a terminal is read like stdin, /dev/null is empty; any
    other character device (/dev/zero, /dev/urandom: endless) is refused."""
    rdev = os.fstat(raw.fileno()).st_rdev
    device = (os.major(rdev), os.minor(rdev))
    if device == KMSG_DEVICE:
        return KmsgStream(os.dup(raw.fileno()))  # type: ignore[return-value]
    if raw.isatty() or device == NULL_DEVICE:
        return raw
    raise SourceUnavailable(path, "is a character device, expected a log file or /dev/kmsg")


def _open_raw(path: str) -> IO[bytes]:
    if path == STDIN:
        if sys.stdin is None:  # `memstall logs - <&-`: Python sets sys.stdin to None
            raise SourceUnavailable("<stdin>", "standard input is closed", hint="pipe a log into it")
        return sys.stdin.buffer
    try:
        raw = open(path, "rb")  # noqa: SIM115  # closed by LogReader.close()
    except FileNotFoundError:
        raise SourceUnavailable(path, "no such file") from None
    except IsADirectoryError:
        raise SourceUnavailable(path, "is a directory, expected a log file") from None
    except PermissionError:
        raise SourceUnavailable(path, "permission denied", hint="run as root or copy the log") from None
    except OSError as err:
        raise SourceUnavailable(path, err.strerror or str(err)) from None
    if not stat.S_ISCHR(os.fstat(raw.fileno()).st_mode):
        return raw
    try:
        stream = _char_device(path, raw)
    except SourceUnavailable:
        raw.close()
        raise
    if stream is not raw:
        raw.close()
    return stream


def _zstd_reader(raw: IO[bytes], path: str) -> IO[bytes]:
    try:
        import zstandard  # type: ignore[import-not-found,unused-ignore]  # optional extra
    except ImportError:
        raise SourceUnavailable(path, "is zstd-compressed and the zstandard module is missing",
                                hint="pip install 'memstall[zstd]', or: zstdcat FILE | memstall logs -"
                                ) from None
    return _ZstdStream(raw, zstandard.ZstdDecompressor, zstandard.ZstdError)  # type: ignore[return-value]


class _ZstdStream:
    """zstd frames one after another, decompressed in chunks. zstandard's stream_reader ends
    quietly at a cut-off frame; this says so, as gzip and lzma do (issue 9: a truncated .zst
    gave 0 events and exit 0), and turns a corrupt frame into EOFError/ValueError."""

    def __init__(self, raw: IO[bytes], decompressor: Any, error: type[Exception]) -> None:
        self.raw, self.new, self.error = raw, decompressor, error
        self.dobj = decompressor().decompressobj()
        self.pending = b""
        self.started = False  # inside a frame that has not ended yet

    def read(self, n: int = -1) -> bytes:
        while True:
            data = self.raw.read(CHUNK)
            if not data:
                if self.started and not self.dobj.eof:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
                return b""
            out = self._feed(data)
            if out:
                return out

    def _feed(self, data: bytes) -> bytes:
        out = []
        while data:
            if self.dobj.eof:  # the next frame (zstd files may hold several)
                self.dobj = self.new().decompressobj()
            self.started = True
            try:
                out.append(self.dobj.decompress(data))
            except self.error as err:
                raise ValueError(str(err)) from None
            data = self.dobj.unused_data if self.dobj.eof else b""
        return b"".join(out)

    def close(self) -> None:
        self.raw.close()


def _decompressing(raw: IO[bytes], head: bytes, path: str) -> tuple[Any, str | None]:
    kind = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw), kind
    if kind == "xz":
        return lzma.LZMAFile(raw), kind
    if kind == "bzip2":
        return bz2.BZ2File(raw), kind
    if kind == "zstd":
        return _zstd_reader(raw, path), kind
    return raw, None


class _Peeked:
    """A raw stream with its first bytes pushed back (stdin cannot seek)."""

    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        self.head, self.raw = head, raw

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.raw.read(n)
        if n is None or n < 0:
            data, self.head = self.head + self.raw.read(), b""
            return data
        data, self.head = self.head[:n], self.head[n:]
        return data


class LogReader:
    """Iterate over the physical lines of one log (bytes, no newline)."""

    def __init__(self, path: str, stream: IO[bytes] | None = None) -> None:
        """`path` is opened, unless `stream` (a file of a root, `Source.open_stream`) is given:
        then `path` only names it, and the grep prefilter is not used."""
        self.path = path
        self.truncated = 0
        self.lines = 0
        self._streamed = stream is not None
        self._raw = stream if stream is not None else _open_raw(path)

    @property
    def label(self) -> str:
        return "<stdin>" if self.path == STDIN else self.path

    def close(self) -> None:
        if self._raw is not sys.stdin.buffer:
            self._raw.close()

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._lines()
        finally:
            self.close()

    def _chunks(self, start: int = 0) -> Iterator[bytes]:
        stream: Any
        try:
            if start:  # a plain file, resumed after a prefilter (`sparse_blocks`)
                self._raw.seek(start)
                stream, kind = self._raw, None
            else:
                head = self._raw.read(8)
                stream, kind = _decompressing(_Peeked(head, self._raw), head, self.path)  # type: ignore[arg-type]
        except OSError as err:
            raise SourceUnavailable(self.path, err.strerror or str(err)) from None
        try:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    return
                yield _without_nul(chunk)
        except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as err:
            what = f"cannot be decompressed ({kind})" if kind else "read error"
            raise SourceUnavailable(self.path, f"{what}: {err}") from None

    def blocks(self, start: int = 0) -> Iterator[bytes]:
        """Blocks of whole lines (about CHUNK bytes, split at b'\\n'), for fast scanning.

        A line longer than MAX_LINE is cut there like in line iteration. `lines` counts the
        lines seen. `start` (a line start in a plain file) resumes after `sparse_blocks`.
        """
        try:
            rest = b""
            skipping = False
            for chunk in self._chunks(start):
                start = 0
                if skipping:
                    nl = chunk.find(b"\n")
                    if nl < 0:
                        continue
                    start, skipping = nl + 1, False
                data = rest + chunk[start:]
                cut = data.rfind(b"\n") + 1
                block, rest = data[:cut], data[cut:]
                if block:
                    self.lines += block.count(b"\n")
                    yield block
                if len(rest) > MAX_LINE:
                    self.lines += 1
                    self.truncated += 1
                    yield rest[:MAX_LINE] + b"\n"
                    rest, skipping = b"", True
            if rest:
                self.lines += 1
                yield rest
        finally:
            self.close()

    def _lines(self) -> Iterator[bytes]:
        rest = b""
        skipping = False  # inside the dropped part of an over-long line
        for chunk in self._chunks():
            parts = chunk.split(b"\n")
            parts[0] = rest + parts[0]
            rest = parts.pop()
            for part in parts:
                if skipping:
                    skipping = False
                    continue
                self.lines += 1
                if len(part) > MAX_LINE:
                    self.truncated += 1
                    part = part[:MAX_LINE]  # noqa: PLW2901
                yield part.rstrip(b"\r")
            if len(rest) > MAX_LINE:
                if not skipping:
                    self.lines += 1
                    self.truncated += 1
                    yield rest[:MAX_LINE]
                skipping, rest = True, b""
        if rest and not skipping:
            self.lines += 1
            yield rest.rstrip(b"\r")

    # -- grep prefilter (plain files) -----------------------------------------------------------

    def prefilterable(self, min_bytes: int = PREFILTER_MIN_BYTES) -> bool:
        """A plain (uncompressed) regular file of at least `min_bytes`, and rg or grep is installed."""
        if self.path == STDIN or self._streamed or search_program() is None:
            return False
        try:
            st = os.fstat(self._raw.fileno())
            head = os.pread(self._raw.fileno(), 8, 0)
        except OSError:
            return False
        return plain_and_big(st.st_mode, st.st_size, head, min_bytes)

    def sparse_blocks(self, words: Sequence[bytes], busy: Callable[[], bool],
                      dense_lines: int = DENSE_LINES, hold: Callable[[bytes], bool] | None = None,
                      hold_lines: int = 0, hold_span_bytes: int = 0,
                      program: str | None = None) -> Iterator[tuple[int, bytes]]:
        """(lines skipped, block of whole lines) pairs covering a plain file, for a scanner.

        A fixed-string search for `words` (`prefilter_command`: ripgrep when installed, else
        GNU grep; LC_ALL=C, a separate process running alongside) lists the lines that may
        start a report; the lines between are skipped unread and only counted from its line
        numbers. Each hit's region starts up to `hold_lines` lines earlier, at the first of those
        lines for which `hold` is true (the consumer feeds those before a hit line), and
        blocks of REGION bytes follow while `busy()`. Every line the consumer would not skip
        while idle must hold one of `words`. On a dense log (`dense_lines`), when the search
        fails or when the file grew meanwhile, the rest is read with `blocks`.
        Lines longer than MAX_LINE are cut (and counted in `truncated`) only where they are read.
        """
        # If the shell cannot cap the search's address space, it does not run and the file is
        # read block by block. The CLI may have started this very search before its imports.
        command = prefilter_command(words, self.path, program)
        early = take_early(command)
        if early is not None:
            proc, size = early
        else:
            size = os.fstat(self._raw.fileno()).st_size
            proc = start(command)
        assert proc.stdout is not None
        off = line = fed = 0
        try:
            bad: list[bytes] = []
            for hit_line, hit_off in _grep_hits(proc.stdout, bad):
                if hit_line <= line:
                    continue  # already read (inside a report)
                back_lines, back_bytes = self._held_before(hit_off, off, hold, hold_lines, hold_span_bytes)
                first = hit_line - back_lines  # the region starts at the lines held before the hit
                gap, off, line = first - 1 - line, hit_off - back_bytes, first - 1
                if fed > dense_lines and fed > line - fed:
                    self.lines += gap
                    yield gap, b""
                    break
                while True:
                    block, used = self._region(off)
                    if not block:
                        break
                    n = block.count(b"\n") + (block[-1:] != b"\n")
                    off, line, fed = off + used, line + n, fed + n
                    self.lines += gap + n
                    yield gap, block
                    gap = 0
                    if not busy():
                        break
            else:
                # grep failed (2: a grep without these options, or a read error that reading
                # will report; negative: killed; output of another shape), or the log grew
                # while grep ran (a live syslog): read the rest as blocks. Otherwise only
                # count the lines left.
                if not bad and proc.wait() in (0, 1) and os.fstat(self._raw.fileno()).st_size == size:
                    yield self._tail(off), b""
                    self.close()
                    return
        except BaseException:
            self.close()
            raise
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
        yield from ((0, b) for b in self.blocks(off))

    def _held_before(self, hit_off: int, off: int, hold: Callable[[bytes], bool] | None,
                     hold_lines: int, span_bytes: int) -> tuple[int, int]:
        """(lines, bytes) from the first line for which `hold` is true among the `hold_lines`
        lines right before `hit_off` (after `off`) to the hit: the consumer feeds those held
        lines before the hit line. A line longer than `span_bytes` ends the search (the
        consumer drops what it held before such a line), so one pread holds the window: where
        it holds fewer lines, the line it starts in is such a line."""
        if hold is None or hold_lines <= 0 or hit_off <= off:
            return 0, 0
        want = min(hit_off - off, hold_lines * (span_bytes + 1) + 1)
        data = os.pread(self._raw.fileno(), want, hit_off - want)
        raw = data.split(b"\n")[:-1]  # data ends with the newline before the hit line
        if want < hit_off - off:
            raw = raw[1:]  # the end of a longer line
        raw = raw[-hold_lines:]
        seen = [_without_nul(text) for text in raw]  # as the consumer gets them
        for i in range(len(seen) - 1, -1, -1):
            if len(seen[i]) > span_bytes:
                raw, seen = raw[i + 1:], seen[i + 1:]
                break
        for first, text in enumerate(seen):
            if hold(text):
                return len(raw) - first, sum(len(t) + 1 for t in raw[first:])
        return 0, 0

    def _region(self, off: int) -> tuple[bytes, int]:
        """Whole lines from `off`: (block, bytes of the file it covers)."""
        f = self._raw
        f.seek(off)
        data = f.read(REGION)
        if len(data) < REGION:
            return _without_nul(data), len(data)  # end of file
        cut = data.rfind(b"\n") + 1
        if cut:
            return _without_nul(data[:cut]), cut
        data += f.read(MAX_LINE + 1 - len(data))
        nl = data.find(b"\n")
        if nl >= 0 or len(data) <= MAX_LINE:
            return data[:nl + 1] if nl >= 0 else data, nl + 1 if nl >= 0 else len(data)
        self.truncated += 1  # skip the rest of the over-long line
        used = len(data)
        while True:
            more = f.read(CHUNK)
            nl = more.find(b"\n")
            if nl >= 0 or not more:
                used += nl + 1 if nl >= 0 else 0
                return data[:MAX_LINE] + b"\n", used
            used += len(more)

    def _tail(self, off: int) -> int:
        """Lines from `off` to the end of the file (no hit there); cuts the last if over-long."""
        f = self._raw
        f.seek(off)
        n = 0
        last = b""
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                break
            n += chunk.count(b"\n")
            last = chunk
        if last and not last.endswith(b"\n"):
            n += 1
            back = min(MAX_LINE + 1, f.tell() - off)
            f.seek(-back, os.SEEK_END)
            if back > MAX_LINE and b"\n" not in f.read():
                self.truncated += 1
        self.lines += n
        return n


def _without_nul(data: bytes) -> bytes:
    """A log written up to a crash has runs of NUL bytes where the file system extended the
    file but the data never reached the disk; the kernel never prints NUL, so they are
    dropped before the lines are classified (issue 9: a report after such padding was lost).

    >>> _without_nul(b"\\0\\0<4>[ 1.0] x\\n")
    b'<4>[ 1.0] x\\n'
    """
    return data.replace(b"\0", b"") if b"\0" in data else data


def _grep_hits(out: IO[bytes], bad: list[bytes]) -> Iterator[tuple[int, int]]:
    """(line number, byte offset of the line) from `grep -n -b` output, reading little of each
    line. Output of another shape stops the hits and is put in `bad`."""
    while True:
        row = out.readline(64)
        if not row:
            return
        number, _, rest = row.partition(b":")
        offset = rest.partition(b":")[0]
        if not (number.isdigit() and offset.isdigit() and len(number) < 19 and len(offset) < 19):
            bad.append(row)
            return
        yield int(number), int(offset)
        while not row.endswith(b"\n"):
            row = out.readline(CHUNK)
            if not row:
                return
