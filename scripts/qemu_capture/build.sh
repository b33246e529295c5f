#!/bin/bash
# Build the kernel + initramfs for the QEMU capture guest (see README.md).
# Everything goes to $WORK (default /var/tmp/memstall-qemu), never into git.
#
#   scripts/qemu_capture/build.sh            # uses/fetches the Debian cloud kernel
#   KPKG=linux-image-6.1.0-56-cloud-amd64 scripts/qemu_capture/build.sh
#
# Needs (Debian): qemu-system-x86 busybox-static cpio gcc libc6-dev (+ apt-get download).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/var/tmp/memstall-qemu}
mkdir -p "$WORK"
cd "$WORK"

if [ "${INSTALL:-0}" = 1 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        qemu-system-x86 busybox-static cpio gcc libc6-dev
fi
for t in qemu-system-x86_64 busybox cpio gcc gzip dpkg-deb; do
    command -v "$t" >/dev/null || { echo "missing: $t (INSTALL=1 $0 installs the packages)" >&2; exit 1; }
done
file -L "$(command -v busybox)" 2>/dev/null | grep -q 'statically linked' || \
    echo "warning: busybox does not look static; install busybox-static" >&2

# --- kernel: the package the linux-image-cloud-amd64 meta-package points at
if [ -z "${KPKG:-}" ]; then
    KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
           | awk '/Depends: linux-image-/{print $2; exit}')
fi
[ -n "$KPKG" ] || { echo "cannot resolve the cloud kernel package (apt-get update?)" >&2; exit 1; }
deb=$(ls "$WORK"/${KPKG}_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
    (cd "$WORK" && apt-get download "$KPKG")
    deb=$(ls "$WORK"/${KPKG}_*.deb | head -1)
fi
rm -rf "$WORK/kpkg"
dpkg-deb -x "$deb" "$WORK/kpkg"
vmlinuz=$(ls "$WORK"/kpkg/boot/vmlinuz-* | head -1)
config=$(ls "$WORK"/kpkg/boot/config-* | head -1)
for opt in CONFIG_DEBUG_FS CONFIG_COMPACTION CONFIG_NUMA CONFIG_SERIAL_8250_CONSOLE \
           CONFIG_DEVTMPFS CONFIG_BLK_DEV_INITRD CONFIG_RD_GZIP CONFIG_TMPFS; do
    grep -q "^$opt=y" "$config" || { echo "kernel config lacks $opt=y" >&2; exit 1; }
done
cp "$vmlinuz" "$WORK/vmlinuz"
basename "$vmlinuz" | sed 's/^vmlinuz-//' > "$WORK/kernel-release"
dpkg-deb -f "$deb" Version > "$WORK/kernel-version"
echo "$KPKG" > "$WORK/kernel-package"

# --- initramfs
gcc -static -O2 -Wall -I "$HERE/../../src/memstall/lab/guest" -o "$WORK/fragment" "$HERE/fragment.c"
root="$WORK/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run}
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$HERE/init" "$root/init"
cp "$WORK/fragment" "$root/fragment"
chmod 755 "$root/init" "$root/fragment" "$root/bin/busybox"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9) > "$WORK/initrd.gz"
echo "built: $WORK/vmlinuz ($(cat "$WORK/kernel-release"), $(cat "$WORK/kernel-version")) $WORK/initrd.gz"
