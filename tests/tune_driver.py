"""Test-only driver: run `memstall ARGS...` in this process with tune faults injected.

    python tests/tune_driver.py --kill-at after-backup:1 [--fail-write 2:EROFS]
        [--sleep-at before-persist:1:2] -- ARGS...

For the SIGKILL tests, which need a process of their own to kill. The faults go in
through memstall.tune.faults.injected(), as in the in-process tests: memstall itself
never reads them from the environment, and the watcher it starts never inherits them.
"""

from __future__ import annotations

import argparse
import errno
import sys

from memstall.cli import main
from memstall.tune.faults import Faults, injected


def _numbered(items: list[str]) -> dict[int, str]:
    return {int(n): text for n, _, text in (i.partition(":") for i in items)}


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="tune_driver")
    p.add_argument("--kill-at", action="append", default=[], metavar="STEP:N")
    p.add_argument("--fail-write", action="append", default=[], metavar="N:ERRNO")
    p.add_argument("--store-instead", action="append", default=[], metavar="N:TEXT")
    p.add_argument("--sleep-at", action="append", default=[], metavar="STEP:N:SECONDS")
    p.add_argument("args", nargs=argparse.REMAINDER)
    ns = p.parse_args(argv)
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    faults = Faults(fail_write={n: getattr(errno, e) for n, e in _numbered(ns.fail_write).items()},
                    store_instead=_numbered(ns.store_instead), kill_at=tuple(ns.kill_at),
                    sleep_at={s.rpartition(":")[0]: float(s.rpartition(":")[2]) for s in ns.sleep_at})
    with injected(faults):
        return main(args)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
