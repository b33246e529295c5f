"""Could one fixed string plus a look-around window replace the trigger prefilter? (issue 10)

`memstall logs` prefiltered a big file with one `grep -E` of every trigger word the scanner
needs while idle (its PREFILTER_ERE, before issue 10's fifth slice); a multi-pattern grep
costs 2-3x a one-word `grep -F`. This script measures the alternative: `grep -F` of a few
rare strings, and from each hit the scanner is fed from `--back` lines before the hit (where
it applies every trigger itself) and on while a report is open. Lines outside every window
are skipped.

For each candidate set it prints how many logs under tests/fixtures/kernlog give other
reports than the full scan (items, not only skip counts), and with `--log FILE` the CPU time
of `LC_ALL=C grep -c -F` with those strings on FILE against `grep -c -F 'page allocation'`.

    python benchmarks/prefilter_window.py --back 50 --log /var/tmp/.../sparse-large-0.5GB.log
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from memstall.parsers.kernlog import Item, LogScanner

ROOT = Path(__file__).resolve().parent.parent
KERNLOG = ROOT / "tests" / "fixtures" / "kernlog"
CANDIDATES: tuple[tuple[bytes, ...], ...] = (
    (b"page allo",),
    (b"order",),
    (b"Mem-Info",),
    (b"page allo", b"oom-killer"),
    (b"page allo", b"oom-killer", b"ut of memory", b"Mem-Info"),
    (b"page allo", b"oom-killer", b"ut of memory", b"Mem-", b"SysRq"),
)


def full_scan(lines: list[bytes]) -> list[Item]:
    sc = LogScanner("x")
    out: list[Item] = []
    for ln in lines:
        out += sc.feed(ln)
    return out + sc.finish()


def window_scan(lines: list[bytes], words: tuple[bytes, ...], back: int) -> list[Item]:
    """Feed from `back` lines before each line holding one of `words`, and on while busy."""
    sc = LogScanner("x")
    out: list[Item] = []
    i, n = 0, len(lines)
    for hit in (k for k, ln in enumerate(lines) if any(w in ln for w in words)):
        if hit < i:
            continue
        start = max(i, hit - back)
        sc.skip_idle(start - i)
        i = start
        while i < n and (i <= hit or sc.busy):
            out += sc.feed(lines[i])
            i += 1
    sc.skip_idle(n - i)
    return out + sc.finish()


def grep_cpu_s(words: tuple[bytes, ...], path: Path) -> float:
    args = [a for w in words for a in ("-e", w.decode())]
    before = os.times()
    # stdout is a pipe, not /dev/null: GNU grep stops at the first match when it writes to /dev/null
    subprocess.run(["grep", "-c", "-F", *args, str(path)], stdout=subprocess.PIPE,
                   env={**os.environ, "LC_ALL": "C"}, check=False)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--back", type=int, default=50, help="lines fed before each hit")
    p.add_argument("--log", type=Path, help="a big sparse log to time grep -F on")
    args = p.parse_args()
    logs = sorted(q for q in KERNLOG.rglob("*") if q.suffix in (".log", ".txt"))
    texts = [q.read_bytes().split(b"\n") for q in logs]
    fulls = [full_scan(t) for t in texts]
    peer = grep_cpu_s((b"page allocation",), args.log) if args.log else 0.0
    print(f"{len(logs)} logs, window {args.back} lines back; grep -F 'page allocation' CPU {peer:.2f} s")
    for words in CANDIDATES:
        lost = [q.name for q, t, f in zip(logs, texts, fulls) if window_scan(t, words, args.back) != f]
        cost = f"  grep -F CPU {grep_cpu_s(words, args.log):.2f} s" if args.log else ""
        print(f"{b' | '.join(words).decode():<55} other reports in {len(lost):>2} logs{cost}"
              f"  e.g. {', '.join(lost[:3])}")


if __name__ == "__main__":
    main()
