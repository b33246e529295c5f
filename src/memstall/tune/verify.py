"""Drift between what memstall applied, what the kernel runs and what boot will apply."""

from __future__ import annotations

import time

from memstall.analysis.sysctl_origin import MEMSTALL_DROP_IN, PARTNERS, boot_order, key_origin, zeroed_by
from memstall.errors import SourceUnavailable
from memstall.model.sysctl_conf import swap_separators
from memstall.model.tuning import KeyDrift, Tx, VerifyReport
from memstall.sources import Source
from memstall.tune.persist import read_conf_files, read_drop_in, sha256
from memstall.tune.procsys import ProcSys, same_value
from memstall.tune.store import Store


def _applied(txs: list[Tx]) -> dict[str, tuple[str, Tx]]:
    out: dict[str, tuple[str, Tx]] = {}
    for tx in txs:
        if tx.status == "applied":
            for c in tx.written:
                out[c.key] = (c.after or "", tx)
    return out


def _key_problems(applied: str | None, tx: Tx | None, running: str | None, boot: str | None,
                  boot_from: str | None) -> list[str]:
    out: list[str] = []
    if applied is None:
        return out if running is None or boot is None or same_value(running, boot) else [
            f"running {running} differs from the boot value {boot} ({boot_from})"]
    if running is None:
        out.append("cannot read the running value")
    elif not same_value(running, applied):
        out.append(f"running {running}, not the {applied} memstall applied in {tx.id if tx else '?'}")
    if boot is None:
        persisted = tx is not None and tx.persist is not None
        out.append("no sysctl.d file sets it: the kernel default returns at reboot"
                   + ("" if persisted else " (applied without --persist)"))
    elif not same_value(boot, applied):
        out.append(f"at boot {boot_from} sets {boot}")
    return out


# The timer/watcher takes the state lock after its deadline (it may wait for another tune
# command); only a revert this late is one that will not happen.
REVERT_GRACE_SECONDS = 150.0


def _revert_overdue(tx: Tx) -> str | None:
    r = tx.revert
    late = time.time() - r.deadline if r else 0.0
    if r is None or r.confirmed or tx.status != "applied" or late <= REVERT_GRACE_SECONDS:
        return None
    return (f"transaction {tx.id}: the automatic rollback ({r.mechanism} {r.handle}) was due {late:.0f}s "
            f"ago and did not run: `memstall tune rollback {tx.id}` or `memstall tune confirm {tx.id}`")


def verify(store: Store, procsys: ProcSys, source: Source) -> VerifyReport:
    """`source` is the same root as `procsys`, read for the boot configuration."""
    txs = store.all()
    applied = _applied(txs)
    problems = [f"transaction {t.id} was interrupted while applying: run `memstall tune rollback {t.id}`"
                for t in txs if t.status == "applying"]
    problems += [p for p in map(_revert_overdue, txs) if p]
    data, conf = read_drop_in(procsys.root)
    last_persist = next((t.persist for t in reversed(txs)
                         if t.status == "applied" and t.persist and t.persist.written_sha256), None)
    if data is not None and last_persist is not None and sha256(data) != last_persist.written_sha256:
        problems.append(f"{MEMSTALL_DROP_IN} was edited since memstall wrote it")
    keys = list(applied) + [k for k in (conf.values() if conf else {}) if k not in applied]
    order = boot_order(read_conf_files(source))
    rows = []
    for key in keys:
        value, tx = applied.get(key, (None, None))
        try:
            running: str | None = procsys.read(key).decode(errors="replace").strip()
        except SourceUnavailable:
            running = None
        winner = key_origin(order, key).winner
        boot, boot_from = (winner.value, winner.where) if winner else (None, None)
        zeroed = zeroed_by(order, key, winner) if winner else None
        if zeroed is not None:  # a later dirty_ratio line zeroes dirty_bytes, and so on
            boot, boot_from = "0", f"{zeroed.where} ({swap_separators(PARTNERS[key])} = {zeroed.value})"
        rows.append(KeyDrift(key, value, tx.id if tx else None, running, boot, boot_from,
                             tuple(_key_problems(value, tx, running, boot, boot_from))))
    return VerifyReport(tuple(rows), tuple(problems))
