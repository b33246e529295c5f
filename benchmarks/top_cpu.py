"""CPU of the interactive `memstall top` at a 1 s interval, against procps `top -d 1`, in one run (issue 13).

Both run at once in detached tmux sessions on a private server socket (80x24 terminals, never
the user's tmux), each exec'd so the pane's pid is the program itself:

* `python -m memstall top --interval 1` on this host (the [tui] extra: rich), live;
* the peer: procps `top -d 1` (the tool an operator already keeps open), or `--peer` another
  command line (`atop 1`, `htop -d 10`).

After a warm-up (`--warmup` seconds: imports, the first frames), the CPU each used is
utime+stime of /proc/PID/stat (and of its exited children, cutime+cstime) over `--seconds` of wall
time. Printed: CPU seconds, % of one core, the ratio memstall / peer; the last line is one JSON
object. Target: memstall at most 2% of one core. Exit status: 0 target met, 1 missed, 2 tmux or
the peer not found, 3 a program exited early.

    python benchmarks/top_cpu.py                  # 20 s after 3 s of warm-up
    python benchmarks/top_cpu.py --seconds 60 --peer 'atop 1'
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
TARGET_PERCENT_OF_ONE_CORE = 2.0
USER_HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / USER_HZ  # fields 14-17 of proc(5), after comm


class Session:
    """One detached 80x24 tmux session on a private socket, running `command` via exec."""

    def __init__(self, name: str, command: str, env: str = "") -> None:
        self.base = ["tmux", "-L", f"memstall-bench-{os.getpid()}-{name}", "-f", os.devnull]
        subprocess.run([*self.base, "new-session", "-d", "-s", name, "-x", "80", "-y", "24",
                        "sh", "-c", f"{env} exec {command}"], check=True)
        out = subprocess.run([*self.base, "display-message", "-p", "-t", name, "#{pane_pid}"],
                             check=True, capture_output=True, text=True).stdout
        self.pid = int(out.strip())
        self.name = name

    def screen(self) -> str:
        return subprocess.run([*self.base, "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True, check=False).stdout

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, check=False)


def measure(sessions: list[Session], warmup: float, seconds: float) -> tuple[dict[str, float], float]:
    time.sleep(warmup)
    start = {s.name: cpu_seconds(s.pid) for s in sessions}
    t0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    return {s.name: cpu_seconds(s.pid) - start[s.name] for s in sessions}, wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="measured wall time (default 20)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (default 3)")
    ap.add_argument("--peer", default="top -d 1", help="the peer's command line (default: top -d 1)")
    args = ap.parse_args(argv)
    peer_bin = shlex.split(args.peer)[0]
    for tool in ("tmux", peer_bin):
        if shutil.which(tool) is None:
            print(f"top_cpu: {tool} not found", file=sys.stderr)
            return 2
    memstall_cmd = f"{shlex.quote(sys.executable)} -m memstall top --interval 1"
    sessions: list[Session] = []
    try:
        sessions.append(Session("memstall", memstall_cmd, env=f"PYTHONPATH={shlex.quote(str(SRC))}"))
        sessions.append(Session("peer", args.peer))
        used, wall = measure(sessions, args.warmup, args.seconds)
        if not all(Path(f"/proc/{s.pid}").exists() for s in sessions):
            print("top_cpu: a program exited early:\n" + sessions[0].screen(), file=sys.stderr)
            return 3
        if "memstall top" not in sessions[0].screen():
            print("top_cpu: memstall top is not drawing frames:\n" + sessions[0].screen(), file=sys.stderr)
            return 3
    finally:
        for s in sessions:
            s.close()
    mem, peer = used["memstall"], used["peer"]
    percent = {k: 100 * v / wall for k, v in used.items()}
    ratio = mem / peer if peer else None
    print(f"wall {wall:.1f} s, 1 s interval, 80x24 tmux, same run")
    print(f"memstall top      {mem:.2f} CPU s  {percent['memstall']:.2f}% of one core")
    print(f"peer `{args.peer}`  {peer:.2f} CPU s  {percent['peer']:.2f}% of one core")
    print("ratio memstall / peer: " + ("n/a (peer used no CPU tick)" if ratio is None else f"{ratio:.2f}"))
    met = percent["memstall"] <= TARGET_PERCENT_OF_ONE_CORE
    print(json.dumps({"wall_seconds": round(wall, 3), "peer": args.peer,
                      "cpu_seconds": {k: round(v, 3) for k, v in used.items()},
                      "percent_of_one_core": {k: round(v, 3) for k, v in percent.items()},
                      "ratio_memstall_over_peer": None if ratio is None else round(ratio, 3),
                      "target_percent_of_one_core": TARGET_PERCENT_OF_ONE_CORE, "target_met": met}))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
