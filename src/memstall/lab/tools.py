"""What the lab needs on the host: tools, a kernel image, a cache directory.

Every missing piece is an `InputError` with one line naming it and a hint saying how to
get it (Debian package names: the lab is developed and tested on Debian 12).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from memstall.errors import InputError

DEFAULT_CACHE = "/var/tmp/memstall-lab"
CLOUD_META = "linux-image-cloud-amd64"

# tool -> Debian package that provides it
PACKAGES = {
    "qemu-system-x86_64": "qemu-system-x86",
    "busybox": "busybox-static",
    "gcc": "gcc (and libc6-dev for static linking)",
    "dpkg-deb": "dpkg",
    "apt-get": "apt",
}


class LabUnavailable(InputError):
    """The host lacks something the lab needs (a tool, a kernel image, KVM)."""


def cache_dir(explicit: str | None = None) -> Path:
    """--cache, else $MEMSTALL_LAB_CACHE, else /var/tmp/memstall-lab (never the git tree)."""
    path = Path(explicit or os.environ.get("MEMSTALL_LAB_CACHE") or DEFAULT_CACHE)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".writable"
        probe.touch()
    except OSError as err:
        raise LabUnavailable(f"{path}: cannot use as the lab cache: {err.strerror}",
                             hint="pass --cache DIR or set MEMSTALL_LAB_CACHE to one you own") from None
    return path


def need_tool(name: str, why: str) -> str:
    """The absolute path of `name` on PATH, or a LabUnavailable naming its package."""
    found = shutil.which(name)
    if found is None:
        raise LabUnavailable(f"{name} not found ({why})",
                             hint=f"install it: apt-get install {PACKAGES.get(name, name)}")
    return found


def static_busybox() -> str:
    """busybox from busybox-static: the initramfs has no shared libraries."""
    path = need_tool("busybox", "the guest's shell and tools")
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if b"ld-linux" in head or b"/lib64/ld" in head:
        raise LabUnavailable(f"{path} is dynamically linked; the guest needs a static busybox",
                             hint="apt-get install busybox-static")
    return path


@dataclass(frozen=True)
class Kernel:
    """A bootable kernel image and where its modules are (None: none found)."""

    vmlinuz: Path
    release: str
    origin: str
    """'host /boot', 'cache (linux-image-... VERSION)' or 'given'."""
    modules_dir: Path | None


_RELEASE = re.compile(r"vmlinuz-(.+)$")


def _release_of(vmlinuz: Path) -> str:
    m = _RELEASE.search(vmlinuz.name)
    return m.group(1) if m else vmlinuz.name


def _modules_for(base: Path, release: str) -> Path | None:
    mod = base / "lib" / "modules" / release
    return mod if mod.is_dir() else None


def list_kernels(cache: Path, boot: Path = Path("/boot")) -> list[Kernel]:
    """Kernel images the lab can boot: the host's /boot and the ones unpacked in the cache."""
    found: list[Kernel] = []
    for img in sorted(boot.glob("vmlinuz-*")) if boot.is_dir() else []:
        rel = _release_of(img)
        found.append(Kernel(img, rel, "host /boot", _modules_for(Path("/"), rel)))
    for unpacked in sorted((cache / "kernels").glob("*/")):
        for img in sorted((unpacked / "boot").glob("vmlinuz-*")):
            rel = _release_of(img)
            found.append(Kernel(img, rel, f"cache ({unpacked.name})", _modules_for(unpacked, rel)))
    return found


def resolve_kernel(cache: Path, given: str | None, boot: Path = Path("/boot")) -> Kernel:
    """--kernel PATH, else the newest cached Debian kernel, else the host's newest /boot image."""
    if given:
        path = Path(given)
        if not path.is_file():
            raise LabUnavailable(f"{given}: no such kernel image",
                                 hint="`memstall lab kernels` lists the images the lab can use")
        rel = _release_of(path)
        return Kernel(path, rel, "given", _modules_for(path.parent.parent, rel) or
                      _modules_for(Path("/"), rel))
    kernels = list_kernels(cache, boot)
    cached = [k for k in kernels if k.origin.startswith("cache")]
    debs = sorted((cache / "debs").glob("linux-image-*.deb"))
    if not cached and debs:  # downloaded (e.g. by .ci/run) but not unpacked yet
        cached = [fetch_kernel(cache, debs[-1].name.split("_")[0])]
    pick = (cached or kernels)[-1:]
    if not pick:
        raise LabUnavailable("no kernel image: /boot has none and the lab cache holds none",
                             hint="`memstall lab kernels --fetch` downloads Debian's "
                                  f"{CLOUD_META} kernel into {cache}/kernels")
    return pick[0]


def cloud_kernel_package() -> str:
    """The linux-image-*-cloud-amd64 package the cloud meta-package depends on now."""
    need_tool("apt-get", "to download the Debian kernel package")
    out = subprocess.run(["apt-cache", "depends", CLOUD_META], capture_output=True, text=True,
                         check=False).stdout
    for line in out.splitlines():
        m = re.match(r"\s*Depends: (linux-image-\S+)", line)
        if m:
            return m.group(1)
    raise LabUnavailable(f"apt-cache knows no {CLOUD_META}",
                         hint="run apt-get update (Debian or Ubuntu with Debian sources)")


def fetch_kernel(cache: Path, package: str | None = None) -> Kernel:
    """`apt-get download` a kernel .deb into the cache and unpack it there (no root needed)."""
    pkg = package or cloud_kernel_package()
    if not re.fullmatch(r"linux-image-[A-Za-z0-9.+~-]+", pkg):
        raise LabUnavailable(f"{pkg}: not a linux-image-* package name")
    dpkg = need_tool("dpkg-deb", "to unpack the kernel package")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"{pkg}_*.deb")):
        r = subprocess.run([need_tool("apt-get", "to download the kernel"), "download", pkg],
                           cwd=debs, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise LabUnavailable(f"apt-get download {pkg} failed: {last}",
                                 hint="run apt-get update; the package must be in your apt sources")
    deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
    target = cache / "kernels" / deb.stem
    if not target.is_dir():
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        r = subprocess.run([dpkg, "-x", str(deb), str(tmp)], capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise LabUnavailable(f"dpkg-deb -x {deb.name} failed: {r.stderr.strip()[:200]}")
        tmp.rename(target)
    img = sorted((target / "boot").glob("vmlinuz-*"))
    if not img:
        raise LabUnavailable(f"{deb.name} holds no boot/vmlinuz-*")
    rel = _release_of(img[0])
    return Kernel(img[0], rel, f"cache ({deb.stem})", _modules_for(target, rel))


def how_to_get_a_kernel(cache: Path) -> str:
    return (f"memstall lab kernels --fetch   (apt-get download {CLOUD_META}'s kernel into "
            f"{cache}/debs and unpack it in {cache}/kernels), or pass --kernel /path/to/vmlinuz")
