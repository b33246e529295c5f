"""memstall lab on the host, without booting: errors, profiles, the console protocol,
the initramfs format, scenario sizing and the run order."""

from __future__ import annotations

import base64
import gzip
import shutil
from pathlib import Path

import pytest

from conftest import run_cli
from memstall.lab import tools
from memstall.lab.initramfs import cpio_newc, guest_source
from memstall.lab.profiles import Profile, load_profile
from memstall.lab.qemu import GuestError, choose_accel, parse_console, qemu_command
from memstall.lab.runner import run_order
from memstall.lab.scenarios import guest_params, params_file


def _path_with(tmp_path: Path, *tools_present: str) -> str:
    """A PATH directory holding only the named host tools (symlinks to the real ones)."""
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for t in tools_present:
        real = shutil.which(t)
        if real:
            (d / t).symlink_to(real)
    return str(d)


def _fake_kernel(tmp_path: Path) -> Path:
    img = tmp_path / "boot" / "vmlinuz-6.1.0-test"
    img.parent.mkdir(parents=True, exist_ok=True)
    img.write_bytes(b"not booted by these tests")
    return img


@pytest.mark.parametrize(("present", "message"), [
    ((), "qemu-system-x86_64 not found (to boot the guest)"),
    (("qemu-system-x86_64",), "busybox not found (the guest's shell and tools)"),
])
def test_missing_tool_is_one_line_naming_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     present: tuple[str, ...], message: str) -> None:
    if "qemu-system-x86_64" in present and not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is not installed here")
    monkeypatch.setenv("PATH", _path_with(tmp_path, *present))
    r = run_cli("lab", "run", "--scenario", "fragmentation", "--profile", "current",
                "--kernel", str(_fake_kernel(tmp_path)), "--cache", str(tmp_path / "cache"),
                "-o", str(tmp_path / "out"))
    assert r.code == 3
    assert r.err.splitlines()[0] == f"memstall: error: {message}"
    assert r.err.splitlines()[1].startswith("hint: install it: apt-get install ")
    assert "Traceback" not in r.err


def test_missing_gcc_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (shutil.which("qemu-system-x86_64") and shutil.which("busybox")):
        pytest.skip("needs qemu-system-x86_64 and busybox to get as far as gcc")
    monkeypatch.setenv("PATH", _path_with(tmp_path, "qemu-system-x86_64", "busybox"))
    r = run_cli("lab", "run", "--scenario", "fragmentation", "--profile", "current",
                "--kernel", str(_fake_kernel(tmp_path)), "--cache", str(tmp_path / "cache"),
                "-o", str(tmp_path / "out"))
    assert r.code == 3
    assert "gcc not found (to build the guest's static workload helper)" in r.err


def test_missing_kernel(tmp_path: Path) -> None:
    r = run_cli("lab", "run", "--scenario", "seed", "--profile", "current",
                "--kernel", str(tmp_path / "vmlinuz-nope"), "--cache", str(tmp_path / "c"))
    assert r.code == 3 and "vmlinuz-nope: no such kernel image" in r.err
    with pytest.raises(tools.LabUnavailable, match="no kernel image") as err:
        tools.resolve_kernel(tools.cache_dir(str(tmp_path / "empty")), None, boot=tmp_path / "noboot")
    assert "memstall lab kernels --fetch" in str(err.value.hint)


def test_kernels_lists_boot_and_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    unpacked = cache / "kernels" / "linux-image-6.1.0-9-cloud-amd64_6.1.1-1_amd64"
    (unpacked / "boot").mkdir(parents=True)
    (unpacked / "boot" / "vmlinuz-6.1.0-9-cloud-amd64").write_bytes(b"x")
    (unpacked / "lib" / "modules" / "6.1.0-9-cloud-amd64").mkdir(parents=True)
    _fake_kernel(tmp_path)
    found = tools.list_kernels(cache, tmp_path / "boot")
    assert [(k.release, k.origin.split(" ")[0]) for k in found] == [
        ("6.1.0-test", "host"), ("6.1.0-9-cloud-amd64", "cache")]
    assert tools.resolve_kernel(cache, None, tmp_path / "boot").release == "6.1.0-9-cloud-amd64"
    r = run_cli("lab", "kernels", "--cache", str(cache))
    assert r.code == 0 and "6.1.0-9-cloud-amd64" in r.out and "--fetch" in r.out


def test_accel_kvm_without_dev_kvm(tmp_path: Path) -> None:
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is not installed here")
    img = _fake_kernel(tmp_path)
    with pytest.raises(tools.LabUnavailable, match="--accel kvm: /dev/kvm is missing"):
        choose_accel("kvm", tmp_path, img, img, kvm_dev=str(tmp_path / "kvm"))
    assert choose_accel("auto", tmp_path, img, img, kvm_dev=str(tmp_path / "kvm")) == (
        "tcg", "/dev/kvm is missing or not writable")


@pytest.mark.parametrize(("text", "message"), [
    ("vm.swappiness = 10\nnet.ipv4.conf.*.rp_filter = 2\n", ":2: the lab applies plain 'key = value' lines"),
    ("# nothing\n", "no sysctl assignments in the profile"),
])
def test_bad_profiles(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "p.conf"
    f.write_text(text)
    r = run_cli("lab", "run", "--scenario", "thp", "--profile", str(f), "--cache", str(tmp_path / "c"))
    assert r.code == 3 and message in r.err and "Traceback" not in r.err


def test_profile_lines_for_the_guest(tmp_path: Path) -> None:
    f = tmp_path / "90-memstall.conf"
    f.write_text("# memstall\nvm.watermark_scale_factor = 196\n-vm/dirty_bytes=2662334464\n"
                 "vm.lowmem_reserve_ratio = 256 256 32\n")
    p = load_profile(str(f))
    assert p.name == "90-memstall"
    assert p.guest_lines() == (b"+ vm/watermark_scale_factor 196\n- vm/dirty_bytes 2662334464\n"
                               b"+ vm/lowmem_reserve_ratio 256 256 32\n")
    assert load_profile("current").settings == ()


def test_unusable_cache_and_output(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = run_cli("lab", "kernels", "--cache", str(blocker / "cache"))
    assert r.code == 3 and "cannot use as the lab cache" in r.err and "Traceback" not in r.err


def test_usage_errors() -> None:
    r = run_cli("lab", "run", "--scenario", "seed", "--profile", "current", "--memory", "lots")
    assert r.code == 2 and "--memory 'lots'" in r.err
    r = run_cli("lab", "run", "--scenario", "seed", "--profile", "current", "--memory", "256M",
                "--nodes", "4")
    assert r.code == 2 and "at least 128 MiB" in r.err


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def test_console_protocol() -> None:
    text = ("\x1b[?7lnoise\r\n===LOG guest up: scenario=seed a=b===\r\n"
            f"===BEGIN snap-0 /proc/vmstat===\r\n{_b64(b'nr_free_pages 5' + bytes(range(256)))}"
            "===END snap-0 /proc/vmstat===\r\n[ 1.0] kernel says hi\n===DONE===\n")
    c = parse_console(text)
    assert c.files == {"snap-0": {"/proc/vmstat": b"nr_free_pages 5" + bytes(range(256))}}
    assert c.logs == ["guest up: scenario=seed a=b"] and c.done and not c.failed
    assert c.other == ["\x1b[?7lnoise", "[ 1.0] kernel says hi"]


@pytest.mark.parametrize(("text", "message"), [
    ("===BEGIN run /x===\nQUJD\n[ 3.2] oops\n===END run /x===\n", "console:3: stray text inside /x"),
    ("===END run /x===\n", "console:1: END 'run /x' closes no open file"),
    ("===BEGIN run /x===\nQUJ\n===END run /x===\n", "console:3: /x: bad base64"),
])
def test_console_errors(text: str, message: str) -> None:
    with pytest.raises(GuestError, match=message.replace("(", r"\(")):
        parse_console(text)


def _read_newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    """An independent newc reader: header fields are 8 hex digits (cpio(5))."""
    out, off = {}, 0
    while True:
        assert data[off:off + 6] == b"070701"
        f = [int(data[off + 6 + 8 * i: off + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = f[1], f[6], f[11]
        name = data[off + 110: off + 110 + namesize - 1].decode()
        off = (off + 110 + namesize + 3) & ~3
        body = data[off: off + size]
        off = (off + size + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, body)


def test_cpio_newc_round_trip() -> None:
    arc = cpio_newc({"init": (0o755, b"#!/bin/sh\n"), "lab/params": (0o644, b"A='1'\n")}, ["lab"],
                    console=True)
    got = _read_newc(arc)
    assert got["init"] == (0o100755, b"#!/bin/sh\n")
    assert got["lab/params"] == (0o100644, b"A='1'\n")
    assert got["lab"][0] == 0o40755 and got["dev/console"][0] == 0o20600
    assert len(arc) % 4 == 0
    gzip.compress(arc)  # the base archive is gzip'd the same way


def test_guest_sources_are_package_data() -> None:
    assert guest_source("init").startswith(b"#!/bin/busybox sh")
    assert b"int main" in guest_source("workload.c")
    assert b'#include "node_mem.h"' in guest_source("workload.c")
    assert b"fill_node" in guest_source("node_mem.h")


def test_scenario_sizing_and_params() -> None:
    p = guest_params("fragmentation", 1024, 2, 30, 2)
    assert (p["ORDER"], p["COUNT"], p["NODES"]) == ("4", "2048", "2")  # 1/4 of 512 MiB in 64 KiB
    seed = guest_params("seed", 1024, 2, 30, 2)
    assert seed["HUGEPAGES"] == "256" and seed["DISK"] == "1"  # 256 x 2 MiB = half of 1 GiB
    assert b"SCENARIO='seed'\n" in params_file(seed)


def test_qemu_command_numa_layout(tmp_path: Path) -> None:
    cmd = qemu_command("qemu", tmp_path / "vmlinuz", tmp_path / "initrd.gz", 1000, 3, "tcg",
                       disk=tmp_path / "d.img")
    assert cmd[cmd.index("-accel") + 1] == "tcg" and cmd[cmd.index("-smp") + 1] == "3"
    assert [a for a in cmd if a.startswith("memory-backend-ram")] == [
        "memory-backend-ram,id=m0,size=333M", "memory-backend-ram,id=m1,size=333M",
        "memory-backend-ram,id=m2,size=334M"]
    assert f"file={tmp_path / 'd.img'},format=raw,if=virtio,cache=unsafe" in cmd


def test_run_order_alternates() -> None:
    a, b = Profile("a", "current", "", ()), Profile("b", "b.conf", "x", (("vm/x", "1", False),))
    assert [p.name for p in run_order((a, b), 3)] == ["a", "b", "b", "a", "a", "b"]
