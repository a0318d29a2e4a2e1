#!/usr/bin/env bash
# The QEMU tier: the real /dev/gunyah path against a kernel. Builds gunyah_mock.ko for Debian's
# kernel and the project's binaries (the workspace's debug build, which `cargo test --workspace`
# reuses; `--release` for optimised ones), packs an initramfs (busybox, the modules, the binaries
# and the C libraries they link), boots the kernel under TCG and runs, inside the guest, the
# conformance suite against /dev/gunyah through the service's real backend (uapi ioctls,
# anon-inode fds, vCPU mmap, eventfds). The guest reports over the serial console; this script
# turns its markers into an exit status. Then the product on real kernel binder: binder_linux with rsb_hub as
# the service manager, gunyah-vm-service on the kernel mock, gunyahctl running the hello guest
# with an MMIO console through the service, VtsHalGunyahTargetTest, the timed data path (MMIO
# exits, doorbells and ioeventfds) and a SIGKILLed client's VM freed by the driver.
# In every generation, the hostile tier (tests/qemu/hostile.c, issue 34): a reproducer per bug a
# hostile /dev/gunyah user found, and a random-ioctl fuzzer; the guest boots with page_poison=1
# and slub_debug=FZPU, and any WARNING, BUG, Oops, hung task or poison report in its kernel log
# fails the tier.
#
#   tests/qemu/run.sh [--release] [--hostile-only]
#
# --hostile-only: the hostile tier alone (no cargo build), for working on the kernel mock.
# GUNYAH_FUZZ_SECS=N: the fuzzer's time per generation (default 5; e.g. 600 to fuzz for long).
#
# Needs qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static cpio: tests/prereqs.sh
# qemu installs them.
set -euo pipefail
profile=debug
profile_args=()
hostile_only=0
for arg in "$@"; do
    case "$arg" in
        --release) profile=release; profile_args=(--release) ;;
        --hostile-only) hostile_only=1 ;;
        *) echo "usage: tests/qemu/run.sh [--release] [--hostile-only]" >&2; exit 2 ;;
    esac
done
fuzz_secs=${GUNYAH_FUZZ_SECS:-5}
[[ "$fuzz_secs" =~ ^[0-9]+$ ]] || { echo "qemu tier: GUNYAH_FUZZ_SECS must be a number of seconds" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
"$repo/tests/prereqs.sh" qemu
work=$(mktemp -d)
hub_pid=""
trap '[ -z "$hub_pid" ] || kill "$hub_pid" 2>/dev/null; rm -rf "$work"' EXIT

# The newest kernel that has both an image and headers.
kver=""
for dir in /lib/modules/*; do
    v=$(basename "$dir")
    [ -e "/boot/vmlinuz-$v" ] && [ -e "$dir/build/Makefile" ] && kver=$v
done
[ -n "$kver" ] || { echo "qemu tier: no kernel with headers under /lib/modules" >&2; exit 1; }
echo "qemu tier: kernel $kver"

# W=1 (the module's Makefile) and sparse on every file (C=2), warnings are errors.
echo "qemu tier: building gunyah_mock.ko (W=1, sparse)"
make -s -C "$repo/kernel/gunyah_mock" KDIR="/lib/modules/$kver/build" C=2 >"$work/kbuild.log" 2>&1 || {
    cat "$work/kbuild.log"; exit 1; }
if grep -q 'warning:' "$work/kbuild.log"; then cat "$work/kbuild.log"; echo "qemu tier: W=1 or sparse warnings" >&2; exit 1; fi
# The hostile tier's reproducers and fuzzer: C against the module's own uapi.h, static.
gcc -static -O2 -Wall -Wextra -Werror -pthread -I "$repo/kernel/gunyah_mock" \
    -o "$work/gunyah-hostile" "$repo/tests/qemu/hostile.c"

if [ $hostile_only = 0 ]; then
# The debug build by default, not a release build of its own: it is the build `cargo test
# --workspace` makes anyway (CI runs that later, at no further cost), and overflow checks and
# debug assertions stay on inside the guest. `--release` builds optimised binaries, for the
# data path's timings (docs/BENCHMARKS.md).
#
# rsb_hub (rsbinder-tools: the kernel binder service manager) builds alongside, in a target
# directory of its own: the two builds share no crate, and each leaves one core idle at times.
tools="$repo/target/qemu-tools"
if [ ! -x "$tools/bin/rsb_hub" ]; then
    echo "qemu tier: building rsb_hub (rsbinder-tools) alongside"
    cargo install -q rsbinder-tools@0.12.0 --bin rsb_hub --root "$tools" >"$work/rsb_hub.log" 2>&1 &
    hub_pid=$!
fi
echo "qemu tier: building the workspace's binaries and tests ($profile)"
(cd "$repo" && cargo build -q --workspace --bins "${profile_args[@]}")
bin="$repo/target/$profile"
# The AOSP rust_test modules, built as host tests: VtsHalGunyahTargetTest and
# GunyahConformanceTest (their cases run with --include-ignored, below).
tests_json=$(cd "$repo" && cargo test -q --workspace --no-run "${profile_args[@]}" --message-format=json)
test_exe() { # Cargo test target name
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("target", {}).get("name") == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1" <<<"$tests_json"
}
vts=$(test_exe vts_hal_gunyah_target_test)
conformance_test=$(test_exe conformance_device)
for t in "$vts" "$conformance_test"; do
    [ -x "$t" ] || { echo "qemu tier: a test binary is missing (VTS: '$vts', conformance: '$conformance_test')" >&2; exit 1; }
done
if [ -n "$hub_pid" ]; then
    wait "$hub_pid" || { cat "$work/rsb_hub.log"; echo "qemu tier: building rsb_hub failed" >&2; exit 1; }
    hub_pid=""
fi
fi
binder_ko=$(find "/lib/modules/$kver/kernel/drivers/android" -name 'binder_linux.ko*' | head -1)
[ -n "$binder_ko" ] || { echo "qemu tier: no binder_linux module in $kver" >&2; exit 1; }

root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for tool in sh mount insmod rmmod poweroff cat echo mkdir ls ln sleep usleep dmesg grep kill head tail xz wc; do
    ln -s busybox "$root/bin/$tool"
done
cp "$repo/kernel/gunyah_mock/gunyah_mock.ko" "$root/lib/modules/"
# binder_linux for the product; a RAM disk and ext4 (with what it needs) for the hostile tier's
# file-backed guest memory.
extra_kos=$(cd "/lib/modules/$kver" && grep -E '^kernel/(drivers/block/brd|fs/ext4/ext4|crypto/crc32c_generic)\.ko' modules.dep | tr -d ':' | tr ' ' '\n')
for ko in "$binder_ko" $(for k in $extra_kos; do echo "/lib/modules/$kver/$k"; done); do
    name=$(basename "$ko"); name=${name%.xz}
    case "$ko" in
        *.xz) xz -dc "$ko" > "$root/lib/modules/$name" ;;
        *) cp "$ko" "$root/lib/modules/$name" ;;
    esac
done
cp "$work/gunyah-hostile" "$root/bin/gunyah-hostile"
printf 'hostile_only=%s\nfuzz_secs=%s\n' "$hostile_only" "$fuzz_secs" > "$root/tier.conf"
# Copies a binary into the initramfs without its debug info (the initramfs lives in the guest's
# 1 GiB), with the shared libraries and the dynamic loader it links, at the paths ldd names.
install_bin() { # path [name in /bin]
    objcopy --strip-debug "$1" "$root/bin/${2:-$(basename "$1")}"
    local lib
    for lib in $(ldd "$1" 2>/dev/null | grep -oE '/[^ ]+' || true); do
        [ -e "$root$lib" ] || cp --parents -L "$lib" "$root"
    done
}
if [ $hostile_only = 0 ]; then
    install_bin "$vts" vts_hal_gunyah_target_test
    install_bin "$conformance_test" gunyah_conformance_test
    for b in gunyah-conformance gunyah-bench gunyah-vm-service gunyahctl gunyah-test-client; do
        install_bin "$bin/$b"
    done
    install_bin "$tools/bin/rsb_hub"
fi
cp "$repo/examples/guests/hello.s" "$root/hello.s"
cp -r "$repo/tests/data/guest_corpus" "$root/corpus"
# Where GunyahConformanceTest looks for the corpus: beside itself, as Android.bp's `data` puts it.
mkdir -p "$root/bin/tests/data"
ln -s /corpus "$root/bin/tests/data/guest_corpus"
cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
echo "QEMU-TIER: booted $(cat /proc/sys/kernel/osrelease)"
. /tier.conf
# The guest's kernel log at the end: a warning, oops, hung task or poison report fails the tier.
kernel_log_check() {
    bad='WARNING:|BUG:|BUG [^ ]+ \(|Oops|Call Trace|general protection|blocked for more than|hung_task|pagealloc: memory corruption|Poison overwritten|KFENCE:|KASAN:|refcount_t:|list_(add|del) corruption'
    dmesg | grep -E "$bad|gunyah" | grep -v 'taint' | head -40
    if dmesg | grep -qE "$bad"; then
        echo "QEMU-TIER: FAIL the kernel log has a warning, oops, hung task or poison report"
    else
        echo "QEMU-TIER: PASS the kernel log has no warning, oops, hung task or poison report"
    fi
}
# A task in D state for 10 s is reported (and fails the tier, below).
echo 10 > /proc/sys/kernel/hung_task_timeout_secs
# The hostile tier's file-backed guest memory: ext2 (the ext4 driver) on a 16 MiB RAM disk.
for m in crc16 crc32c_generic mbcache jbd2 ext4; do insmod /lib/modules/$m.ko || echo "insmod $m failed"; done
insmod /lib/modules/brd.ko rd_nr=1 rd_size=16384 || echo "insmod brd failed"
i=0; while [ ! -b /dev/ram0 ] && [ $i -lt 100 ]; do usleep 20000; i=$((i+1)); done
mkdir -p /mnt
if [ -b /dev/ram0 ] && mke2fs -q /dev/ram0 && mount -t ext2 /dev/ram0 /mnt; then
    echo "QEMU-TIER: ext2 on /dev/ram0 mounted"
else
    echo "QEMU-TIER: FAIL no file system for the hostile tier's file-backed memory"
fi
# The hostile tier in one generation: the reproducers of issue 34, then the fuzzer. Each line
# it prints is a marker (PASS or FAIL); the module's test-only race delay is reset after it.
hostile() {
    start=$(cat /proc/uptime); start=${start%%.*}
    mlocked=$(grep '^Mlocked:' /proc/meminfo)
    gunyah-hostile $1 freed-page removed-vcpu huge-region wait-stolen wait-stolen-nonblock \
        memlock-owner dtb-wrap dirty-file fuzz=$fuzz_secs > /tmp/hostile-$1.txt 2>&1
    status=$?
    end=$(cat /proc/uptime); end=${end%%.*}
    sed 's/^\(PASS\|FAIL\) /QEMU-TIER: \1 hostile: /' /tmp/hostile-$1.txt
    echo 0 > /sys/module/gunyah_mock/parameters/race_delay_ms
    # Once the process is gone: no VM left, Mlocked as it was.
    i=0; while [ "$(cat /sys/module/gunyah_mock/parameters/live_vms)" != 0 ] && [ $i -lt 100 ]; do usleep 50000; i=$((i+1)); done
    if [ "$(cat /sys/module/gunyah_mock/parameters/live_vms)" != 0 ] || [ "$(grep '^Mlocked:' /proc/meminfo)" != "$mlocked" ]; then
        echo "QEMU-TIER: FAIL hostile: live_vms $(cat /sys/module/gunyah_mock/parameters/live_vms), $mlocked -> $(grep '^Mlocked:' /proc/meminfo) ($1)"
        status=1
    fi
    if [ $status = 0 ] && ! grep -q '^FAIL' /tmp/hostile-$1.txt; then
        echo "QEMU-TIER: PASS hostile tier ($1, $((end - start)) s)"
    else
        echo "QEMU-TIER: FAIL hostile tier ($1, exit $status)"
    fi
}
# The conformance suite in each generation the kernel mock models, the module reloaded per
# generation, and the service's start-up probe (it must name the generation).
for gen in a14-early a14-late ack66-early ack-newest ack66-late; do
    if insmod /lib/modules/gunyah_mock.ko generation=$gen; then
        echo "QEMU-TIER: gunyah_mock loaded, generation=$gen"
    else
        echo "QEMU-TIER: FAIL insmod gunyah_mock generation=$gen"
    fi
    # The memlock case's second process runs as nobody, whom RLIMIT_MEMLOCK binds.
    chmod 666 /dev/gunyah
    ls -l /dev/gunyah
    hostile $gen
    if [ "$hostile_only" = 1 ]; then
        rmmod gunyah_mock || echo "QEMU-TIER: FAIL rmmod gunyah_mock"
        continue
    fi
    if /bin/gunyah-conformance --device /dev/gunyah --corpus /corpus > /tmp/conformance-$gen.txt 2>&1; then
        head -1 /tmp/conformance-$gen.txt; grep '^PASS process/' /tmp/conformance-$gen.txt
        tail -1 /tmp/conformance-$gen.txt
        echo "QEMU-TIER: PASS conformance ($gen)"
        [ "$(grep -c '^PASS process/' /tmp/conformance-$gen.txt)" = 2 ] \
            && echo "QEMU-TIER: PASS second-process cases ($gen)"
    else
        cat /tmp/conformance-$gen.txt
        echo "QEMU-TIER: FAIL conformance ($gen)"
    fi
    # GunyahConformanceTest: the suite, the corpus and the second-process cases, the test
    # harness playing its own second process (--nocapture and one thread: its case lines, whole).
    if gunyah_conformance_test --include-ignored --nocapture --test-threads=1 > /tmp/gct-$gen.txt 2>&1 &&
            grep -q '^PASS process/owner-only-memory-and-run' /tmp/gct-$gen.txt &&
            grep -q '^PASS process/memlock-at-first-touch' /tmp/gct-$gen.txt; then
        grep -E '^PASS process/|^test result' /tmp/gct-$gen.txt
        echo "QEMU-TIER: PASS GunyahConformanceTest ($gen)"
    else
        tail -40 /tmp/gct-$gen.txt
        echo "QEMU-TIER: FAIL GunyahConformanceTest ($gen)"
    fi
    gunyah-vm-service --backend gunyah --socket /tmp/probe-$gen.sock > /tmp/probe-$gen.log 2>&1 &
    probe_service=$!
    i=0; while [ ! -S /tmp/probe-$gen.sock ] && [ $i -lt 100 ]; do usleep 50000; i=$((i+1)); done
    gunyahctl --socket /tmp/probe-$gen.sock dump > /tmp/probe-$gen.txt 2>&1
    # The MMIO ring on this generation's driver, with the client a process of its own:
    # gunyahctl's console served through it, and an answer asking for a fault (resume_action
    # FAULT: the scripted guest crashes; a14 has none, so the service refuses it up front).
    gunyahctl --socket /tmp/probe-$gen.sock run --program /hello.s --console 0x90000000 > /tmp/ring-$gen.txt 2>&1
    ring_status=$?
    gunyahctl --socket /tmp/probe-$gen.sock dump > /tmp/ring-dump-$gen.txt 2>&1
    gunyah-test-client --socket /tmp/probe-$gen.sock --ring-fault > /tmp/ring-fault-$gen.txt 2>&1
    # A client doing its worst to every eventfd it shares with the service, on this driver
    # (docs/THREAT_MODEL.md): each VM released within its bound, the dump back to where it was.
    if gunyah-test-client --socket /tmp/probe-$gen.sock --hostile-fds > /tmp/hostile-fds-$gen.txt 2>&1 &&
            grep -q '^HOSTILE_FDS PASS' /tmp/hostile-fds-$gen.txt; then
        cat /tmp/hostile-fds-$gen.txt
        echo "QEMU-TIER: PASS hostile shared fds ($gen)"
    else
        tail -20 /tmp/hostile-fds-$gen.txt /tmp/probe-$gen.log
        echo "QEMU-TIER: FAIL hostile shared fds ($gen)"
    fi
    kill $probe_service; wait $probe_service
    case $gen in a14-*) want_fault="FAULT UNSUPPORTED" ;; *) want_fault="FAULT CRASHED" ;; esac
    if [ $ring_status -eq 0 ] && grep -q '^Hello from a Gunyah guest!' /tmp/ring-$gen.txt \
            && grep -q "^$want_fault\$" /tmp/ring-fault-$gen.txt; then
        cat /tmp/ring-fault-$gen.txt
        echo "QEMU-TIER: PASS MMIO ring ($gen)"
    else
        cat /tmp/ring-$gen.txt /tmp/ring-dump-$gen.txt /tmp/ring-fault-$gen.txt /tmp/probe-$gen.log
        echo "QEMU-TIER: FAIL MMIO ring ($gen)"
    fi
    if grep -q "^driver.generation: $gen (" /tmp/probe-$gen.txt; then
        grep 'driver' /tmp/probe-$gen.txt
        echo "QEMU-TIER: PASS the service probes generation $gen"
    else
        cat /tmp/probe-$gen.txt /tmp/probe-$gen.log
        echo "QEMU-TIER: FAIL the service probes generation $gen"
    fi
    [ $gen = ack66-late ] || rmmod gunyah_mock || echo "QEMU-TIER: FAIL rmmod gunyah_mock"
done

if [ "$hostile_only" = 1 ]; then
    kernel_log_check
    echo "QEMU-TIER: done"
    poweroff -f
fi
insmod /lib/modules/binder_linux.ko devices=binder,hwbinder,vndbinder
mkdir -p /dev/binderfs && ln -s /dev/binder /dev/binderfs/binder
rsb_hub --insecure-allow-all > /tmp/hub.log 2>&1 &
sleep 1
# The product over kernel binder on the loaded generation ($1, its DriverAbi $2): the service
# registered with the service manager, `gunyahctl info`, a guest, and VTS (which picks its
# expectations from the probed generation).
product() {
    gunyah-vm-service --binder kernel --backend gunyah -v > /tmp/service-$1.log 2>&1 &
    service=$!
    i=0; while ! gunyahctl --kernel-binder info > /tmp/info-$1.txt 2>&1 && [ $i -lt 100 ]; do usleep 50000; i=$((i+1)); done
    cat /tmp/info-$1.txt
    gunyahctl --kernel-binder dump > /tmp/dump-$1.txt 2>&1
    if grep -q "driver ABI: *$2" /tmp/info-$1.txt && grep -q "^driver.generation: $1 (" /tmp/dump-$1.txt \
            && grep -q 'backend: *gunyah' /tmp/info-$1.txt; then
        echo "QEMU-TIER: PASS info over kernel binder ($1)"
    else
        echo "QEMU-TIER: FAIL info over kernel binder ($1)"
    fi
    gunyahctl --kernel-binder run --program /hello.s --console 0x90000000 > /tmp/run-$1.txt 2>&1
    status=$?
    cat /tmp/run-$1.txt
    if [ $status -eq 0 ] && grep -q '^Hello from a Gunyah guest!' /tmp/run-$1.txt \
            && grep -q 'exit: EXITED type PSCI_POWER_OFF reason "bye"' /tmp/run-$1.txt; then
        echo "QEMU-TIER: PASS hello guest over kernel binder ($1)"
    else
        echo "QEMU-TIER: FAIL hello guest over kernel binder ($1, status $status)"
    fi
    # VtsHalGunyahTargetTest against the instance registered with the service manager.
    if vts_hal_gunyah_target_test --ignored --test-threads=1 > /tmp/vts-$1.txt 2>&1 \
            && grep -q 'test result: ok. [1-9][0-9]* passed' /tmp/vts-$1.txt; then
        grep -E '^test |test result' /tmp/vts-$1.txt
        echo "QEMU-TIER: PASS VtsHalGunyahTargetTest over kernel binder ($1)"
    else
        cat /tmp/vts-$1.txt
        echo "QEMU-TIER: FAIL VtsHalGunyahTargetTest over kernel binder ($1)"
    fi
    # The last close: with the driver's reset taking 3 s (reset_delay_ms), destroy() returns
    # before the reset ends (the driver still counts the VM). On ack66-late the service's reaper
    # is the thread waiting in close (vms.releasing: 1); a14 frees the VM on a workqueue.
    params=/sys/module/gunyah_mock/parameters
    echo 3000 > $params/reset_delay_ms
    gunyahctl --kernel-binder run --program /hello.s --console 0x90000000 > /tmp/slow-$1.txt 2>&1
    live_now=$(cat $params/live_vms)
    gunyahctl --kernel-binder dump > /tmp/slow-dump-$1.txt 2>&1
    echo 0 > $params/reset_delay_ms
    i=0; while [ "$(cat $params/live_vms)" != 0 ] && [ $i -lt 200 ]; do usleep 50000; i=$((i+1)); done
    live_after=$(cat $params/live_vms)
    releasing=$(grep '^vms.releasing:' /tmp/slow-dump-$1.txt)
    echo "last close ($1): driver VMs right after destroy() returned: $live_now, later: $live_after; $releasing"
    if [ "$live_now" = 1 ] && [ "$live_after" = 0 ] \
            && { [ "$1" = a14-late ] || [ "$releasing" = "vms.releasing: 1" ]; }; then
        echo "QEMU-TIER: PASS destroy() does not wait for the driver's reset ($1)"
    else
        cat /tmp/slow-$1.txt /tmp/slow-dump-$1.txt
        echo "QEMU-TIER: FAIL destroy() does not wait for the driver's reset ($1)"
    fi
}
product ack66-late GH_ACK66_LATE

# The guest data path through the service on kernel binder and the kernel mock: MMIO exits to
# the client's binder handler and through the MMIO ring, and doorbell (irqfd) -> guest -> ioeventfd, timed (under TCG).
if gunyah-bench --kernel-binder --events 1000 > /tmp/datapath.txt 2>&1; then
    cat /tmp/datapath.txt
    echo "QEMU-TIER: PASS data path over kernel binder"
else
    cat /tmp/datapath.txt
    echo "QEMU-TIER: FAIL data path over kernel binder"
fi

# A client holding a running VM is SIGKILLed: the driver frees the VM (its live-VM counter) and
# the service's fd count returns to what it was.
live=/sys/module/gunyah_mock/parameters/live_vms
fds_before=$(ls /proc/$service/fd | wc -l)
gunyahctl --kernel-binder run --cpus 2 --hold 60 > /tmp/held.txt 2>&1 &
holder=$!
i=0; while [ "$(cat $live)" != 1 ] && [ $i -lt 100 ]; do usleep 50000; i=$((i+1)); done
i=0; while ! grep -q '^state: RUNNING' /tmp/held.txt && [ $i -lt 100 ]; do usleep 50000; i=$((i+1)); done
live_during=$(cat $live)
fds_during=$(ls /proc/$service/fd | wc -l)
# The service's dump counts the same VM while it is alive (the backend's own references to the
# driver: 1 VM, 2 vCPUs, 2 MiB), and none once it is gone.
gunyahctl --kernel-binder dump > /tmp/dump_during.txt 2>&1
# gunyahctl top reads the same dump through binder dump(): the held VM, one JSON line.
gunyahctl --kernel-binder top --json --count 1 > /tmp/top_during.txt 2>&1
kill -9 $holder
i=0; while [ "$(cat $live)" != 0 ] && [ $i -lt 100 ]; do usleep 10000; i=$((i+1)); done
live_after=$(cat $live)
i=0; while [ "$(ls /proc/$service/fd | wc -l)" != "$fds_before" ] && [ $i -lt 100 ]; do usleep 10000; i=$((i+1)); done
fds_after=$(ls /proc/$service/fd | wc -l)
echo "holder SIGKILLed: live VMs $live_during -> $live_after, service fds $fds_before -> $fds_during -> $fds_after"
i=0; while ! gunyahctl --kernel-binder dump 2>&1 | grep -q '^backend.live_vms: 0' && [ $i -lt 100 ]; do usleep 10000; i=$((i+1)); done
gunyahctl --kernel-binder dump > /tmp/dump_after.txt 2>&1
grep '^backend\.' /tmp/dump_during.txt /tmp/dump_after.txt
if grep -q '^backend.live_vms: 1$' /tmp/dump_during.txt && grep -q '^backend.live_vcpus: 2$' /tmp/dump_during.txt \
        && grep -Eq '^vm .* mmio_handlers=0 mmio_ring_ranges=[1-9]' /tmp/dump_during.txt \
        && grep -q '^backend.registered_bytes: 2097152$' /tmp/dump_during.txt \
        && grep -q '^backend.live_vms: 0$' /tmp/dump_after.txt && grep -q '^backend.live_vcpus: 0$' /tmp/dump_after.txt \
        && grep -q '^backend.registered_bytes: 0$' /tmp/dump_after.txt; then
    echo "QEMU-TIER: PASS dump over kernel binder: the backend counts the VM while it lives, then none; gunyahctl serves its MMIO through the ring"
else
    cat /tmp/dump_during.txt /tmp/dump_after.txt
    echo "QEMU-TIER: FAIL dump over kernel binder"
fi
if [ "$(wc -l < /tmp/top_during.txt)" = 1 ] && grep -q '"state":"RUNNING"' /tmp/top_during.txt \
        && grep -q '"vcpus":2' /tmp/top_during.txt && grep -q '"exits_per_s"' /tmp/top_during.txt; then
    echo "QEMU-TIER: PASS gunyahctl top over kernel binder"
else
    cat /tmp/top_during.txt
    echo "QEMU-TIER: FAIL gunyahctl top over kernel binder"
fi
if [ "$live_during" = 1 ] && [ "$live_after" = 0 ] && [ "$fds_after" = "$fds_before" ] && [ "$fds_during" -gt "$fds_before" ]; then
    echo "QEMU-TIER: PASS SIGKILLed client's VM freed, no fd leak"
else
    echo "QEMU-TIER: FAIL SIGKILLed client's VM freed, no fd leak"
fi
tail -5 /tmp/service-ack66-late.log
# The product again on a14-late, the generation before demand paging.
kill $service; wait $service
rmmod gunyah_mock || echo "QEMU-TIER: FAIL rmmod gunyah_mock (ack66-late)"
insmod /lib/modules/gunyah_mock.ko generation=a14-late || echo "QEMU-TIER: FAIL insmod gunyah_mock generation=a14-late"
product a14-late GH_ANDROID14
kill $service; wait $service
tail -5 /tmp/service-a14-late.log
kernel_log_check
echo "QEMU-TIER: done"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"

echo "qemu tier: booting (TCG) after ${SECONDS} s of building"
boot_start=$SECONDS
timeout 600 qemu-system-x86_64 -accel tcg -smp 1 -m 1024 -nographic -no-reboot \
    -kernel "/boot/vmlinuz-$kver" -initrd "$work/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1 page_poison=1 slub_debug=FZPU" > "$work/console.log" 2>&1 || true
sed -n '/QEMU-TIER: booted/,/QEMU-TIER: done/p' "$work/console.log"

grep -q 'QEMU-TIER: done' "$work/console.log" || { tail -50 "$work/console.log"; echo "qemu tier: the guest did not finish" >&2; exit 1; }
if grep -qE 'WARNING:|BUG:|Oops|Call Trace|general protection' "$work/console.log"; then
    echo "qemu tier: the kernel logged a warning or oops" >&2
    exit 1
fi
if grep -q 'QEMU-TIER: FAIL' "$work/console.log"; then
    echo "qemu tier: FAILED" >&2
    exit 1
fi
checks=("PASS the kernel log has no warning, oops, hung task or poison report")
for gen in a14-early a14-late ack66-early ack-newest ack66-late; do
    checks+=("PASS hostile tier ($gen")
done
[ $hostile_only = 1 ] || checks+=("PASS data path over kernel binder" "PASS dump over kernel binder"
        "PASS gunyahctl top over kernel binder"
        "PASS SIGKILLed client's VM freed, no fd leak")
for gen in a14-early a14-late ack66-early ack-newest ack66-late; do
    [ $hostile_only = 1 ] || checks+=("PASS conformance ($gen)" "PASS second-process cases ($gen)"
        "PASS GunyahConformanceTest ($gen)" "PASS the service probes generation $gen"
        "PASS MMIO ring ($gen)" "PASS hostile shared fds ($gen)")
done
[ $hostile_only = 1 ] || for gen in a14-late ack66-late; do
    checks+=("PASS info over kernel binder ($gen)" "PASS hello guest over kernel binder ($gen)"
        "PASS VtsHalGunyahTargetTest over kernel binder ($gen)"
        "PASS destroy() does not wait for the driver's reset ($gen)")
done
for check in "${checks[@]}"; do
    grep -qF "QEMU-TIER: $check" "$work/console.log" || { echo "qemu tier: missing: $check" >&2; exit 1; }
done
echo "qemu tier: passed in ${SECONDS} s ($((SECONDS - boot_start)) s in the guest)"
