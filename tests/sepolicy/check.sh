#!/usr/bin/env bash
# Compiles sepolicy/ (system_ext public + vendor) into a small base policy with checkpolicy,
# as AOSP's build would (m4 over macros + policy, then an MLS checkpolicy), checks that every
# type used in the context files is declared, and that each file in negative/ — a rule a
# device might add by mistake — is rejected by one of the policy's neverallows.
#
# The base (base/) models the platform rules that touch our types: what ueventd, init, shell
# and vendor_init get on every dev_type, and tmpfs_domain. device/ declares clients as a device
# would. sesearch (Debian setools) then shows in the compiled policy that the HAL may map a
# platform client's and a vendor client's memfds, and that this check fails when the clients
# are declared without gunyah_hal_client_domain.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
policy=$(cd "$here/../../sepolicy" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

assemble() { # extra .te files...
    m4 -D mls_num_sens=1 -D mls_num_cats=4 -s \
        "$here/base/global_macros" "$here/base/te_macros" "$policy/system_ext/public/te_macros" \
        "$policy/vendor/ioctl_defines" "$policy/vendor/ioctl_macros" \
        "$here/base/security_classes" "$here/base/initial_sids" "$here/base/access_vectors" \
        "$here/base/mls" \
        "$policy/system_ext/public/attributes" "$here/base/base.te" \
        "$policy"/system_ext/public/*.te "$policy"/vendor/*.te "${clients:-$here/device/clients.te}" "$@" \
        "$here/base/users" "$here/base/initial_sid_contexts"
}

assemble > "$out/policy.conf"
checkpolicy -M -c 30 -o "$out/sepolicy" "$out/policy.conf" > "$out/checkpolicy.log" 2>&1 || {
    cat "$out/checkpolicy.log"
    echo "sepolicy: the policy does not compile" >&2
    exit 1
}
echo "sepolicy: compiles ($(wc -l < "$out/policy.conf") lines after m4)"

# Every type named in the context files exists.
for ctx in "$policy"/vendor/file_contexts "$policy"/vendor/service_contexts; do
    for t in $(grep -oE 'u:object_r:[a-z0-9_]+:s0' "$ctx" | cut -d: -f3 | sort -u); do
        grep -qE "^type $t[,;]" "$out/policy.conf" || { echo "sepolicy: $ctx names undeclared type $t" >&2; exit 1; }
    done
done
echo "sepolicy: every context names a declared type"

for bad in "$here"/negative/*.te; do
    assemble "$bad" > "$out/bad.conf"
    if checkpolicy -M -c 30 -o "$out/bad" "$out/bad.conf" > "$out/bad.log" 2>&1; then
        echo "sepolicy: $(basename "$bad") compiled, but a neverallow should reject it" >&2
        exit 1
    fi
    grep -qi 'neverallow' "$out/bad.log" || { cat "$out/bad.log"; echo "sepolicy: $(basename "$bad") failed, but not on a neverallow" >&2; exit 1; }
    echo "sepolicy: $(basename "$bad") rejected by a neverallow"
done

# The HAL maps its clients' guest memory: { getattr map read write } on each client's tmpfs type.
maps_client_memory() { # compiled policy
    local ok=0
    for t in system_server_tmpfs vendor_test_client_tmpfs; do
        for p in getattr map read write; do
            if [ -z "$(sesearch -A -s hal_gunyah_default -t "$t" -c file -p "$p" "$1")" ]; then
                echo "sepolicy: hal_gunyah_default may not $p $t:file (a client's memfds)" >&2
                ok=1
            fi
        done
    done
    return $ok
}
maps_client_memory "$out/sepolicy" || exit 1
echo "sepolicy: hal_gunyah_default may { getattr map read write } system_server_tmpfs and vendor_test_client_tmpfs (sesearch)"

# Every client maps the service's MMIO ring (its memfd carries the service's tmpfs type).
for c in system_server vendor_test_client; do
    for p in getattr map read write; do
        if [ -z "$(sesearch -A -s "$c" -t hal_gunyah_default_tmpfs -c file -p "$p" "$out/sepolicy")" ]; then
            echo "sepolicy: $c may not $p hal_gunyah_default_tmpfs:file (the MMIO ring)" >&2
            exit 1
        fi
    done
done
echo "sepolicy: every client may { getattr map read write } hal_gunyah_default_tmpfs (the MMIO ring; sesearch)"
# The same check against clients declared with plain hal_client_domain must fail, or it checks
# nothing.
sed 's/gunyah_hal_client_domain(\([a-z_]*\))/hal_client_domain(\1, hal_gunyah)/' \
    "$here/device/clients.te" > "$out/plain_clients.te"
clients="$out/plain_clients.te" assemble > "$out/plain.conf"
checkpolicy -M -c 30 -o "$out/plain" "$out/plain.conf" > "$out/plain.log" 2>&1 || { cat "$out/plain.log"; exit 1; }
if maps_client_memory "$out/plain" 2>/dev/null; then
    echo "sepolicy: clients declared with plain hal_client_domain pass the memfd check: it checks nothing" >&2
    exit 1
fi
echo "sepolicy: with plain hal_client_domain the HAL could not map its clients' memfds (the check fails, as it should)"

