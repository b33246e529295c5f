"""Read kernel logs line by line: plain, .gz, .xz, .bz2, .zst (with the `zstd` extra) or stdin.

Compression is recognised by the file's magic bytes, not its name. Lines come out as bytes
without their newline; decoding (UTF-8 with replacement) is the scanner's business, so a
binary or mis-encoded file never raises here. Memory stays constant: the file is read in
1 MiB chunks and a line longer than MAX_LINE is cut there (the rest of it is dropped and
counted in `truncated`).

Errors are one-line `SourceUnavailable` naming the file: missing, a directory, permission
denied, not decompressible, or zstd without the `zstandard` module.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import sys
import zlib
from collections.abc import Iterator
from typing import IO, Any

from memstall.errors import SourceUnavailable

CHUNK = 1 << 20
MAX_LINE = 1 << 16
STDIN = "-"

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def _open_raw(path: str) -> IO[bytes]:
    if path == STDIN:
        return sys.stdin.buffer
    try:
        return open(path, "rb")  # closed by LogReader.close()
    except FileNotFoundError:
        raise SourceUnavailable(path, "no such file") from None
    except IsADirectoryError:
        raise SourceUnavailable(path, "is a directory, expected a log file") from None
    except PermissionError:
        raise SourceUnavailable(path, "permission denied", hint="run as root or copy the log") from None
    except OSError as err:
        raise SourceUnavailable(path, err.strerror or str(err)) from None


def _zstd_reader(raw: IO[bytes], path: str) -> IO[bytes]:
    try:
        import zstandard  # type: ignore[import-not-found,unused-ignore]  # optional extra
    except ImportError:
        raise SourceUnavailable(path, "is zstd-compressed and the zstandard module is missing",
                                hint="pip install 'memstall[zstd]', or: zstdcat FILE | memstall logs -"
                                ) from None
    reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(raw)
    return reader


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

    def __init__(self, path: str) -> None:
        self.path = path
        self.truncated = 0
        self.lines = 0
        self._raw = _open_raw(path)

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

    def _chunks(self) -> Iterator[bytes]:
        try:
            head = self._raw.read(8)
        except OSError as err:
            raise SourceUnavailable(self.path, err.strerror or str(err)) from None
        stream: Any
        stream, kind = _decompressing(_Peeked(head, self._raw), head, self.path)  # type: ignore[arg-type]
        try:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    return
                yield chunk
        except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as err:
            what = f"cannot be decompressed ({kind})" if kind else "read error"
            raise SourceUnavailable(self.path, f"{what}: {err}") from None

    def blocks(self) -> Iterator[bytes]:
        """Blocks of whole lines (about CHUNK bytes, split at b'\\n'), for fast scanning.

        A line longer than MAX_LINE is cut there like in line iteration. `lines` counts the
        lines seen.
        """
        try:
            rest = b""
            skipping = False
            for chunk in self._chunks():
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
