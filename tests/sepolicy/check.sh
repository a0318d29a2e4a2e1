#!/usr/bin/env bash
# Compiles sepolicy/ as a device includes it — system_ext public, system_ext private (the
# opt-in platform client, SYSTEM_EXT_PRIVATE_SEPOLICY_DIRS) and vendor — into a small base
# policy with checkpolicy, as AOSP's build would (m4 over macros + policy, then an MLS
# checkpolicy), and again without system_ext private (a device that does not opt in). Checks that
# every type used in the context files is declared, that each file in negative/ — a rule a device
# might add by mistake — is rejected by one of the policy's neverallows, and that no vendor file
# grants a platform process (a core domain, a HAL client attribute) access to a type only vendor
# policy declares (check_placement.py; each file in misplaced/ must make it fail).
#
# The base (base/) models the platform rules that touch our types: what ueventd, init, shell
# and vendor_init get on every dev_type, and tmpfs_domain. device/ declares a vendor client as
# a device would; system_server is the platform client sepolicy/system_ext/private declares.
# sesearch (Debian setools) then shows in the compiled policy that the HAL may map a platform
# client's and a vendor client's memfds, that both clients may map the MMIO ring's memfd and the
# HAL labels it hal_gunyah_server_tmpfs, and that the memfd check fails when the clients are
# declared without gunyah_hal_client_domain.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
policy=$(cd "$here/../../sepolicy" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

macros=("$here/base/global_macros" "$here/base/te_macros" "$policy/system_ext/public/te_macros"
        "$policy/vendor/ioctl_defines" "$policy/vendor/ioctl_macros")
# What a device includes: the system_ext private files (unless it does not opt in:
# private_te=) and its own client declarations.
private_te=$(echo "$policy"/system_ext/private/*.te)
clients=$here/device/clients.te

assemble() { # extra .te files...
    # shellcheck disable=SC2086  # private_te and clients are lists of files
    m4 -D mls_num_sens=1 -D mls_num_cats=4 -s "${macros[@]}" \
        "$here/base/security_classes" "$here/base/initial_sids" "$here/base/access_vectors" \
        "$here/base/mls" \
        "$policy/system_ext/public/attributes" "$here/base/base.te" \
        "$policy"/system_ext/public/*.te $private_te "$policy"/vendor/*.te $clients "$@" \
        "$here/base/users" "$here/base/initial_sid_contexts"
}

assemble > "$out/policy.conf"
checkpolicy -M -c 30 -o "$out/sepolicy" "$out/policy.conf" > "$out/checkpolicy.log" 2>&1 || {
    cat "$out/checkpolicy.log"
    echo "sepolicy: the policy does not compile" >&2
    exit 1
}
echo "sepolicy: vendor + system_ext public + system_ext private compile ($(wc -l < "$out/policy.conf") lines after m4)"

# A device that does not opt in to the platform client: vendor + system_ext public.
private_te='' assemble > "$out/no_private.conf"
checkpolicy -M -c 30 -o "$out/no_private" "$out/no_private.conf" > "$out/no_private.log" 2>&1 || {
    cat "$out/no_private.log"
    echo "sepolicy: without system_ext/private the policy does not compile" >&2
    exit 1
}
if [ -n "$(sesearch -A -s system_server -t hal_gunyah_service "$out/no_private")" ]; then
    echo "sepolicy: without system_ext/private, system_server is still a hal_gunyah client" >&2
    exit 1
fi
echo "sepolicy: vendor + system_ext public compile too (no opt-in: system_server is no client)"

# No vendor file grants a platform process access to a vendor-declared type; each misplaced/
# file, added to vendor policy, must make the check fail, or it checks nothing.
placement() { # vendor .te files...
    python3 "$here/check_placement.py" --policy "$out/policy.conf" --macros "${macros[@]}" \
        --vendor "$@"
}
placement "$policy"/vendor/*.te
for bad in "$here"/misplaced/*.te; do
    if placement "$policy"/vendor/*.te "$bad" 2> "$out/misplaced.log"; then
        echo "sepolicy: with $(basename "$bad") in vendor policy the placement check passes: it checks nothing" >&2
        exit 1
    fi
    grep -q "$(basename "$bad")" "$out/misplaced.log" || { cat "$out/misplaced.log"; exit 1; }
    echo "sepolicy: $(basename "$bad") in vendor policy fails the placement check, as it should"
done

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

# Every client maps the service's MMIO ring: the service labels its memfds
# hal_gunyah_server_tmpfs (vendor type_transition), which every hal_gunyah_client may map
# (system_ext public).
if ! sesearch -T -s hal_gunyah_default -t tmpfs -c file "$out/sepolicy" | grep -q 'hal_gunyah_server_tmpfs;'; then
    echo "sepolicy: hal_gunyah_default's memfds are not labelled hal_gunyah_server_tmpfs (the MMIO ring)" >&2
    exit 1
fi
for c in hal_gunyah_default system_server vendor_test_client; do
    for p in getattr map read write; do
        if [ -z "$(sesearch -A -s "$c" -t hal_gunyah_server_tmpfs -c file -p "$p" "$out/sepolicy")" ]; then
            echo "sepolicy: $c may not $p hal_gunyah_server_tmpfs:file (the MMIO ring)" >&2
            exit 1
        fi
    done
done
echo "sepolicy: the HAL's memfds are hal_gunyah_server_tmpfs, which it and every client may { getattr map read write } (the MMIO ring; sesearch)"
# The same check against clients declared with plain hal_client_domain must fail, or it checks
# nothing.
mkdir "$out/plain"
plain=''
for f in $private_te $clients; do
    sed 's/gunyah_hal_client_domain(\([a-z_]*\))/hal_client_domain(\1, hal_gunyah)/' "$f" \
        > "$out/plain/$(basename "$f")"
    plain="$plain $out/plain/$(basename "$f")"
done
private_te='' clients=$plain assemble > "$out/plain.conf"
checkpolicy -M -c 30 -o "$out/plain.bin" "$out/plain.conf" > "$out/plain.log" 2>&1 || { cat "$out/plain.log"; exit 1; }
if maps_client_memory "$out/plain.bin" 2>/dev/null; then
    echo "sepolicy: clients declared with plain hal_client_domain pass the memfd check: it checks nothing" >&2
    exit 1
fi
echo "sepolicy: with plain hal_client_domain the HAL could not map its clients' memfds (the check fails, as it should)"

