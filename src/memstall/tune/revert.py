"""--revert-after N: roll back automatically unless `memstall tune confirm ID` runs in time.

The rollback must happen even if memstall itself is killed right after applying, so it
runs in another process:

- **systemd-run timer** when systemd is PID 1 (and --root is /): a transient
  `memstall-revert-<id>.timer` (`systemd-run --on-active=Ns`) starts
  `memstall tune revert-due <id>`; systemd owns it, so killing memstall, logging out or
  closing the terminal does not cancel it.
- **detached watcher** otherwise (containers, chroots, --root trees): a child started in
  its own session (setsid) through a short-lived launcher, so it is re-parented to init
  and survives SIGKILL of memstall and SIGHUP of the terminal. It does not survive a
  reboot, but a reboot loses the un-persisted values anyway, and the boot values come
  from sysctl.d, which the rollback restores only if --persist was used: say so.

`tune confirm` marks the record confirmed (the timer/watcher then does nothing) and
stops the timer or the watcher (after checking the pid still runs our command line).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from memstall.errors import ApplyError, UsageError
from memstall.model.tuning import Tx, TxRevert
from memstall.tune.procsys import ProcSys
from memstall.tune.store import Store
from memstall.tune.transaction import rollback

SYSTEMD = "systemd-run timer"
WATCHER = "detached watcher"
_LAUNCH = ("import subprocess, sys\n"
           "p = subprocess.Popen(sys.argv[1:], start_new_session=True, stdin=subprocess.DEVNULL,"
           " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)\n"
           "print(p.pid)\n")


def systemd_is_pid1() -> bool:
    try:
        comm = Path("/proc/1/comm").read_text().strip()
    except OSError:
        return False
    booted = Path("/run/systemd/system").is_dir()
    return comm == "systemd" and booted and shutil.which("systemd-run") is not None


def choose(mechanism: str, root: Path) -> str:
    """'auto' -> the systemd timer when systemd runs this host and --root is /, else the watcher."""
    live = os.path.realpath(root) == "/"
    if mechanism == "systemd":
        if not (live and systemd_is_pid1()):
            raise UsageError("--revert-with systemd needs systemd as PID 1 and --root /")
        return SYSTEMD
    if mechanism == "watcher":
        return WATCHER
    return SYSTEMD if live and systemd_is_pid1() else WATCHER


def _command(tx: Tx, store: Store, root: Path) -> list[str]:
    # Absolute paths: the timer/watcher does not run in this working directory.
    return [sys.executable, "-m", "memstall", "--root", str(Path(root).resolve()), "tune", "revert-due",
            tx.id, "--state-dir", str(store.dir.resolve())]


def schedule(tx: Tx, store: Store, root: Path, seconds: int, mechanism: str) -> TxRevert:
    cmd = _command(tx, store, root)
    deadline = time.time() + seconds
    if mechanism == SYSTEMD:
        unit = f"memstall-revert-{tx.id}"
        r = subprocess.run(["systemd-run", f"--unit={unit}", f"--on-active={seconds}s",
                            "--timer-property=AccuracySec=1s",
                            f"--description=memstall: roll back {tx.id} unless confirmed", "--", *cmd],
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise ApplyError(f"systemd-run failed: {r.stderr.strip() or r.returncode}")
        return TxRevert(seconds, deadline, SYSTEMD, unit)
    r = subprocess.run([sys.executable, "-c", _LAUNCH, *cmd, "--wait-until", f"{deadline:.3f}"],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0 or not r.stdout.strip().isdigit():
        raise ApplyError(f"could not start the revert watcher: {r.stderr.strip() or r.returncode}")
    return TxRevert(seconds, deadline, WATCHER, r.stdout.strip())


def _is_our_watcher(pid: int, tx_id: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"revert-due" in cmdline and tx_id.encode() in cmdline


def cancel(revert: TxRevert, tx_id: str) -> str:
    """Stop the timer or watcher; best effort (the record is already marked confirmed)."""
    if revert.mechanism == SYSTEMD:
        r = subprocess.run(["systemctl", "stop", f"{revert.handle}.timer"],
                           capture_output=True, text=True, check=False)
        return f"stopped {revert.handle}.timer" if r.returncode == 0 else "the timer had already fired"
    if revert.handle.isdigit() and _is_our_watcher(int(revert.handle), tx_id):
        os.kill(int(revert.handle), signal.SIGTERM)
        return f"stopped watcher pid {revert.handle}"
    return "the watcher had already exited"


def log(message: str) -> None:
    """To syslog (the journal): the watcher's stdout and stderr go nowhere."""
    import syslog

    syslog.openlog("memstall", syslog.LOG_PID, syslog.LOG_USER)
    syslog.syslog(syslog.LOG_NOTICE, message)
    syslog.closelog()


def wait_until(deadline: float) -> None:
    while True:
        left = deadline - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 1.0))


def arm(tx: Tx, store: Store, procsys: ProcSys, seconds: int, mechanism: str) -> Tx:
    """Start the timer/watcher for an applied transaction; if that fails, roll back now."""
    tx = tx.with_event(f"arming {mechanism} for {seconds}s",
                       revert=TxRevert(seconds, time.time() + seconds, mechanism, "starting"))
    store.save(tx)
    try:
        revert = schedule(tx, store, procsys.root, seconds, mechanism)
    except ApplyError as err:
        _, result = rollback(store, procsys, tx.id, force=True, why="the revert timer could not start")
        raise ApplyError(f"{err}; rolled back {tx.id}: restored " + ", ".join(result.restored)) from None
    tx = tx.with_event(f"revert armed: {mechanism} {revert.handle}", revert=revert)
    store.save(tx)
    procsys.hooks.step("after-schedule")
    return tx


def confirm(store: Store, tx_id: str) -> tuple[Tx, str]:
    tx = store.load(tx_id)
    if tx.revert is None:
        raise UsageError(f"transaction {tx_id} was applied without --revert-after: nothing to confirm")
    if tx.status != "applied":
        raise UsageError(f"too late: transaction {tx_id} is {tx.status}",
                         hint="apply it again if you still want it")
    if tx.revert.confirmed:
        return tx, "already confirmed"
    tx = tx.with_event("confirmed", revert=replace(tx.revert, confirmed=True))
    store.save(tx)
    return tx, cancel(tx.revert, tx.id) if tx.revert else ""


def revert_due(store: Store, procsys: ProcSys, tx_id: str) -> str:
    """Run by the timer/watcher at the deadline: roll back unless confirmed."""
    tx = store.load(tx_id)
    if tx.revert is None or tx.revert.confirmed or tx.status not in ("applied", "applying"):
        return f"{tx_id}: nothing to do ({'confirmed' if tx.revert and tx.revert.confirmed else tx.status})"
    _, result = rollback(store, procsys, tx_id, force=True,
                         why=f"not confirmed within {tx.revert.seconds}s")
    return f"{tx_id}: rolled back, restored " + ", ".join(result.restored)
