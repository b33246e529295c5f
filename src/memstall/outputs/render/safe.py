"""Terminal-safe text: every character a terminal could act on, escaped.

A process can name itself (comm) with an OSC 52 sequence, which writes the reader's
clipboard, a clear-screen, or a right-to-left override that reorders what follows; a
host name, a file name or a sysctl value can carry the same. memstall prints such
strings from logs and captures, so everything it writes to stdout and stderr goes
through `safe_text` (the CLI wraps both streams once with `escaping`, so no renderer
can forget it).

Escaped: the C0 controls except newline and tab, DEL, the C1 controls, every format
character (Unicode category Cf: the bidi embeddings and overrides U+202A-U+202E and
isolates U+2066-U+2069, zero-width characters, the BOM...), the line and paragraph
separators U+2028/U+2029 and lone surrogates (undecodable bytes). Each becomes
`\\uXXXX` (a surrogate pair above U+FFFF): readable in text, and the same character
again in a JSON string, so JSON output stays valid and decodes to the original data.
"""

from __future__ import annotations

import errno
import re
import unicodedata
from typing import Any, TextIO, cast

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_SUSPECT = re.compile(r"[^\n\t\x20-\x7e]")  # only these can need escaping
_PLAIN_ASCII = bytes(range(0x20, 0x7F)) + b"\n\t"
"""The ASCII characters that never need escaping. Deleting them from the bytes of an ASCII text
(`bytes.translate`) leaves nothing when the text is safe as it is: 1.6 us for a 3.9 KB jsonl
line, against 18 us for `_SUSPECT.search`, which sre runs character by character."""


def _escape(ch: str) -> str:
    code = ord(ch)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _replace(match: re.Match[str]) -> str:
    ch = match.group()
    return _escape(ch) if unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch


def safe_text(text: str) -> str:
    """`text` with every non-printable character but newline and tab escaped.

    >>> safe_text("kswapd0\\x1b]52;c;aGk=\\x07 \\u202egnp.exe")
    'kswapd0\\\\u001b]52;c;aGk=\\\\u0007 \\\\u202egnp.exe'
    >>> safe_text("free ≥ min\\n")
    'free ≥ min\\n'
    """
    if text.isascii() and not text.encode("ascii").translate(None, _PLAIN_ASCII):
        return text
    if _SUSPECT.search(text) is None:
        return text
    return _SUSPECT.sub(_replace, text)


class _EscapingWriter:
    """A text stream that writes `safe_text` of everything to the stream it wraps."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(safe_text(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding...
        return getattr(self._stream, name)


class _ClosedStream:
    """What Python gives a process started with stdout (or stderr) closed: sys.stdout is
    None. Writing fails as writing to a closed descriptor does; flushing has nothing to do."""

    closed = True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "the stream is closed (the process was started with it closed)")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def escaping(stream: TextIO | None) -> TextIO:
    """`stream`, escaping what is written to it; None (started closed) becomes a stream
    whose writes fail with EBADF, so a command that already did its work can say so."""
    if stream is None:
        return cast(TextIO, _ClosedStream())
    if isinstance(stream, (_EscapingWriter, _ClosedStream)):
        return stream
    return cast(TextIO, _EscapingWriter(stream))
