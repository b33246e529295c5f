"""Directory sources: the live root `/` and any directory laid out like a root."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from memstall.errors import SourceUnavailable
from memstall.sources._paths import clean_rel, glob_over


class DirSource:
    """Reads files below a directory. With root '/' this is the running kernel."""

    def __init__(self, root: str, label: str | None = None) -> None:
        self._root = Path(root)
        self._label = label or root
        self._live = os.path.realpath(root) == "/"

    @property
    def label(self) -> str:
        return self._label

    @property
    def is_live(self) -> bool:
        return self._live

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, rel: str) -> Path:
        return self._root / clean_rel(rel)

    def read_text(self, rel: str) -> str:
        try:
            data = self._path(rel).read_bytes()
        except FileNotFoundError:
            raise SourceUnavailable(rel, "no such file") from None
        except PermissionError:
            raise SourceUnavailable(rel, "permission denied", hint="run as root") from None
        except IsADirectoryError:
            raise SourceUnavailable(rel, "is a directory, expected a file") from None
        except OSError as err:
            if err.errno in (errno.EINVAL, errno.EIO, errno.ENODEV):
                raise SourceUnavailable(rel, f"cannot be read ({err.strerror})") from None
            raise SourceUnavailable(rel, err.strerror or str(err)) from None
        # /proc text is ASCII; a bad byte must become a parse error, not a crash.
        return data.decode("utf-8", errors="replace")

    def exists(self, rel: str) -> bool:
        return self._path(rel).exists()

    def is_dir(self, rel: str) -> bool:
        return self._path(rel).is_dir()

    def list_dir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self._path(rel)))
        except OSError:
            return []

    def glob(self, pattern: str) -> list[str]:
        return glob_over(pattern, self.list_dir, self.is_dir)

    def notes(self) -> list[str]:
        return []
