"""Data present in another form (issue 9): per-node files summed, the other debugfs index
computed, kswapd CPU from a sosreport's ps, the kernel release from proc/version.

Inputs are the real roots of ../shared/real-roots (provenance: its PROVENANCE.md), or
copies of them with a file removed (handmade, said at each test).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from conftest import SHARED, run_cli
from memstall.analysis.fragmentation import fragmentation_indices, unusable_indices
from memstall.collect import load_state
from memstall.parsers.buddyinfo import parse_buddyinfo
from memstall.parsers.meminfo import parse_meminfo
from memstall.parsers.ps import parse_ps_kthreads
from memstall.sources import open_root

REAL = SHARED / "real-roots"


def _copy(tmp_path: Path, root: str) -> Path:
    dest = tmp_path / root
    shutil.copytree(REAL / root, dest, symlinks=True)
    return dest


def _json(*argv: str) -> dict[str, object]:
    r = run_cli(*argv[:2], "--format", "json", *argv[2:])
    assert r.code in (0, 1, 2), r.err
    doc = json.loads(r.out)
    assert isinstance(doc, dict)
    return doc


def test_meminfo_summed_from_the_only_node_file() -> None:
    # Real: hotsos-openstack-5.4 has node0/meminfo and no proc/meminfo.
    root = REAL / "hotsos-openstack-5.4"
    doc = _json("--root", str(root), "show", "meminfo")
    node0 = parse_meminfo((root / "sys/devices/system/node/node0/meminfo").read_text())
    assert doc["fields_kib"]["MemTotal"] == node0.kib("MemTotal") == 16393164  # type: ignore[index]
    assert any(n.startswith("proc/meminfo is absent: summed from sys/devices/system/node/node*/meminfo "
                            "over node 0") for n in doc["notes"])  # type: ignore[union-attr]


def test_meminfo_summed_over_two_nodes_equals_the_host_file(tmp_path: Path) -> None:
    # Handmade from real: pcp-numa2-m3 (2 NUMA nodes) with its proc/meminfo removed.
    root = _copy(tmp_path, "pcp-numa2-m3")
    host = parse_meminfo((root / "proc/meminfo").read_text())
    (root / "proc/meminfo").unlink()
    state = load_state(open_root(str(root)))
    assert state.meminfo is not None
    for name in ("MemTotal", "MemFree", "Active", "Dirty"):
        assert state.meminfo.kib(name) == sum(m.kib(name) or 0 for m in state.node_meminfo.values())
    # MemFree agrees with the host file to 0.001 %; this older kernel's node MemTotal counts
    # present pages (the host's, managed ones): 1.8 % more, which the note says.
    assert abs((state.meminfo.kib("MemFree") or 0) - (host.kib("MemFree") or 0)) < 1000
    assert 0 < (state.meminfo.kib("MemTotal") or 0) - (host.kib("MemTotal") or 0) < 0.02 * 131831052
    assert state.meminfo.kib("MemAvailable") is None  # absent, not zero: no node file prints it
    assert any("over nodes 0, 1" in n for n in state.notes)


def test_node_files_that_miss_a_node_are_not_summed() -> None:
    # Real: procfs-ttar-x86 has node1 and node2 vmstat, no node0, and a node-0 zoneinfo.
    state = load_state(open_root(str(REAL / "procfs-ttar-x86")))
    assert state.vmstat is None
    assert ("proc/vmstat is absent and sys/devices/system/node/node*/vmstat lacks node 0: "
            "not summed (it would undercount)") in state.notes


def test_extfrag_index_computed_when_only_unusable_index_was_posted() -> None:
    # Real: linuxmm-8node-4.9 holds buddyinfo and debugfs unusable_index only.
    root = REAL / "linuxmm-8node-4.9"
    doc = _json("--root", str(root), "show", "extfrag")
    buddy = parse_buddyinfo((root / "proc/buddyinfo").read_text())
    zones = doc["zones"]
    assert isinstance(zones, list) and len(zones) == len(buddy.zones)
    for z in zones:
        free = buddy.zone(z["node"], z["zone"])
        assert free is not None
        assert z["extfrag_index"] == [v / 1000 for v in fragmentation_indices(free.free_blocks)]
        assert z["matches_buddyinfo"] is True  # the posted unusable_index fits the posted buddyinfo
    assert any("extfrag_index is absent: its values are computed" in n
               for n in doc["notes"])  # type: ignore[union-attr]
    assert "note: sys/kernel/debug/extfrag/extfrag_index is absent" in \
        run_cli("--root", str(root), "show", "extfrag").out


def test_unusable_index_computed_when_only_extfrag_index_is_there(tmp_path: Path) -> None:
    # Handmade from real: hotsos-k8s-5.4 with its debugfs unusable_index removed.
    root = _copy(tmp_path, "hotsos-k8s-5.4")
    (root / "sys/kernel/debug/extfrag/unusable_index").unlink()
    doc = _json("--root", str(root), "show", "extfrag")
    buddy = parse_buddyinfo((root / "proc/buddyinfo").read_text())
    for z in doc["zones"]:  # type: ignore[union-attr]
        free = buddy.zone(z["node"], z["zone"])
        assert free is not None
        assert z["unusable_index"] == [v / 1000 for v in unusable_indices(free.free_blocks)]


def test_kswapd_cpu_from_a_sosreport_ps() -> None:
    # Real: sos-rhel8-4.18 keeps sos_commands/process/ps_auxwww, no proc/<pid>/stat.
    doc = _json("--root", str(REAL / "sos-rhel8-4.18"), "show", "kthreads")
    threads = doc["threads"]
    assert [(t["comm"], t["pid"], t["cpu_seconds"], t["utime_ticks"]) for t in threads] == [  # type: ignore[union-attr]
        ("kcompactd0", 29, 0, None), ("kswapd0", 49, 0, None)]
    assert any("read from sos_commands/process/ps_auxwww" in n for n in doc["notes"])  # type: ignore[union-attr]


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=3),
       st.sampled_from(["kswapd0", "kswapd1", "kcompactd0", "kswapd0:1"]))
def test_ps_time_in_every_procps_format(seconds: int, form: int, comm: str) -> None:
    m, s = divmod(seconds, 60)
    h, mm = divmod(m, 60)
    d, hh = divmod(h, 24)
    time = [f"{m}:{s:02d}", f"{h:02d}:{mm:02d}:{s:02d}", f"{d}-{hh:02d}:{mm:02d}:{s:02d}",
            f"{m}:{s:02d}"][form]
    text = ("USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n"
            f"root 7 1.5 0.0 0 0 ? S Jan01 {time} [{comm}]\nroot 8 0.0 0.0 0 0 ? S 02:19 0:01 [kthreadd]\n")
    (row,) = parse_ps_kthreads(text)
    assert (row.pid, row.comm, row.cpu_seconds, row.cpu_percent) == (7, comm, seconds, 1.5)


def test_kernel_release_from_proc_version_refuses_a_sysctl_that_kernel_lacks() -> None:
    # Real: android-3.4-highmem has no osrelease; proc/version says 3.4.5. Before, memstall
    # took the newest kernel and predicted vm.watermark_scale_factor, which 3.4 lacks.
    root = str(REAL / "android-3.4-highmem")
    state = load_state(open_root(root))
    assert state.kernel_release == "3.4.5"
    assert "kernel release 3.4.5 read from proc/version (proc/sys/kernel/osrelease is absent)" in state.notes
    r = run_cli("--root", root, "whatif", "--set", "vm.watermark_scale_factor=200")
    assert r.code == 2 and "does not exist before Linux 4.6" in r.err


def test_kernel_release_from_a_sosreport_uname(tmp_path: Path) -> None:
    # Handmade from real: hotsos-openstack-5.4 without the kernel.osrelease line of sysctl -a.
    root = _copy(tmp_path, "hotsos-openstack-5.4")
    sysctl = root / "sos_commands/kernel/sysctl_-a"
    sysctl.write_text("".join(line for line in sysctl.read_text().splitlines(keepends=True)
                              if not line.startswith("kernel.osrelease")))
    state = load_state(open_root(str(root)))
    assert state.kernel_release == "5.4.0-97-generic"
    assert any(n.startswith("kernel release 5.4.0-97-generic read from sos_commands/kernel/uname_-a")
               for n in state.notes)


@given(st.from_regex(r"[2-6]\.[0-9]{1,2}(\.[0-9]{1,3})?(-[a-z0-9._]{1,20})?", fullmatch=True),
       st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True))
def test_release_from_proc_version_and_uname_a(release: str, host: str) -> None:
    from memstall.parsers.version import parse_proc_version, parse_uname_a

    assert parse_proc_version(f"Linux version {release} (b@h) (gcc 9) #1 SMP Mon Jan 1\n") == release
    assert parse_uname_a(f"Linux {host} {release} #1 SMP Mon Jan 1 x86_64 GNU/Linux\n") == release
