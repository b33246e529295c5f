"""CPU per memstall sample against node_exporter's CPU per scrape (issue 8, "Cost target").

In one run, on this host:

* starts Debian's `prometheus-node-exporter` as a child on 127.0.0.1 (a free port) with
  `--collector.disable-defaults` plus buddyinfo, zoneinfo, vmstat (every field), meminfo and
  pressure, and `--web.disable-exporter-metrics` (no go_*/process_* series: only the collectors
  are measured). It is scraped `--count` times over one keep-alive connection, `--gap` seconds
  apart like memstall's ticks (back to back, a scrape costs about a third less). Its CPU per
  scrape is utime+stime of the exporter from /proc/PID/stat (after - before, in clock ticks of
  os.sysconf("SC_CLK_TCK")) / count. Once as plain text (the cheapest for
  the exporter), once with `Accept-Encoding: gzip` as Prometheus itself scrapes.
* samples `--count` times with memstall: `memstall.pipeline.Sampler(open_root("/")).sample()`
  (read + parse + rates + rules) when the pipeline exists, otherwise today's equivalent
  (collect.load_state + analysis.rates.compute_rates against the previous state +
  rules.run_rules). CPU per tick is time.process_time() around each tick; ticks are
  `--gap` seconds apart (not counted) so that /proc/uptime (10 ms steps) advances and every
  tick has rates. The ticks read through a wrapper that times each Source call (about 1 us
  each), which splits a tick into reading and the rest (parse, rates, rules).
* replays the Source calls of one steady tick (the files read, the directories listed) through
  memstall's own Source, and the same calls in plain Python (open(path, "rb").read(),
  os.listdir, glob.glob): "reading alone".

Targets: memstall tick CPU <= node_exporter scrape CPU (plain text), and memstall's reading
within 3x of plain Python's. The last line is one JSON object (tests/test_bench_sample_cost.py).
Exit status: 0 both targets met, 1 one missed, 2 node_exporter not found or not starting.

    python benchmarks/sample_cost.py                      # 500 scrapes and ticks, best of 3 rounds
    python benchmarks/sample_cost.py --count 2000 --rounds 5
    python benchmarks/sample_cost.py --profile            # adds a cProfile of memstall's ticks
    python benchmarks/sample_cost.py --skip proc/pagetypeinfo   # the tick without that file
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import http.client
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # a checkout without `pip install -e .` still runs

EXPORTERS = ("prometheus-node-exporter", "node_exporter")
COLLECTORS = ("buddyinfo", "zoneinfo", "vmstat", "meminfo", "pressure")
VMSTAT_FIELDS_FLAG = "--collector.vmstat.fields"
TARGET_TICK_RATIO = 1.0
TARGET_READ_RATIO = 3.0
PLAIN_TEXT = {"Accept": "text/plain;version=0.0.4"}
GZIP = {**PLAIN_TEXT, "Accept-Encoding": "gzip"}


# --- node_exporter -------------------------------------------------------------------------

def find_exporter(given: str | None) -> str | None:
    if given:
        return given if Path(given).is_file() else shutil.which(given)
    return next((p for p in map(shutil.which, EXPORTERS) if p), None)


def exporter_args(binary: str, port: int) -> tuple[list[str], str]:
    """The command line, and how vmstat's fields were chosen (the flag is version-dependent)."""
    helptext = subprocess.run([binary, "--help"], capture_output=True, text=True, check=False)
    text = helptext.stdout + helptext.stderr
    if "--collector.disable-defaults" not in text:
        raise SystemExit(f"{binary} has no --collector.disable-defaults (node_exporter < 1.1?)")
    cmd = [binary, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
           *(f"--collector.{c}" for c in COLLECTORS)]
    if "--web.disable-exporter-metrics" in text:
        cmd.append("--web.disable-exporter-metrics")
    if VMSTAT_FIELDS_FLAG in text:
        cmd.append(f"{VMSTAT_FIELDS_FLAG}=.*")
        return cmd, f"{VMSTAT_FIELDS_FLAG}=.* (every field)"
    return cmd, f"this version has no {VMSTAT_FIELDS_FLAG}: its default vmstat fields"


def version_of(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return ((out.stdout + out.stderr).splitlines() or ["unknown"])[0].strip()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_ticks(pid: int) -> int:
    """utime + stime of a whole process (every thread), in clock ticks: proc(5) fields 14, 15."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # the comm may hold spaces and parentheses
    return int(fields[11]) + int(fields[12])


def scrape(conn: http.client.HTTPConnection, headers: dict[str, str]) -> bytes:
    conn.request("GET", "/metrics", headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"node_exporter answered {resp.status}: {body[:200]!r}")
    return body


@contextlib.contextmanager
def running_exporter(cmd: list[str], port: int, log: IO[bytes]) -> Any:
    """The exporter as our child, up and answering; stopped (by its pid) on the way out."""
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                log.seek(0)
                tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"node_exporter exited {proc.returncode}: {' | '.join(tail)}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                scrape(conn, PLAIN_TEXT)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield proc, conn
        conn.close()
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def exporter_seconds_per_scrape(pid: int, conn: http.client.HTTPConnection, count: int,
                                headers: dict[str, str], gap: float) -> float:
    """Scrapes `gap` seconds apart, as memstall's ticks: back to back, each costs about a third less."""
    for _ in range(5):  # warm: the first scrapes allocate the collectors' buffers
        scrape(conn, headers)
    before = cpu_ticks(pid)
    for _ in range(count):
        time.sleep(gap)
        scrape(conn, headers)
    return (cpu_ticks(pid) - before) / os.sysconf("SC_CLK_TCK") / count


def series_count(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


# --- memstall ------------------------------------------------------------------------------

class RecordingSource:
    """A Source that notes every call (to count the files a tick reads and replay them)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _call(self, method: str, arg: str) -> Any:
        self.calls.append((method, arg))
        return getattr(self.inner, method)(arg)

    def read_text(self, rel: str) -> str:
        return str(self._call("read_text", rel))

    def list_dir(self, rel: str) -> list[str]:
        return list(self._call("list_dir", rel))

    def glob(self, pattern: str) -> list[str]:
        return list(self._call("glob", pattern))

    def exists(self, rel: str) -> bool:
        return bool(self._call("exists", rel))

    def is_dir(self, rel: str) -> bool:
        return bool(self._call("is_dir", rel))


class SkippingSource(RecordingSource):
    """`--skip`: these paths are unavailable, as proc/pagetypeinfo is to a non-root user (5.4+)."""

    def __init__(self, inner: Any, skip: frozenset[str]) -> None:
        super().__init__(inner)
        self.skip = skip

    def read_text(self, rel: str) -> str:
        if rel in self.skip:
            from memstall.errors import SourceUnavailable

            raise SourceUnavailable(rel, "left out by --skip")
        return str(self.inner.read_text(rel))


class TimingSource(RecordingSource):
    """A Source that adds up the CPU each path costs (where a tick's reading time goes)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.seconds: dict[str, float] = {}

    def _call(self, method: str, arg: str) -> Any:
        start = time.process_time()
        try:
            return getattr(self.inner, method)(arg)
        finally:
            self.seconds[arg] = self.seconds.get(arg, 0.0) + time.process_time() - start


class TodaysTick:
    """The tick before memstall.pipeline existed: what `diagnose` live did per sample."""

    kind = "collect.load_state + analysis.rates.compute_rates + rules.run_rules (no pipeline.Sampler)"

    def __init__(self, source: Any) -> None:
        self.source = source
        self.previous: Any = None

    def sample(self) -> tuple[object, object]:
        from memstall.analysis.rates import RateError, compute_rates
        from memstall.collect import load_state
        from memstall.rules import Inputs, run_rules

        state = load_state(self.source)
        rates = None
        if self.previous is not None:
            with contextlib.suppress(RateError):
                rates = compute_rates(self.previous, state)
        history = () if self.previous is None else (self.previous,)
        inputs = (Inputs(state, rates=rates, history=history) if rates is not None
                  else Inputs(state, history=history))
        self.previous = state
        return rates, run_rules(inputs)


class SamplerTick:
    kind = "memstall.pipeline.Sampler"

    def __init__(self, source: Any, static_every_seconds: float = 60.0) -> None:
        from memstall.pipeline import Sampler  # type: ignore[import-not-found,unused-ignore]

        self.sampler = Sampler(source, static_every_seconds=static_every_seconds)

    def sample(self) -> tuple[object, object]:
        tick = self.sampler.sample()
        return tick.rates, tick.report


def make_ticker(source: Any, full: bool = False) -> TodaysTick | SamplerTick:
    """The Sampler when memstall has one; `full`: every tick re-reads the static files too."""
    try:
        return SamplerTick(source, static_every_seconds=0.0 if full else 60.0)
    except ImportError:
        return TodaysTick(source)


@dataclass
class TickRun:
    seconds_per_tick: float
    without_rates: int
    findings: int
    reading_seconds: float
    """Of seconds_per_tick, the CPU spent inside the Source's calls."""
    costliest: list[tuple[str, float]]
    """The three paths (or glob patterns) whose reading cost the most per tick."""


def memstall_seconds_per_tick(ticker: TodaysTick | SamplerTick, timing: TimingSource, count: int,
                              gap: float) -> TickRun:
    """`ticker` reads through `timing`, so reading and the rest come from the same ticks."""
    ticker.sample()  # the first tick reads the static files and has no rates: not counted
    timing.seconds.clear()
    spent, without_rates, report = 0.0, 0, None
    for _ in range(count):
        time.sleep(gap)
        start = time.process_time()
        rates, report = ticker.sample()
        spent += time.process_time() - start
        without_rates += rates is None
    per_path = sorted(((rel, sec / count) for rel, sec in timing.seconds.items()), key=lambda x: -x[1])
    return TickRun(spent / count, without_rates, len(getattr(report, "findings", ())),
                   sum(sec for _, sec in per_path), per_path[:3])


def steady_calls(source: Any, gap: float) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The Source calls of a first (full) tick and of the next (steady) one."""
    recorder = RecordingSource(source)
    ticker = make_ticker(recorder)
    ticker.sample()
    first = recorder.calls
    recorder.calls = []
    time.sleep(gap)
    ticker.sample()
    return first, recorder.calls


def plain_python(calls: list[tuple[str, str]]) -> Callable[[], None]:
    """The same calls without memstall: open+read, os.listdir, glob.glob, os.path."""
    ops: list[Callable[[], object]] = []
    for method, rel in calls:
        path = "/" + rel
        if method == "read_text":
            ops.append(lambda p=path: _read(p))
        elif method == "list_dir":
            ops.append(lambda p=path: _listdir(p))
        elif method == "glob":
            ops.append(lambda p=path: glob.glob(p))  # noqa: PTH207
        elif method == "exists":
            ops.append(lambda p=path: os.path.exists(p))  # noqa: PTH110
        else:
            ops.append(lambda p=path: os.path.isdir(p))  # noqa: PTH112

    def run() -> None:
        for op in ops:
            op()
    return run


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def replay_memstall(source: Any, calls: list[tuple[str, str]]) -> Callable[[], None]:
    from memstall.errors import SourceUnavailable

    bound = [(getattr(source, method), rel) for method, rel in calls]

    def run() -> None:
        for call, rel in bound:
            with contextlib.suppress(SourceUnavailable):
                call(rel)
    return run


def seconds_per_pair(first: Callable[[], None], second: Callable[[], None],
                     count: int) -> tuple[float, float]:
    """CPU per call of each, alternated call by call so both see the same kernel state (the
    cost of reading proc/pagetypeinfo, for one, moves with the free lists' length)."""
    spent = [0.0, 0.0]
    first()
    second()
    for _ in range(count):
        for i, run in enumerate((first, second)):
            start = time.process_time()
            run()
            spent[i] += time.process_time() - start
    return spent[0] / count, spent[1] / count


# --- the run -------------------------------------------------------------------------------

Replay = tuple[str, Callable[[], None]]

@dataclass
class Costs:
    """CPU seconds per unit, the best (lowest) of the rounds for each."""

    exporter_text: float = float("inf")
    exporter_gzip: float = float("inf")
    tick: float = float("inf")
    read_memstall: float = float("inf")
    read_plain: float = float("inf")
    files_only_memstall: float = float("inf")
    files_only_plain: float = float("inf")
    without_rates: int = 0
    findings: int = 0
    reading_in_tick: float = 0.0
    costliest: tuple[tuple[str, float], ...] = ()


def one_round(costs: Costs, exporter: tuple[int, http.client.HTTPConnection],
              memstall: tuple[Any, TimingSource], replays: list[tuple[Replay, Replay]],
              args: argparse.Namespace) -> None:
    pid, conn = exporter
    costs.exporter_text = min(costs.exporter_text,
                              exporter_seconds_per_scrape(pid, conn, args.count, PLAIN_TEXT, args.gap))
    costs.exporter_gzip = min(costs.exporter_gzip,
                              exporter_seconds_per_scrape(pid, conn, args.count, GZIP, args.gap))
    run = memstall_seconds_per_tick(*memstall, args.count, args.gap)
    if run.seconds_per_tick < costs.tick:
        costs.tick, costs.reading_in_tick = run.seconds_per_tick, run.reading_seconds
        costs.costliest = tuple(run.costliest)
    costs.without_rates += run.without_rates
    costs.findings = run.findings
    for (name_a, run_a), (name_b, run_b) in replays:
        a, b = seconds_per_pair(run_a, run_b, args.count)
        setattr(costs, name_a, min(getattr(costs, name_a), a))
        setattr(costs, name_b, min(getattr(costs, name_b), b))


def describe_calls(calls: list[tuple[str, str]]) -> dict[str, int]:
    reads = sum(1 for m, _ in calls if m == "read_text")
    listings = sum(1 for m, _ in calls if m in ("list_dir", "glob"))
    return {"files": reads, "listings": listings, "stats": len(calls) - reads - listings}


def replays_for(source: Any, calls: list[tuple[str, str]]) -> list[tuple[Replay, Replay]]:
    """(memstall's, plain Python's) replays of a tick's Source calls, then of its file reads only."""
    files = [c for c in calls if c[0] == "read_text"]
    return [(("read_memstall", replay_memstall(source, calls)), ("read_plain", plain_python(calls))),
            (("files_only_memstall", replay_memstall(source, files)),
             ("files_only_plain", plain_python(files)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def report(costs: Costs, facts: dict[str, Any]) -> dict[str, Any]:
    tick_ratio = costs.tick / costs.exporter_text
    read_ratio = costs.read_memstall / costs.read_plain
    print(f"\nCPU per unit, best of {facts['rounds']} rounds of {facts['count']}:")
    rows = [
        ("node_exporter, one scrape (text)", costs.exporter_text, ""),
        ("node_exporter, one scrape (gzip, as Prometheus)", costs.exporter_gzip, ""),
        ("memstall, one tick (read+parse+rates+rules)", costs.tick, ""),
        ("memstall, a tick re-reading static files", facts["full_tick_seconds"],
         "  (the Sampler: once every 60 s)"),
        ("memstall reading alone (its Source calls)", costs.read_memstall,
         f"  files only {ms(costs.files_only_memstall)}"),
        ("plain Python, the same calls", costs.read_plain, f"  files only {ms(costs.files_only_plain)}"),
    ]
    for label, seconds, extra in rows:
        print(f"  {label:<48} {ms(seconds)}{extra}")
    print(f"  in the ticks themselves, reading took {ms(costs.reading_in_tick).strip()} and parsing, rates "
          f"and rules {ms(costs.tick - costs.reading_in_tick).strip()}")
    costliest = ", ".join(f"{rel} {ms(sec).strip()}" for rel, sec in costs.costliest)
    print(f"  costliest reads per tick: {costliest}")
    verdict = {True: "met", False: "MISSED"}
    print(f"memstall tick / node_exporter scrape: {tick_ratio:.2f} (target <= {TARGET_TICK_RATIO:g}): "
          f"{verdict[tick_ratio <= TARGET_TICK_RATIO]}")
    print(f"memstall reading / plain Python:      {read_ratio:.2f} (target <= {TARGET_READ_RATIO:g}): "
          f"{verdict[read_ratio <= TARGET_READ_RATIO]}")
    if costs.without_rates:
        print(f"  note: {costs.without_rates} ticks had no rates (cheaper than a normal tick)")
    return {**facts,
            "node_exporter_cpu_seconds_per_scrape": costs.exporter_text,
            "node_exporter_gzip_cpu_seconds_per_scrape": costs.exporter_gzip,
            "memstall_cpu_seconds_per_tick": costs.tick,
            "memstall_read_cpu_seconds_per_tick": costs.read_memstall,
            "plain_python_read_cpu_seconds_per_tick": costs.read_plain,
            "memstall_files_only_cpu_seconds": costs.files_only_memstall,
            "plain_python_files_only_cpu_seconds": costs.files_only_plain,
            "ratio_tick_to_scrape": tick_ratio, "ratio_read_to_plain_python": read_ratio,
            "ticks_without_rates": costs.without_rates, "findings": costs.findings,
            "memstall_reading_in_tick_cpu_seconds": costs.reading_in_tick,
            "costliest_reads": [list(c) for c in costs.costliest],
            "targets_met": {"tick": tick_ratio <= TARGET_TICK_RATIO,
                            "read": read_ratio <= TARGET_READ_RATIO}}


DIFFERENCES = """\
What each side does that the other does not:
  node_exporter: serves HTTP, formats the Prometheus exposition text (and gzips it when asked);
    reads 7 files (buddyinfo, zoneinfo, vmstat, meminfo, pressure/{cpu,io,memory}); no judgement.
    The Python client's CPU (this process) is not counted for it.
  memstall: reads the files above (but pressure/cpu and io) plus per-node vmstat/meminfo, the
    kswapd/kcompactd threads' stat, pagetypeinfo and (when re-read) sysctls and THP settings;
    computes rates against the previous tick and runs every rule; no HTTP, no text output."""


def profile(ticker: Any, count: int, gap: float) -> None:
    import cProfile
    import pstats

    ticker.sample()
    prof = cProfile.Profile()
    for _ in range(count):
        time.sleep(gap)
        prof.enable()
        ticker.sample()
        prof.disable()
    print(f"\ncProfile of {count} memstall ticks, top 15 by own time, then by cumulative time:")
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(25)


def measure(binary: str, args: argparse.Namespace) -> dict[str, Any]:
    from memstall.sources import open_root

    source = open_root("/")
    if args.skip:
        source = SkippingSource(source, frozenset(args.skip))
        print(f"left out (unavailable to memstall, not replayed): {', '.join(args.skip)}")
    first_calls, calls = steady_calls(source, args.gap)
    calls = [c for c in calls if c[1] not in args.skip]
    timing = TimingSource(source)  # about 1 us per Source call: reading and the rest from the same ticks
    ticker = make_ticker(timing)
    port = free_port()
    cmd, vmstat_how = exporter_args(binary, port)
    facts: dict[str, Any] = {
        "benchmark": "sample_cost", "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release(),
        "python": platform.python_version(), "node_exporter": version_of(binary),
        "memstall_measured": ticker.kind, "count": args.count, "rounds": args.rounds, "skip": args.skip,
        "memstall_tick_calls": describe_calls(calls),
        "memstall_first_tick_calls": describe_calls(first_calls),
    }
    print(f"memstall measured: {ticker.kind}")
    print(f"memstall per steady tick: {facts['memstall_tick_calls']}; first tick (static files, "
          f"kthread discovery): {facts['memstall_first_tick_calls']}")
    print(f"node_exporter: {facts['node_exporter']}; vmstat: {vmstat_how}\n  {' '.join(cmd)}")
    costs = Costs()
    with tempfile.TemporaryFile() as log, running_exporter(cmd, port, log) as (proc, conn):
        facts["node_exporter_series"] = series_count(scrape(conn, PLAIN_TEXT))
        print(f"  {facts['node_exporter_series']} series per scrape")
        replays = replays_for(source, calls)
        for _ in range(args.rounds):
            one_round(costs, (proc.pid, conn), (ticker, timing), replays, args)
    full = TimingSource(source)
    facts["full_tick_seconds"] = memstall_seconds_per_tick(
        make_ticker(full, full=True), full, max(3, args.count // 10), args.gap).seconds_per_tick
    result = report(costs, facts)
    print(DIFFERENCES)
    if args.profile:
        profile(make_ticker(source), args.count, args.gap)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--count", type=int, default=500, help="scrapes and ticks per round (default 500)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; the lowest cost of each is kept")
    p.add_argument("--gap", type=float, default=0.011,
                   help="seconds between ticks and between scrapes, not counted (default 0.011: "
                        "/proc/uptime moves in 10 ms steps and every tick must have rates)")
    p.add_argument("--exporter", default=None, help="node_exporter binary (default: on PATH)")
    p.add_argument("--profile", action="store_true", help="also cProfile memstall's ticks")
    p.add_argument("--skip", action="append", default=[], metavar="PATH",
                   help="make memstall's Source report PATH (relative, e.g. proc/pagetypeinfo) "
                        "unavailable, to see what reading it costs; repeatable")
    args = p.parse_args(argv)
    if args.count < 1 or args.rounds < 1:
        p.error("--count and --rounds must be at least 1")
    binary = find_exporter(args.exporter)
    print(f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Linux {platform.release()}, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, "
          f"load average {os.getloadavg()[0]:.2f}")
    if binary is None:
        print("prometheus-node-exporter not found: apt-get install -y prometheus-node-exporter "
              "(or --exporter PATH)")
        return 2
    try:
        result = measure(binary, args)
    except (OSError, RuntimeError) as err:
        print(f"node_exporter could not be measured: {err}")
        return 2
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(json.dumps(result, sort_keys=True))
    return 0 if all(result["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
