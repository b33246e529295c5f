"""The hist path's tracefs writes, run by a real kernel with hist triggers (marker `slow`).

This VM's kernel has no CONFIG_HIST_TRIGGERS, and memstall (Python) cannot run inside the
lab's busybox guest, so this test boots Debian's kernel (the lab's machinery: tools,
initramfs, qemu) with an /init that makes exactly the writes `memstall trace --method hist`
makes — the strings come from analysis/stall_hist.hist_plan(), the code the command uses —
in an instance named as memstall names it. The same instance also has the reclaim begin/end
events enabled, so the pipe path reads the same buffer (one clock: tests/test_trace_hist.py).
A process in an 8 MiB memory cgroup reads 24 MiB blocks (memcg reclaim every time), then the
lab's workload helper fills memory and makes order-4 unmovable allocations (direct reclaim
and compaction, a few each; not asserted, TCG decides how many). Then
the guest removes everything the way StallTracer.close() does. On the host, memstall's
parsers read the `hist` files and the pipe text: the two paths must give the same
histograms, per-process totals and stall counts, and nothing of ours may be left.

Skipped, with the reason, without qemu, a static busybox or a kernel image (.ci/run
installs them; gcc builds the workload helper). TCG on the CI VM: about 90 s.
"""

from __future__ import annotations

import gzip
import shlex
from pathlib import Path

import pytest

from conftest import guest_skip_reason
from memstall.analysis.stall_hist import HistPlan, KindHists, fill_tracker, hist_plan
from memstall.analysis.stall_trace import DIRECT_RECLAIM, EVENTS, MEMCG_RECLAIM, StallTracker
from memstall.lab import initramfs, qemu, tools
from memstall.model.kernel import KernelVersion
from memstall.parsers.trace_format import parse_event_format
from memstall.parsers.trace_hist import latency_rows, parse_trace_hists, task_rows
from memstall.parsers.trace_pipe import parse_trace_pipe
from memstall.sources.tracefs_control import INSTANCE_PREFIX

pytestmark = pytest.mark.slow
GUEST_PID = 4242  # the tracer's pid the names are built from (memstall-4242, memstall_4242_*)


REASON = guest_skip_reason(("qemu-system-x86_64", "gcc"))


def _w(text: str, path: str, append: bool = True) -> str:
    return f"echo {shlex.quote(text)} {'>>' if append else '>'} {path} || log 'refused: {path}'"


def guest_init(plan: HistPlan) -> str:
    """/init: create_instance + install_hist, the workload, the reads, then close()."""
    inst = f"$T/instances/{INSTANCE_PREFIX}{plan.pid}"
    reclaim = [e for e in EVENTS if e not in plan.pipe_events]
    lines = [
        "#!/bin/busybox sh", "/bin/busybox --install -s /bin", "export PATH=/bin",
        "mkdir -p /proc /sys /dev /tmp /cg",
        "mount -t devtmpfs devtmpfs /dev; mount -t proc proc /proc; mount -t sysfs sysfs /sys",
        "mount -t tracefs nodev /sys/kernel/tracing; mount -t cgroup2 none /cg",
        "echo 1 > /proc/sys/kernel/printk", "exec 2>&1", "T=/sys/kernel/tracing",
        'log() { echo "===LOG $*==="; }',
        'emit() { cat "$2" > /tmp/e 2>/dev/null && { echo "===BEGIN $1 $2==="; base64 /tmp/e;'
        ' echo "===END $1 $2==="; }; }',
        f"emit format $T/events/vmscan/{plan.kinds[0].begin_trigger[0].split('/')[2]}/format",
        # sources/tracefs_control.create_instance, with the pipe path's reclaim events added
        f"mkdir {inst}", _w("0", f"{inst}/tracing_on", False), _w("4096", f"{inst}/buffer_size_kb", False),
        *[_w("1", f"{inst}/events/{s}/{e}/enable", False) for s, e in [*plan.pipe_events, *reclaim]],
        _w("1", f"{inst}/tracing_on", False),
        # sources/tracefs_control.install_hist
        *[_w(k.definition, "$T/synthetic_events") for k in plan.kinds],
        *[_w(text, f"{inst}/{rel}") for rel, text in plan.triggers_in_order()],
        f"cat {inst}/trace_pipe > /tmp/pipe.txt &", "CAT=$!",
        "echo +memory > /cg/cgroup.subtree_control",
        "mkdir /cg/t; echo $((8*1024*1024)) > /cg/t/memory.max",
        "for i in 1 2 3 4 5 6; do",
        "  sh -c 'echo $$ > /cg/t/cgroup.procs; exec dd if=/dev/zero of=/dev/null bs=24M count=1' >/dev/null",
        "done",
        # the lab's helper: fill memory, punch holes, order-4 unmovable allocations (direct
        # reclaim and compaction outside any cgroup)
        "/workload frag /tmp/lat /tmp/done 30 0 4 300 2>/dev/null &", "W=$!",
        "for i in $(seq 120); do [ -e /tmp/done ] && break; sleep 0.5; done; kill $W; wait $W",
        # StallTracer.stop: tracing_on=0, drain, read the hists
        "sleep 1", _w("0", f"{inst}/tracing_on", False), "sleep 1", "kill $CAT",
        *[f"emit hist {inst}/{k.hist_file}" for k in plan.kinds],
        "emit pipe /tmp/pipe.txt",
        # StallTracer.close: triggers in reverse, remove_instance, then the synthetic events
        *[_w(text, f"{inst}/{rel}") for rel, text in plan.removal_in_order()],
        _w("0", f"{inst}/events/enable", False), f"rmdir {inst} || log 'rmdir refused'",
        *[_w("!" + k.synth, "$T/synthetic_events") for k in plan.kinds],
        "ls $T/instances > /tmp/left; cat $T/synthetic_events >> /tmp/left", "emit left /tmp/left",
        "emit errors $T/error_log", "echo ===DONE===", "poweroff -f",
    ]
    return "\n".join(lines) + "\n"


def _boot(tmp_path: Path, init: str) -> qemu.Console:
    cache = tools.cache_dir()
    kernel = tools.resolve_kernel(cache, None)
    busybox = Path(tools.static_busybox()).read_bytes()
    workload = initramfs._compile_workload(cache, initramfs.guest_source("workload.c"))
    files = {"init": (0o755, init.encode()), "bin/busybox": (0o755, busybox), "workload": (0o755, workload)}
    initrd = tmp_path / "initrd.gz"
    initrd.write_bytes(gzip.compress(initramfs.cpio_newc(files, ("bin", "dev", "proc", "sys", "tmp"),
                                                         console=True)))
    exe = tools.need_tool("qemu-system-x86_64", "to boot the guest")
    cmd = qemu.qemu_command(exe, kernel.vmlinuz, initrd, 512, 1, "tcg")
    text, _, timed_out = qemu.run_qemu(cmd, 400, tmp_path / "console.log")
    console = qemu.parse_console(text)
    assert not timed_out and console.done, text[-2000:]
    return console


def _one(console: qemu.Console, tag: str) -> str:
    (data,) = console.files[tag].values()
    return data.decode()


@pytest.mark.skipif(REASON is not None, reason=f"QEMU guest: {REASON}")
def test_hist_path_equals_pipe_path_in_a_guest(tmp_path: Path) -> None:
    plan = hist_plan(GUEST_PID)
    console = _boot(tmp_path, guest_init(plan))
    refused = [ln for ln in console.logs if ln.startswith("refused")]
    assert not refused, (refused, console.files.get("errors"))
    # the declared field types are the guest kernel's own
    fields = parse_event_format(_one(console, "format"))
    assert plan.kinds[0].definition.endswith(f"{fields['order'].type} order; "
                                             f"{fields['gfp_flags'].type} gfp_flags")
    hists = {}
    for k in plan.kinds:
        path = f"/sys/kernel/tracing/instances/{INSTANCE_PREFIX}{GUEST_PID}/{k.hist_file}"
        blocks = parse_trace_hists(console.files["hist"][path].decode(), path)
        lat = next(b for b in blocks if "lat.log2" in b.trigger)
        tasks = next(b for b in blocks if "common_pid.execname" in b.trigger)
        hists[k.kind] = KindHists(tuple(latency_rows(lat)), tuple(task_rows(tasks)), lat.hits,
                                  sum(b.dropped for b in blocks))
    in_kernel = StallTracker()
    totals = fill_tracker(in_kernel, hists, KernelVersion(6, 1))
    pipe = StallTracker()
    for event in parse_trace_pipe(_one(console, "pipe")).events:
        pipe.feed(event)
    pipe.finish()
    reclaim = {key: h for key, h in pipe.hists.items() if key[0] in (MEMCG_RECLAIM, DIRECT_RECLAIM)}
    assert totals.stalls > 50 and totals.dropped == 0
    assert sum(h.n for h in reclaim.values()) == totals.stalls
    assert {k: (h.counts, h.n, h.total_us) for k, h in reclaim.items()} == \
        {k: (h.counts, h.n, h.total_us) for k, h in in_kernel.hists.items()}
    kinds = (MEMCG_RECLAIM, DIRECT_RECLAIM)  # per process: the reclaim time (pipe tasks may also compact)
    assert {pid: (t.comm, t.stall_us) for pid, t in in_kernel.tasks.items()} == \
        {pid: (t.comm, sum(t.by_kind_us.get(k, 0) for k in kinds))
         for pid, t in pipe.tasks.items() if set(kinds) & set(t.by_kind_us)}
    left = _one(console, "left")
    assert f"{INSTANCE_PREFIX}{GUEST_PID}" not in left and "memstall_" not in left
