"""Apply a plan as one transaction; roll a transaction back; confirm a --revert-after.

apply: back up every value (and the old drop-in) durably, then for each change write
/proc/sys, read it back and compare; on the first failure restore everything already
changed and raise ApplyError saying what was restored. --persist then writes the
drop-in atomically (a failure there restores the values too).

Restoring writes the backed-up bytes of every key whose current bytes differ, then
reads each back. dirty_bytes/dirty_ratio (and the background pair) are restored
non-zero member first: the kernel zeroes the partner itself, and refuses a 0 write to
dirty_bytes (its minimum is two pages).
"""

from __future__ import annotations

import errno
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from memstall.advice.tuning import Change, Plan
from memstall.analysis.sysctl_origin import MEMSTALL_DROP_IN, PARTNERS
from memstall.errors import ApplyError, MemstallError, UsageError
from memstall.model.sysctl_conf import swap_separators
from memstall.model.tuning import Tx, TxChange, TxPersist
from memstall.tune import rootfs
from memstall.tune.fsio import atomic_write
from memstall.tune.persist import read_drop_in, render_drop_in, sha256, write_drop_in
from memstall.tune.procsys import ProcSys, same_value
from memstall.tune.safety import TUNABLE_KEY
from memstall.tune.store import DROP_IN_BACKUP, Store, new_id

EDITED_DROP_IN = "edited-drop-in"


@dataclass(frozen=True)
class Restored:
    restored: tuple[str, ...]
    """'vm.x = 10' for every value put back (or found already back)."""
    failed: tuple[str, ...]
    drop_in: str | None = None
    """What happened to the drop-in, in words."""


class _Mismatch(Exception):
    pass


def _backup_keys(changes: Sequence[Change]) -> list[str]:
    keys = [c.key for c in changes]
    for c in changes:
        partner = PARTNERS.get(c.key)
        if partner and partner not in keys:
            keys.append(partner)
    return keys


def _start(plan: Plan, procsys: ProcSys, store: Store, persist: bool) -> tuple[Tx, bytes | None]:
    changes = plan.to_write()
    keys = _backup_keys(changes)
    backups = {str(i): procsys.read(k) for i, k in enumerate(keys)}
    after = {c.key: c.proposed for c in changes}
    old_drop_in: bytes | None = None
    tx_persist = None
    if persist:
        old_drop_in, _ = read_drop_in(procsys.root)  # strict parse: a broken file stops here
        mode = None
        if old_drop_in is not None:
            mode = rootfs.stat(procsys.root, MEMSTALL_DROP_IN).st_mode & 0o7777
        tx_persist = TxPersist(MEMSTALL_DROP_IN, old_drop_in is not None, mode)
    now = time.time()
    tx = Tx(new_id(now), now, plan.root, plan.kernel_release, "applying",
            tuple(TxChange(k, after.get(k), str(i), backups[str(i)].decode(errors="replace").strip())
                  for i, k in enumerate(keys)),
            persist=tx_persist, rationale={c.key: c.rationale for c in changes})
    tx = tx.with_event("backups written; applying")
    store.create(tx, backups, old_drop_in)
    procsys.hooks.step("after-backup")
    return tx, old_drop_in


def _restore_order(tx: Tx, store: Store) -> list[tuple[TxChange, bytes]]:
    items = [(c, store.backup(tx.id, c.backup)) for c in tx.changes]
    present = [(c, b) for c, b in items if b is not None]
    # Non-zero members of a coupled pair first: the kernel then zeroes the other itself.
    return sorted(present, key=lambda cb: cb[0].key in PARTNERS and cb[1].split() == [b"0"])


def _ours(tx: Tx, store: Store) -> frozenset[str]:
    """Keys this transaction may restore: the ones it logged before writing them, and the
    partners the kernel changes with them; only ever keys tune may write (vm.*)."""
    logged = store.written_keys(tx.id) & {c.key for c in tx.written}
    keys = logged | {PARTNERS[k] for k in logged if k in PARTNERS}
    return frozenset(k for k in keys if TUNABLE_KEY.fullmatch(k))


def restore_values(tx: Tx, store: Store, procsys: ProcSys) -> tuple[list[str], list[str]]:
    restored, failed = [], []
    ours = _ours(tx, store)
    for change, data in _restore_order(tx, store):
        label = f"{swap_separators(change.key)} = {change.before_text}"
        try:
            if change.key not in ours:  # never written by this transaction: only say if it is back
                if TUNABLE_KEY.fullmatch(change.key) and same_value(procsys.read(change.key), data):
                    restored.append(label)
                continue
            if procsys.read(change.key) != data:
                procsys.write_raw(change.key, data)
            if procsys.read(change.key) != data and not same_value(procsys.read(change.key), data):
                raise _Mismatch(procsys.read(change.key).decode(errors="replace").strip())
            restored.append(label)
        except (OSError, MemstallError, _Mismatch) as err:
            failed.append(f"{label} ({err})")
    return restored, failed


def restore_drop_in(tx: Tx, store: Store, root: Path) -> str | None:
    """Put the drop-in back as it was before `tx`; raises OSError when the directory cannot
    be written (full, read-only). A file already as it was is left alone (a failed persist
    never replaced it): a read-only etc/sysctl.d must not turn that into an error."""
    if tx.persist is None:
        return None
    old = store.backup(tx.id, DROP_IN_BACKUP)
    rel = MEMSTALL_DROP_IN  # the only file tune persists to, whatever a record says
    current = rootfs.read_bytes(root, rel)
    if current == old:
        return f"{rel} stays absent" if old is None else f"the previous {rel} is in place"
    kept = _keep_edited(tx, store, root)
    if old is None:
        done = f"removed {rel}" if rootfs.remove(root, rel) else f"{rel} stays absent"
        return done + kept
    rootfs.atomic_write(root, rel, old, (tx.persist.mode or 0o644) & 0o777)
    return f"restored the previous {tx.persist.path}{kept}"


def _restore_all(tx: Tx, store: Store, procsys: ProcSys) -> tuple[list[str], list[str], str | None]:
    """Values, then the drop-in; what could not be restored is listed, never raised."""
    restored, failed = restore_values(tx, store, procsys)
    try:
        drop = restore_drop_in(tx, store, procsys.root)
    except (OSError, MemstallError) as err:
        drop = None
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        failed.append(f"{MEMSTALL_DROP_IN} ({reason})")
    return restored, failed, drop


def _keep_edited(tx: Tx, store: Store, root: Path) -> str:
    """Someone edited the drop-in after this transaction wrote it: keep their version."""
    written = tx.persist.written_sha256 if tx.persist else None
    current = rootfs.read_bytes(root, MEMSTALL_DROP_IN)
    if written is None or current is None or sha256(current) == written:
        return ""
    saved = store.path(tx.id) / EDITED_DROP_IN
    atomic_write(saved, current, 0o600)
    return f" (it had been edited since {tx.id}; the edited copy is {saved})"


def _fail(tx: Tx, store: Store, procsys: ProcSys, what: str) -> ApplyError:
    """Undo what `tx` wrote and close it ('failed'); the error says what was restored."""
    restored, failed, drop = _restore_all(tx, store, procsys)
    tx = tx.with_event(f"failed: {what}; restored {len(restored)}, could not restore {len(failed)}",
                       status="failed")
    msg = f"{what}; transaction {tx.id} undone: restored " + (", ".join(restored) or "nothing")
    if drop:
        msg += f"; {drop}"
    if failed:
        msg += "; COULD NOT RESTORE " + ", ".join(failed)
    try:
        store.save(tx)
    except OSError as err:  # the state dir sits on the same full disk: say the record is stale
        msg += f"; its record still says 'applying' ({err.strerror or err})"
    return ApplyError(msg, hint=None if not failed else f"backups are in {store.path(tx.id)}/before")


def _write_one(procsys: ProcSys, store: Store, tx: Tx, change: Change) -> None:
    store.log_write(tx.id, change.key)
    procsys.write(change.key, change.proposed)
    got = procsys.read(change.key)
    if not same_value(got, change.proposed):
        raise _Mismatch(f"read back {got.decode(errors='replace').strip()!r}")


def _persist(tx: Tx, plan: Plan, procsys: ProcSys) -> Tx:
    _, conf = read_drop_in(procsys.root)
    values = dict(conf.values()) if conf else {}
    for c in plan.changes:  # unchanged values are persisted too: that is the point of --persist
        values[c.key] = c.proposed
    data = render_drop_in(values, {c.key: c.rationale for c in plan.changes}, tx.id)
    procsys.hooks.step("before-persist")
    write_drop_in(procsys.root, data)
    procsys.hooks.step("after-persist")
    assert tx.persist is not None
    written = replace(tx.persist, written_sha256=sha256(data))
    return tx.with_event(f"wrote {MEMSTALL_DROP_IN}", persist=written)


def apply(plan: Plan, procsys: ProcSys, store: Store, persist: bool, force: bool) -> Tx:
    """Write the plan; returns the transaction (status 'applied') or raises ApplyError."""
    blocking = plan.blocking(force)
    if blocking:
        raise UsageError("refused: " + "; ".join(str(r) for r in blocking))
    if not plan.to_write() and not persist:
        raise UsageError("nothing to apply: every value is already in place",
                         hint="add --persist to write them to etc/sysctl.d/90-memstall.conf")
    drop_in_path = procsys.root / MEMSTALL_DROP_IN
    if persist and drop_in_path.is_symlink():
        raise ApplyError(f"{MEMSTALL_DROP_IN} is a symlink (to {drop_in_path.readlink()}): refusing to "
                         "write through it; nothing was changed", hint="remove the link first")
    try:
        tx, _ = _start(plan, procsys, store, persist)
    except OSError as err:  # the backups are not safe on disk: write nothing
        raise ApplyError(f"saving the backups under {store.dir} failed: {err.strerror or err}; "
                         "nothing was changed") from None
    for change in plan.to_write():
        try:
            _write_one(procsys, store, tx, change)
        except (OSError, _Mismatch) as err:
            reason, code = str(err), ""
            if isinstance(err, OSError):
                reason = err.strerror or str(err)
                code = f" [{errno.errorcode.get(err.errno, err.errno)}]" if err.errno else ""
            raise _fail(tx, store, procsys, f"writing {change.name} = {change.proposed} failed: "
                                            f"{reason}{code}") from None
    if persist:
        try:
            tx = _persist(tx, plan, procsys)
        except (OSError, MemstallError) as err:
            raise _fail(tx, store, procsys, f"writing {MEMSTALL_DROP_IN} failed: {err}") from None
    tx = tx.with_event("applied", status="applied")
    store.save(tx)
    return tx


def latest_applied(store: Store) -> Tx | None:
    live = [t for t in store.all() if t.status in ("applied", "applying")]
    return live[-1] if live else None


def rollback(store: Store, procsys: ProcSys, tx_id: str | None, force: bool, why: str) -> tuple[Tx, Restored]:
    txs = store.all()
    tx = store.load(tx_id) if tx_id else latest_applied(store)
    if tx is None:
        raise UsageError(f"nothing to roll back: no applied transaction in {store.dir}")
    if tx.status in ("rolled-back", "failed"):
        raise UsageError(f"transaction {tx.id} is {tx.status}: its old values are already back")
    later = [t for t in txs if (t.created, t.id) > (tx.created, tx.id) and t.status in ("applied", "applying")
             and {c.key for c in t.changes} & {c.key for c in tx.changes}]
    if later and not force:
        raise UsageError(f"transaction {later[-1].id} changed the same keys after {tx.id}",
                         hint=f"roll it back first (`memstall tune rollback {later[-1].id}`), or use --force")
    restored, failed, drop = _restore_all(tx, store, procsys)
    status = "rolled-back" if not failed else tx.status
    tx = tx.with_event(f"rolled back ({why}): restored {len(restored)}, failed {len(failed)}", status=status)
    store.save(tx)
    result = Restored(tuple(restored), tuple(failed), drop)
    if failed:
        raise ApplyError(f"rollback of {tx.id} incomplete: restored {', '.join(restored) or 'nothing'}; "
                         "could not restore " + ", ".join(failed),
                         hint=f"backups are in {store.path(tx.id)}/before")
    return tx, result
