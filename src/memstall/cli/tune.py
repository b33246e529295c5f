"""`memstall tune plan|apply|confirm|rollback|history|verify|export`."""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from memstall import specs
from memstall.advice.tuning import Plan, Request
from memstall.analysis.sysctl_limits import absent_reason, limits_for
from memstall.analysis.sysctl_origin import PrecedenceNote
from memstall.cli.args import seconds
from memstall.collect import load_state
from memstall.errors import ExitCode, MemstallError, UsageError
from memstall.model.state import SystemState
from memstall.model.sysctl_conf import swap_separators
from memstall.outputs import tune as out
from memstall.outputs.render.jsonout import dumps
from memstall.sources import Source, open_root
from memstall.tune import export as exporter
from memstall.tune import persist, plan, revert, rootfs, transaction
from memstall.tune.faults import active as active_faults
from memstall.tune.procsys import ProcSys
from memstall.tune.safety import KnobFacts
from memstall.tune.store import Store
from memstall.tune.verify import verify

DEFAULT_STATE = "var/lib/memstall"


def _root_debug() -> argparse.ArgumentParser:
    """--root and --debug without --format (export has its own --format)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--root", default=argparse.SUPPRESS, metavar="PATH", help="root to read and write")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return p


def _changes_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a sysctl to change, e.g. vm.watermark_scale_factor=20 (repeatable); "
                        "without --set, what `memstall diagnose` recommends")
    p.add_argument("--interval", type=seconds, default=5.0, metavar="SECONDS",
                   help="without --set: seconds between diagnose's two live samples (default 5)")
    p.add_argument("--force", action="store_true",
                   help="override judgement-call limits (never the kernel's range or read-only keys)")


def _state_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state-dir", metavar="DIR",
                   help=f"transactions and backups (default: ROOT/{DEFAULT_STATE})")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    t = subparsers.add_parser("tune", parents=[common], help="plan, apply, roll back and verify vm sysctls",
                              description="Change vm sysctls safely: dry-run plans, transactions with "
                                          "backups and read-back, persistence, rollback.")
    sub = t.add_subparsers(dest="tune_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("plan", parents=[common], help="show what would change (writes nothing)")
    _changes_options(p)
    p.add_argument("--persist", action="store_true", help="also show etc/sysctl.d precedence at boot")
    p.set_defaults(handler=run_plan)
    a = sub.add_parser("apply", parents=[common], help="apply the plan (only with --yes)")
    _changes_options(a)
    _state_option(a)
    a.add_argument("--yes", action="store_true", help="really write; without it this is `tune plan`")
    a.add_argument("--persist", action="store_true", help="also write etc/sysctl.d/90-memstall.conf")
    a.add_argument("--revert-after", type=int, metavar="SECONDS",
                   help="roll back automatically unless `tune confirm ID` runs in time")
    a.add_argument("--revert-with", choices=("auto", "systemd", "watcher"), default="auto",
                   help="how --revert-after survives memstall being killed (default: auto)")
    a.set_defaults(handler=run_apply)
    c = sub.add_parser("confirm", parents=[common], help="keep a --revert-after transaction")
    c.add_argument("id")
    _state_option(c)
    c.set_defaults(handler=run_confirm)
    r = sub.add_parser("rollback", parents=[common], help="restore the values before a transaction")
    r.add_argument("id", nargs="?", help="transaction id (default: the latest applied)")
    r.add_argument("--force", action="store_true", help="even if a later transaction changed the same keys")
    _state_option(r)
    r.set_defaults(handler=run_rollback)
    h = sub.add_parser("history", parents=[common], help="list transactions")
    _state_option(h)
    h.set_defaults(handler=run_history)
    v = sub.add_parser("verify", parents=[common],
                       help="drift between applied, running and boot values (exit 1 on drift)")
    _state_option(v)
    v.set_defaults(handler=run_verify)
    e = sub.add_parser("export", parents=[_root_debug()], help="print the plan as sysctl.d, tuned or ansible")
    e.add_argument("--format", dest="export_format", choices=exporter.FORMATS, default="sysctl")
    _changes_options(e)
    e.set_defaults(handler=run_export)
    d = sub.add_parser("revert-due", parents=[common],
                       help="internal: run by the --revert-after timer or watcher")
    d.add_argument("id")
    d.add_argument("--wait-until", type=float, default=0.0, help=argparse.SUPPRESS)
    _state_option(d)
    d.set_defaults(handler=run_revert_due)


def _writable_root(args: argparse.Namespace) -> Path:
    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"--root {args.root}: tune writes files, so it needs a directory "
                         "(a live / or an unpacked root), not a tarball")
    return root


def _procsys(args: argparse.Namespace) -> ProcSys:
    """ROOT/proc/sys for writing, with the faults a test injected (none in production)."""
    return ProcSys(_writable_root(args), active_faults())


def _source(args: argparse.Namespace) -> Source:
    """The root as a read-only Source (live, directory, tarball or sosreport), opened once."""
    if getattr(args, "opened_source", None) is None:
        args.opened_source = open_root(args.root)
    source: Source = args.opened_source
    return source


def _store(args: argparse.Namespace) -> Store:
    if args.state_dir:
        return Store(Path(args.state_dir))
    if Path(args.root).is_dir():  # ROOT/var/lib/memstall: no link inside the root may lead out
        rootfs.check_dir(Path(args.root), DEFAULT_STATE)
    return Store(Path(args.root) / DEFAULT_STATE)


def _facts(args: argparse.Namespace, state: SystemState, for_write: bool,
           assumed: list[str]) -> Callable[[str], KnobFacts]:
    """What the root says about each knob. A capture (tarball, or a directory with a
    MANIFEST.json) holds only some of proc/sys: for a plan, a knob it lacks but that this
    kernel version has is assumed present (and `assumed` says so); apply never assumes."""
    root = Path(args.root)
    procsys = ProcSys(root) if root.is_dir() else None
    capture = not for_write and (procsys is None or (root / specs.MANIFEST).exists())

    def facts(key: str) -> KnobFacts:
        if procsys is not None:
            f = procsys.probe(key)
            found = KnobFacts(key, f.exists, f.regular, f.writable)
        else:
            vm = state.sysctl_vm
            found = KnobFacts(key, vm is not None and key.startswith("vm/") and vm.text(key[3:]) is not None)
        name = swap_separators(key)
        if (found.exists or not capture or limits_for(name, state.kernel) is None
                or absent_reason(name, state.kernel) is not None):
            return found
        assumed.append(f"{name} is not in this capture; checked against memstall's range for "
                       f"Linux {state.kernel or 'unknown'} instead")
        return KnobFacts(key, True)
    return facts


def _diagnosed(args: argparse.Namespace) -> tuple[SystemState, list[Request], list[str]]:
    """diagnose's recommendations for this root, as plan requests."""
    from memstall.advice.recommend import recommend
    from memstall.pipeline.root_inputs import inputs_from_root
    from memstall.rules import run_rules

    inputs, _ = inputs_from_root(args.root, args.interval)
    advice = recommend(run_rules(inputs), inputs)
    requests, left_out = plan.from_recommendations(advice.recommendations)
    notes = [*left_out, *advice.notes]
    if not requests:
        why = "; ".join(notes) if notes else "no finding calls for a sysctl change"
        raise UsageError(f"memstall diagnose recommends no sysctl change here ({why})",
                         hint="pass --set KEY=VALUE to plan a change of your own")
    return inputs.state, requests, notes


def _build(args: argparse.Namespace, for_write: bool = False) -> Plan:
    notes: list[str] = []
    if args.set:
        state = load_state(_source(args))
        requests = [plan.parse_assignment(s) for s in args.set]
    else:
        state, requests, notes = _diagnosed(args)
    assumed: list[str] = []
    built = plan.build_plan(state, requests, _facts(args, state, for_write, assumed), args.root)
    return replace(built, notes=(*built.notes, *assumed, *notes))


def _precedence(args: argparse.Namespace, p: Plan) -> tuple[PrecedenceNote, ...]:
    """--persist: what boot would apply, read through the root's Source (a tarball too)."""
    if not args.persist:
        return ()
    source = _source(args)
    values = persist.drop_in_values(source)
    values.update({c.key: c.proposed for c in p.changes})
    return persist.precedence(source, values)


def _show_plan(args: argparse.Namespace, io: Any, p: Plan, notes: Any) -> None:
    if args.format == "json":
        io.stdout.write(dumps(out.plan_doc(p, args.force, notes)))
    else:
        io.stdout.write(out.plan_text(p, args.force, notes))


def run_plan(args: argparse.Namespace, io: Any) -> int:
    p = _build(args)
    _show_plan(args, io, p, _precedence(args, p))
    return int(ExitCode.WARNING) if p.blocking(args.force) else 0


def run_apply(args: argparse.Namespace, io: Any) -> int:
    p = _build(args, for_write=bool(args.yes))
    notes = _precedence(args, p)
    if not args.yes:
        _show_plan(args, io, p, notes)
        if args.format != "json":
            io.stdout.write("dry run: nothing was written; add --yes to apply\n")
        return int(ExitCode.WARNING) if p.blocking(args.force) else 0
    if args.revert_after is not None and args.revert_after < 1:
        raise UsageError("--revert-after takes a number of seconds >= 1")
    store = _store(args)
    procsys = _procsys(args)
    root = procsys.root
    mechanism = revert.choose(args.revert_with, root) if args.revert_after else ""
    with store.lock(create=True), _drop_in_lock(root, args.persist, create=True):
        tx = transaction.apply(p, procsys, store, args.persist, args.force)
        if args.revert_after:
            tx = revert.arm(tx, store, procsys, args.revert_after, mechanism)
    if args.format == "json":
        text = dumps({**out.tx_doc(tx), "precedence": [n.message for n in notes]})
    else:
        text = out.applied_text(tx, notes)
    _write_done(io, text, f"transaction {tx.id} applied")
    return 0


def _drop_in_lock(root: Path, needed: bool, create: bool = False) -> contextlib.AbstractContextManager[None]:
    """ROOT/etc/sysctl.d locked for a command that may rewrite our drop-in (see rootfs.locked)."""
    return rootfs.locked(root, create=create) if needed else contextlib.nullcontext()


def _write_done(io: Any, text: str, done: str) -> None:
    """The values are written and the transaction recorded: that is what counts. A closed
    stdout loses only this report (the record keeps all of it), so say so and exit 0."""
    try:
        io.stdout.write(text)
        io.stdout.flush()
    except (OSError, ValueError):  # started closed (EBADF, see render/safe.py), or closed since
        with contextlib.suppress(OSError, ValueError):
            io.stderr.write(f"memstall: note: stdout is closed; {done} "
                            "(`memstall tune history` shows it)\n")


def run_confirm(args: argparse.Namespace, io: Any) -> int:
    store = _store(args)
    with store.lock():
        tx, how = revert.confirm(store, args.id)
    _write_done(io, dumps({**out.tx_doc(tx), "confirmed": how}) if args.format == "json"
                else f"confirmed {tx.id}: it stays applied ({how})\n", f"transaction {tx.id} confirmed")
    return 0


def run_rollback(args: argparse.Namespace, io: Any) -> int:
    store = _store(args)
    with store.lock(), _drop_in_lock(_writable_root(args), True):
        tx, result = transaction.rollback(store, _procsys(args), args.id, args.force,
                                          "tune rollback")
    if tx.revert and not tx.revert.confirmed:
        revert.cancel(tx.revert, tx.id)
    text = (dumps(out.tx_doc(tx)) if args.format == "json"
            else out.rollback_text(tx, result.restored, result.drop_in))
    _write_done(io, text, f"transaction {tx.id} rolled back")
    return 0


def run_history(args: argparse.Namespace, io: Any) -> int:
    txs = _store(args).all()
    io.stdout.write(dumps(out.history_doc(txs)) if args.format == "json" else out.history_text(txs))
    return 0


def run_verify(args: argparse.Namespace, io: Any) -> int:
    report = verify(_store(args), _procsys(args), _source(args))
    io.stdout.write(dumps(out.verify_doc(report)) if args.format == "json" else out.verify_text(report))
    return int(ExitCode.WARNING) if report.drifted else 0


def run_export(args: argparse.Namespace, io: Any) -> int:
    p = _build(args)
    blocking = p.blocking(args.force)
    if blocking:
        raise UsageError("refused: " + "; ".join(str(r) for r in blocking))
    io.stdout.write(exporter.export(p.changes, args.export_format, _source(args)))
    return 0


def run_revert_due(args: argparse.Namespace, io: Any) -> int:
    """Run by the timer or the detached watcher, whose output nobody reads: a problem is
    also sent to syslog, and a missing state dir stops it without creating anything."""
    revert.wait_until(args.wait_until)
    try:
        store = _store(args)
        with store.lock(wait_seconds=120), _drop_in_lock(_writable_root(args), True):
            done = revert.revert_due(store, _procsys(args), args.id)
    except MemstallError as err:
        revert.log(f"tune revert-due {args.id}: {err.message}")
        raise
    revert.log(done)
    io.stdout.write(done + "\n")
    return 0
