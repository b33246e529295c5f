"""Learn a log's unknown per-line wrapper from the kernel's own fixed text.

`unwrap` knows the common wrappers; anything else (a vendor console's `app| 00012 `, a
pasted log's line numbers, an Android kernel's per-line caller) would end up inside the
kernel text. Kernel report lines have anchors whose text the kernel fixes (`CPU: N PID: N`,
`Mem-Info:`, `Call Trace:`, `lowmem_reserve[]:`, `Node N Zone free:`, the buddy `N*4kB`
runs, `Hardware name:`). Whatever stands before an anchor on its line is the prefix; its
shape (the constant text kept; digit runs, hex runs, space padding and a one-letter column
such as a log level made variable) is a
regular expression that is then stripped from every line of the stream that starts with it.

>>> p = Prefix.learn("app| 00012 12:00:01.250 CPU: 3 PID: 42 Comm: kswapd0")
>>> p.remove("app| 00013 12:00:01.251 Mem-Info:")
'Mem-Info:'
>>> p.remove("Mem-Info:")
'Mem-Info:'
>>> Prefix.learn("  Call Trace:") is None
True
"""

from __future__ import annotations

import re

ANCHOR = re.compile(
    r"CPU: *\d+ +(?:UID: *\d+ +)?PID: *\d+ +Comm:|Pid: *\d+, comm:|Mem-[Ii]nfo:|Call [Tt]race:"
    r"|lowmem_reserve\[\]:|Node \d+ [A-Z]\w* free:\d|Node \d+ [A-Z]\w*: (?:\d+\*\d+kB|empty)"
    r"|Hardware name: |active_anon:\d+ inactive_anon:")
"""Text the kernel prints at the start of a report line (docs/kernel.md#mem-info-dump): never a wrapper's."""

MAX_PREFIX = 96
_TOKEN = re.compile(r"(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{6,}|\d+| +|.", re.S)
# A prefix holding what only a report line holds is a glued fragment of another line (the
# interleaved buddy runs of corpus 017), not a wrapper.
_KERNEL_TEXT = re.compile(r"\d\*\d|kB\b|free:|page allo|oom-killer")


def shape(prefix: str) -> str:
    """The regular expression a prefix stands for: constants literal, numbers variable."""
    out = []
    for m in _TOKEN.finditer(prefix):
        tok = m.group(0)
        if tok[0] == " ":
            out.append("\\ *")
        elif tok.isdigit():
            # a zero-padded counter keeps its width; other numbers (uptime, time) grow
            out.append(f"\\d{{{len(tok)},}}" if tok[0] == "0" and len(tok) > 1 else "\\d+")
        elif len(tok) > 1:
            out.append("[0-9a-fA-F]+")
        elif tok.isalpha() and tok.isascii() and _alone(prefix, m.start()):
            out.append("[A-Za-z]")  # a one-letter column: a log level (logcat's V/D/I/W/E/F)
        else:
            out.append(re.escape(tok))
    return "".join(out)


def _alone(text: str, at: int) -> bool:
    """The character at `at` stands between spaces (or at the start): a column of its own."""
    return (at == 0 or text[at - 1] == " ") and text[at + 1:at + 2] in (" ", "")


STAMP_IN = re.compile(r"\[ *(\d{1,12}\.\d{3,9})\]")
"""A dmesg uptime stamp standing inside a prefix or before a header's comm."""


def stamp_in(text: str) -> tuple[str, float] | None:
    """The last dmesg stamp in `text` (a learned prefix, the text before a header's comm)."""
    found = None
    for m in STAMP_IN.finditer(text):
        found = m
    return (found.group(1), float(found.group(1))) if found is not None else None


class Prefix:
    """A learned prefix shape (one per host stream)."""

    __slots__ = ("_rx", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._rx = re.compile(pattern)

    @classmethod
    def learn(cls, body: str) -> Prefix | None:
        """The prefix before the first anchor of `body`, or None (no anchor, or nothing but
        indentation before it, or something that is not a wrapper)."""
        m = ANCHOR.search(body)
        if m is None or m.start() == 0:
            return None
        prefix = body[: m.start()]
        if not prefix.strip() or len(prefix) > MAX_PREFIX or _KERNEL_TEXT.search(prefix):
            return None
        return cls(shape(prefix.lstrip()))

    def remove(self, body: str) -> str:
        return self.split(body)[1]

    def split(self, body: str) -> tuple[str, str]:
        """(the prefix, the kernel text); ('', body) when the line does not carry it."""
        text = body.lstrip(" ")
        m = self._rx.match(text)
        return (text[: m.end()], text[m.end():]) if m is not None and m.end() else ("", body)

    def matches(self, body: str) -> bool:
        m = self._rx.match(body.lstrip(" "))
        return m is not None and m.end() > 0
