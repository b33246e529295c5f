"""Open the recorder's database: WAL, schema version and migrations, one clear error for
every way it can fail, and the single-recorder lock.

Every sqlite3 error becomes a `StoreError` (one line naming the database): a full disk, a
read-only file, a locked database, a file that is not a database, a newer schema. A
recorder holds an flock(2) on the database file itself for as long as it runs, so a second
recorder refuses at once (SQLite's own locks are fcntl(2) byte ranges, a separate kind on
Linux; the descriptor stays open until after SQLite closed its own, see `Db.close`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from memstall.errors import InputError
from memstall.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 2000
"""How long a write waits for another writer (an import, a sqlite3 shell) before failing."""


class StoreError(InputError):
    """The database cannot be used: one line, the path first."""


def _reason(err: sqlite3.Error) -> tuple[str, str | None]:
    text = str(err)
    if "disk is full" in text or "disk I/O error" in text:
        return text, "free some space, or shorten --retention"
    if "readonly" in text or "read-only" in text:
        return "read-only: " + text, "give a --db this user can write"
    if "locked" in text or "busy" in text:
        return text, "another process holds a write lock on it; wait, or use another --db"
    if "not a database" in text or "malformed" in text:
        return text, "it is not a memstall database (or it is damaged): give another --db"
    return text, None


def store_error(path: str, err: sqlite3.Error) -> StoreError:
    reason, hint = _reason(err)
    return StoreError(f"{path}: {reason}", hint=hint)


@contextlib.contextmanager
def translated(path: str) -> Iterator[None]:
    """sqlite3 errors inside become StoreError naming `path`."""
    try:
        yield
    except sqlite3.Error as err:
        raise store_error(path, err) from None


class Db:
    """A connection in WAL mode at the current schema (migrated if older)."""

    def __init__(self, path: str, *, write: bool) -> None:
        self.path = path
        self.write = write
        self._lock_fd: int | None = None
        if not write and not Path(path).exists():
            raise StoreError(f"{path}: no such database", hint="record one with `memstall record --db`")
        with translated(path):
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            with translated(path):
                self._prepare()
        except StoreError as err:
            self.conn.close()
            if write or "unable to open" not in err.message:
                raise
            # A WAL database on a read-only filesystem (a copy on a mounted image, say): SQLite
            # cannot create its -shm file, so read it as an immutable file (nothing writes there).
            with translated(path):
                uri = Path(path).absolute().as_uri() + "?immutable=1"
                self.conn = sqlite3.connect(uri, uri=True, isolation_level=None)
                self._prepare()
        except BaseException:
            self.conn.close()
            raise

    def _prepare(self) -> None:
        c = self.conn
        version = int(c.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer memstall (schema {version}; this one "
                f"knows up to {SCHEMA_VERSION})",
                hint="upgrade memstall to read it",
            )
        if not self.write:
            if version < SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: "
                    + (
                        "not a memstall database (no schema)"
                        if version == 0
                        else f"schema {version} is older than {SCHEMA_VERSION}"
                    ),
                    hint="open it once with `memstall record --db` to migrate it"
                    if version
                    else "record one with `memstall record --db`",
                )
            return
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash never corrupts, loses at most the last commits
        if version == 0:
            c.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only takes effect before the first table
        self.migrate(version)

    def migrate(self, version: int) -> None:
        """Bring the schema from `version` to SCHEMA_VERSION, one step per transaction."""
        while version < SCHEMA_VERSION:
            with self.transaction():
                for stmt in MIGRATIONS[version].split(";"):
                    if stmt.strip():
                        self.conn.execute(stmt)
                version += 1
                self.conn.execute(f"PRAGMA user_version={version}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with translated(self.path):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def lock_recorder(self) -> None:
        """Refuse when another recorder writes to this database."""
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"{self.path}: another memstall record is writing to it",
                hint="stop it first, or record into another --db",
            ) from None
        self._lock_fd = fd

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        if self._lock_fd is not None:  # after SQLite's close: closing an fd drops fcntl locks
            os.close(self._lock_fd)
            self._lock_fd = None


__all__ = ["BUSY_TIMEOUT_MS", "Db", "StoreError", "store_error", "translated"]
