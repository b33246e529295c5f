"""Small helpers shared by the parsers: numbered lines and checked integer conversion."""

from __future__ import annotations

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


def to_int(token: str, path: str, no: int, line: str, expected: str) -> int:
    """int(token) for a plain decimal (optionally negative) or raise ParseError."""
    body = token[1:] if token.startswith("-") else token
    if not body.isascii() or not body.isdigit():
        raise ParseError(path, no, line, expected)
    return int(token)


def require(cond: bool, path: str, no: int, line: str, expected: str) -> None:
    if not cond:
        raise ParseError(path, no, line, expected)
