#!/usr/bin/env bash
# The QEMU tier: the real /dev/gunyah path against a kernel. Builds gunyah_mock.ko for Debian's
# kernel and the project's binaries statically (musl), packs an initramfs (busybox + modules +
# binaries), boots the kernel under TCG and runs, inside the guest, the conformance suite
# against /dev/gunyah through the service's real backend (uapi ioctls, anon-inode fds, vCPU
# mmap, eventfds). The guest reports over the serial console; this script turns its markers
# into an exit status.
#
# Needs (installed by .ci/run): qemu-system-x86 linux-image-amd64 linux-headers-amd64
# busybox-static cpio musl-tools, and the Rust target x86_64-unknown-linux-musl.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The newest kernel that has both an image and headers.
kver=""
for dir in /lib/modules/*; do
    v=$(basename "$dir")
    [ -e "/boot/vmlinuz-$v" ] && [ -e "$dir/build/Makefile" ] && kver=$v
done
[ -n "$kver" ] || { echo "qemu tier: no kernel with headers under /lib/modules" >&2; exit 1; }
echo "qemu tier: kernel $kver"

echo "qemu tier: building gunyah_mock.ko"
make -s -C "$repo/kernel/gunyah_mock" KDIR="/lib/modules/$kver/build" >"$work/kbuild.log" 2>&1 || {
    cat "$work/kbuild.log"; exit 1; }
if grep -q 'warning:' "$work/kbuild.log"; then cat "$work/kbuild.log"; echo "qemu tier: W=1 warnings" >&2; exit 1; fi

echo "qemu tier: building static binaries"
target=x86_64-unknown-linux-musl
(cd "$repo" && cargo build -q --release --target $target -p gunyah-vm-tests --bin gunyah-conformance)
bin="$repo/target/$target/release"

root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for tool in sh mount insmod poweroff cat echo mkdir ls sleep dmesg; do ln -s busybox "$root/bin/$tool"; done
cp "$repo/kernel/gunyah_mock/gunyah_mock.ko" "$root/lib/modules/"
cp "$bin/gunyah-conformance" "$root/bin/"
cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
echo "QEMU-TIER: booted $(cat /proc/sys/kernel/osrelease)"
if insmod /lib/modules/gunyah_mock.ko; then
    echo "QEMU-TIER: gunyah_mock loaded"
else
    echo "QEMU-TIER: FAIL insmod gunyah_mock"
fi
ls -l /dev/gunyah
if /bin/gunyah-conformance --device /dev/gunyah; then
    echo "QEMU-TIER: PASS conformance"
else
    echo "QEMU-TIER: FAIL conformance"
fi
dmesg | grep -iE 'gunyah|bug|warn|oops' | head -20
echo "QEMU-TIER: done"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"

echo "qemu tier: booting (TCG)"
timeout 600 qemu-system-x86_64 -accel tcg -smp 1 -m 1024 -nographic -no-reboot \
    -kernel "/boot/vmlinuz-$kver" -initrd "$work/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1" > "$work/console.log" 2>&1 || true
sed -n '/QEMU-TIER: booted/,/QEMU-TIER: done/p' "$work/console.log"

grep -q 'QEMU-TIER: done' "$work/console.log" || { tail -50 "$work/console.log"; echo "qemu tier: the guest did not finish" >&2; exit 1; }
if grep -q 'QEMU-TIER: FAIL' "$work/console.log"; then
    echo "qemu tier: FAILED" >&2
    exit 1
fi
grep -q 'QEMU-TIER: PASS conformance' "$work/console.log"
echo "qemu tier: passed"
