"""The Source protocol: a read-only root filesystem, live or captured."""

from __future__ import annotations

from typing import BinaryIO, Protocol


class Source(Protocol):
    """A root filesystem (live or captured), read-only."""

    @property
    def label(self) -> str:
        """What the user passed as --root, for messages."""

    @property
    def is_live(self) -> bool:
        """True when reading the running kernel (rates can be sampled)."""

    def read_text(self, rel: str) -> str:
        """The whole file as text; raises SourceUnavailable."""

    def open_stream(self, rel: str) -> tuple[BinaryIO, int]:
        """A file opened to be read as a stream (a kernel log: never held whole in memory) and
        its size in bytes as stored (compressed or not); raises SourceUnavailable."""

    def exists(self, rel: str) -> bool: ...

    def readlink(self, rel: str) -> str | None:
        """The target of the symbolic link at `rel` as stored (not followed); None when `rel`
        is not a link. sysctl.d precedence needs it: a link to /dev/null masks a file."""

    def list_dir(self, rel: str) -> list[str]:
        """Sorted names in a directory; [] when it does not exist."""

    def glob(self, pattern: str) -> list[str]:
        """Sorted relative paths matching an fnmatch pattern (one '*' per component)."""

    def notes(self) -> list[str]:
        """What this source lacks or replaced (sosreport gaps...), for the user."""

