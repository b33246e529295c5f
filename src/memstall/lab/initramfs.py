"""The guest's initramfs: busybox, /init and the workload helper, in a cache directory.

The archive is written here in the kernel's `newc` cpio format (no cpio tool needed) and
gzip-compressed. The base archive depends on the shipped guest sources, the host's
busybox and the kernel's block-device modules, and is rebuilt only when one of them
changes. Each run adds a small second archive (its parameters and profile): the kernel
unpacks concatenated archives in order (Documentation/driver-api/early-userspace/
buffer-format.rst), so the run's files land on top of the base.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import re
import stat
import subprocess
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from memstall.lab.tools import Kernel, LabUnavailable, need_tool, static_busybox

# Modules the guest loads to see a virtio disk (cache-pressure, seed), when not built in.
DISK_MODULES = ("virtio_blk",)

_DIRS = ("bin", "dev", "proc", "sys", "tmp", "run", "mnt", "lab", "lib", "lib/modules")


def guest_source(name: str) -> bytes:
    """A file of memstall/lab/guest/ (package data)."""
    return resources.files("memstall.lab").joinpath("guest").joinpath(name).read_bytes()


def _entry(name: str, mode: int, data: bytes = b"", ino: int = 0, rdev: tuple[int, int] = (0, 0)) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    head = b"070701" + b"".join(b"%08X" % v for v in fields) + encoded
    head += b"\0" * (-len(head) % 4)
    return head + data + b"\0" * (-len(data) % 4)


def cpio_newc(files: Mapping[str, tuple[int, bytes]], dirs: Iterable[str] = (),
              console: bool = False) -> bytes:
    """A newc archive: `dirs` (mode 0755), then `files` {name: (mode, bytes)}, then the trailer."""
    out = []
    ino = 1
    for d in dirs:
        out.append(_entry(d, stat.S_IFDIR | 0o755, ino=ino))
        ino += 1
    if console:
        out.append(_entry("dev/console", stat.S_IFCHR | 0o600, ino=ino, rdev=(5, 1)))
        ino += 1
    for name, (mode, data) in sorted(files.items()):
        out.append(_entry(name, stat.S_IFREG | mode, data, ino=ino))
        ino += 1
    out.append(_entry("TRAILER!!!", 0))
    return b"".join(out)


def _ko_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    return data


def _find_module(mod_dir: Path, name: str) -> Path | None:
    for suffix in (".ko", ".ko.xz", ".ko.gz"):
        hits = sorted(mod_dir.joinpath("kernel").rglob(name + suffix))
        if hits:
            return hits[0]
    return None


def _depends(ko: bytes) -> list[str]:
    m = re.search(rb"depends=([A-Za-z0-9_,-]*)\0", ko)
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def disk_modules(kernel: Kernel) -> list[tuple[str, bytes]]:
    """(name, .ko bytes) to insmod in this order for a virtio disk; [] when built in."""
    mod_dir = kernel.modules_dir
    builtin = mod_dir / "modules.builtin" if mod_dir is not None else None
    if builtin is not None and builtin.exists() and "/virtio_blk.ko" in builtin.read_text():
        return []
    if mod_dir is None:
        raise LabUnavailable(f"no modules directory for {kernel.release}: the disk scenarios need "
                             "virtio_blk", hint="use the Debian cloud kernel (`memstall lab kernels "
                             "--fetch`), which ships its modules")
    order: list[tuple[str, bytes]] = []

    def visit(name: str) -> None:
        if any(n == name for n, _ in order):
            return
        path = _find_module(mod_dir, name)
        if path is None:
            raise LabUnavailable(f"{mod_dir}: module {name} not found (needed for the guest's disk)")
        ko = _ko_bytes(path)
        for dep in _depends(ko):
            visit(dep)
        order.append((name, ko))

    for name in DISK_MODULES:
        visit(name)
    # virtio_blk depends only on virtio and virtio_ring; the PCI transport is what finds the disk
    visit("virtio_pci")
    return order


GUEST_HEADERS = ("node_mem.h",)  # #included by workload.c (and scripts/qemu_capture/fragment.c)


def _compile_workload(cache: Path, source: bytes) -> bytes:
    headers = {name: guest_source(name) for name in GUEST_HEADERS}
    digest = hashlib.sha256(source + b"".join(headers.values())).hexdigest()[:16]
    out = cache / "build" / f"workload-{digest}"
    if not out.exists():
        gcc = need_tool("gcc", "to build the guest's static workload helper")
        src_dir = cache / "build" / f"src-{digest}"
        src_dir.mkdir(parents=True, exist_ok=True)
        for name, text in headers.items():
            (src_dir / name).write_bytes(text)
        src = src_dir / "workload.c"
        src.write_bytes(source)
        r = subprocess.run([gcc, "-static", "-O2", "-Wall", "-o", str(out) + ".tmp", str(src)],
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            first = (r.stderr.strip().splitlines() or ["no output"])[0]
            raise LabUnavailable(f"gcc -static failed on workload.c: {first}",
                                 hint="static linking needs libc6-dev (apt-get install gcc libc6-dev)")
        Path(str(out) + ".tmp").rename(out)
    return out.read_bytes()


def build_base(cache: Path, kernel: Kernel, with_disk: bool) -> Path:
    """The base initrd.gz for this kernel (cached by content)."""
    busybox = Path(static_busybox()).read_bytes()
    init = guest_source("init")
    workload = _compile_workload(cache, guest_source("workload.c"))
    modules = disk_modules(kernel) if with_disk else []
    files: dict[str, tuple[int, bytes]] = {
        "bin/busybox": (0o755, busybox), "init": (0o755, init), "workload": (0o755, workload)}
    for name, ko in modules:
        files[f"lib/modules/{name}.ko"] = (0o644, ko)
    files["lab/modules"] = (0o644, " ".join(n for n, _ in modules).encode() + b"\n")
    h = hashlib.sha256()
    for name, (_mode, data) in sorted(files.items()):
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    out = cache / "build" / f"initrd-{h.hexdigest()[:16]}.gz"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(gzip.compress(cpio_newc(files, _DIRS, console=True), compresslevel=6, mtime=0))
        tmp.rename(out)
    return out

