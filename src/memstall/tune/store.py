"""Transactions under --state-dir (default ROOT/var/lib/memstall): records and backups.

Layout::

    <state>/lock                       flock(2) held by apply, rollback, confirm, revert
    <state>/tx/<id>/tx.json            the record (format memstall.tune.tx/1)
    <state>/tx/<id>/before/<n>         the exact bytes of each /proc/sys file before the change
    <state>/tx/<id>/before/drop-in     the old 90-memstall.conf (absent: the file did not exist)
    <state>/tx/<id>/edited-drop-in     rollback's copy of our drop-in if it was edited since

A transaction directory is built under a temporary name, every file fsync'ed, then
renamed into place and the parent fsync'ed: once it exists, its backups are complete
and on disk. Nothing is written to /proc/sys before that.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import stat
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from memstall.errors import InputError, SourceUnavailable, UsageError
from memstall.model.tuning import Tx
from memstall.tune.fsio import atomic_write, fsync_dir

DROP_IN_BACKUP = "drop-in"
WRITE_LOG = "written"
"""tx/<id>/written: each key, appended and fsync'ed just before memstall writes it."""


def check_private(path: Path, is_dir: bool) -> None:
    """Refuse a state directory or file another user could have written: root's rollback
    would otherwise write whatever key and value a rewritten tx.json lists."""
    try:
        st = path.stat() if is_dir else path.lstat()
    except OSError:  # absent, or not reachable: creating or reading it reports why
        return
    what = "directory" if is_dir else "file"
    if not is_dir and not stat.S_ISREG(st.st_mode):
        problem = "is not a regular file"
    elif st.st_uid != os.geteuid():
        problem = f"is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})"
    elif st.st_mode & 0o022:
        problem = f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    else:
        return
    raise UsageError(f"state {what} {path} {problem}: refusing to trust the transactions in it",
                     hint="chown it to this user and chmod go-w it, or use another --state-dir")


def new_id(now: float | None = None) -> str:
    """Sortable by time to the microsecond: 20261126T043012.123456Z-3f9a."""
    now = time.time() if now is None else now
    micros = int(now * 1_000_000) % 1_000_000
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{micros:06d}Z-" + secrets.token_hex(2)


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir)
        self.tx_dir = self.dir / "tx"

    @contextlib.contextmanager
    def lock(self, wait_seconds: float = 0.0, create: bool = False) -> Iterator[None]:
        """Exclusive lock of the state directory; waits up to `wait_seconds` for it.

        Only `apply` creates the directory (`create`): rollback, confirm and the revert
        timer or watcher find it or stop, so a mistyped --root or a deleted state dir
        never grows a new ROOT/var/lib/memstall."""
        check_private(self.dir, is_dir=True)
        check_private(self.tx_dir, is_dir=True)
        if not create and not self.dir.is_dir():
            raise InputError(f"no memstall transactions in {self.dir}: it does not exist",
                             hint="check --root and --state-dir (nothing was created)")
        try:
            if create:
                self.tx_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as err:
            raise SourceUnavailable(str(self.dir), f"cannot keep transactions here ({err.strerror or err})",
                                    hint="--state-dir takes a writable directory") from None
        try:
            give_up = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= give_up:
                        raise UsageError(f"{self.dir} is locked by another memstall tune command",
                                         hint="wait for it to finish") from None
                    time.sleep(0.2)
            yield
        finally:
            os.close(fd)

    def path(self, tx_id: str) -> Path:
        if not tx_id or "/" in tx_id or tx_id.startswith("."):
            raise UsageError(f"not a transaction id: {tx_id!r}")
        return self.tx_dir / tx_id

    def create(self, tx: Tx, backups: Mapping[str, bytes], drop_in: bytes | None) -> None:
        final = self.path(tx.id)
        tmp = self.tx_dir / f".{tx.id}.tmp"
        (tmp / "before").mkdir(parents=True)
        try:
            for name, data in backups.items():
                atomic_write(tmp / "before" / name, data, 0o600)
            if drop_in is not None:
                atomic_write(tmp / "before" / DROP_IN_BACKUP, drop_in, 0o600)
            atomic_write(tmp / "tx.json", tx.to_json().encode(), 0o600)
            fsync_dir(tmp)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_dir(self.tx_dir)

    def save(self, tx: Tx) -> None:
        atomic_write(self.path(tx.id) / "tx.json", tx.to_json().encode(), 0o600)

    def log_write(self, tx_id: str, key: str) -> None:
        """Record, durably and before the write, that this transaction writes `key`."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
        fd = os.open(self.path(tx_id) / WRITE_LOG, flags, 0o600)
        try:
            os.write(fd, key.encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    def written_keys(self, tx_id: str) -> frozenset[str]:
        """The keys this transaction logged as written (see log_write)."""
        path = self.path(tx_id) / WRITE_LOG
        check_private(path, is_dir=False)
        try:
            return frozenset(path.read_text().split())
        except FileNotFoundError:
            return frozenset()

    def load(self, tx_id: str) -> Tx:
        path = self.path(tx_id) / "tx.json"
        check_private(self.dir, is_dir=True)
        check_private(self.path(tx_id), is_dir=True)
        check_private(path, is_dir=False)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise UsageError(f"no transaction {tx_id} in {self.dir}",
                             hint="`memstall tune history` lists them") from None
        return Tx.from_json(text, str(path))

    def backup(self, tx_id: str, name: str) -> bytes | None:
        check_private(self.path(tx_id) / "before" / name, is_dir=False)
        try:
            return (self.path(tx_id) / "before" / name).read_bytes()
        except FileNotFoundError:
            return None

    def all(self) -> list[Tx]:
        if not self.tx_dir.is_dir():
            return []
        ids = [p.name for p in self.tx_dir.iterdir() if not p.name.startswith(".")]
        txs = [self.load(i) for i in ids if (self.tx_dir / i / "tx.json").exists()]
        return sorted(txs, key=lambda t: (t.created, t.id))
