#!/usr/bin/env bash
# Builds the service, starts it with the userspace mock driver on a private socket, and has
# gunyahctl show the capabilities, run the hello guest with its console (from flags, then from
# a config file), run an idle demo VM for a second, and print the service's diagnostics. Stops
# the service at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --bins -p gunyah-vm-service -p gunyah-vm-client
dir=$(mktemp -d)
socket="$dir/gunyah-vm.sock"
target/debug/gunyah-vm-service --socket "$socket" --backend mock -v 2>"$dir/service.log" &
service=$!
cleanup() {
    kill -TERM "$service" 2>/dev/null || true
    wait "$service" 2>/dev/null || true
    echo "--- service log"
    cat "$dir/service.log"
    rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done

export GUNYAH_VM_SOCKET="$socket"
echo "--- gunyahctl info"
target/debug/gunyahctl info
echo "--- gunyahctl run --program examples/guests/hello.s --console 0x90000000"
target/debug/gunyahctl run --program examples/guests/hello.s --console 0x90000000
echo "--- gunyahctl run --config examples/configs/hello.toml --json"
target/debug/gunyahctl run --config examples/configs/hello.toml --json
echo "--- gunyahctl run --cpus 2 --hold 1"
target/debug/gunyahctl run --cpus 2 --hold 1
echo "--- gunyahctl dump"
target/debug/gunyahctl dump
