"""Small helpers shared by the parsers: numbered lines and checked integer conversion."""

from __future__ import annotations

import re
from collections.abc import Iterator

from memstall.errors import ParseError


def numbered(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its line ending) for every non-blank line.

    CRLF endings are accepted (files copied through Windows tools); a NUL byte is not
    something the kernel writes, so it is reported by the caller's shape checks.
    """
    for no, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield no, line.rstrip("\r")


_NOT_PLAIN = re.compile(r"[^\t\n\x20-\x7e]")


def plain(text: str) -> bool:
    """Whether `text` is printable ASCII, spaces, tabs and newlines only.

    The parsers' fast paths take only such text: there `str.split()` splits exactly where
    the reference regexes' `\\s` (re.ASCII) matches, `str.splitlines()` only at `\\n`, and
    `str.isdigit()` is `\\d`. Any other text goes to the reference parser.
    """
    return _NOT_PLAIN.search(text) is None


def line_count(text: str) -> int:
    """The number of lines of `text`, blank ones included (a last line without its newline counts)."""
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def is_int(token: str) -> bool:
    """`-?\\d+` on a token of plain() text."""
    return token.isdigit() or (token[:1] == "-" and token[1:].isdigit())


_MAX_KNOWN = 4096


def valid_name(name: str, pattern: re.Pattern[str], known: set[str]) -> bool:
    """pattern.fullmatch(name), remembered in `known` for the next call.

    Kernel files repeat the same few hundred names on every read; `known` stops growing at
    _MAX_KNOWN names so that odd input cannot grow it without bound.
    """
    if name in known:
        return True
    if pattern.fullmatch(name) is None:
        return False
    if len(known) < _MAX_KNOWN:
        known.add(name)
    return True


def to_int(token: str, path: str, no: int, line: str, expected: str) -> int:
    """int(token) for a plain decimal (optionally negative) or raise ParseError."""
    body = token[1:] if token.startswith("-") else token
    if not body.isascii() or not body.isdigit():
        raise ParseError(path, no, line, expected)
    return int(token)


def require(cond: bool, path: str, no: int, line: str, expected: str) -> None:
    if not cond:
        raise ParseError(path, no, line, expected)
