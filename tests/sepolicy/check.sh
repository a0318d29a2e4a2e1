#!/usr/bin/env bash
# Compiles sepolicy/ (system_ext public + vendor) into a small base policy with checkpolicy,
# as AOSP's build would (m4 over macros + policy, then an MLS checkpolicy), checks that every
# type used in the context files is declared, and that each file in negative/ — a rule a
# device might add by mistake — is rejected by one of the policy's neverallows.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
policy=$(cd "$here/../../sepolicy" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

assemble() { # extra .te files...
    m4 -D mls_num_sens=1 -D mls_num_cats=4 -s \
        "$here/base/global_macros" "$here/base/te_macros" \
        "$policy/vendor/ioctl_defines" "$policy/vendor/ioctl_macros" \
        "$here/base/security_classes" "$here/base/initial_sids" "$here/base/access_vectors" \
        "$here/base/mls" \
        "$policy/system_ext/public/attributes" "$here/base/base.te" \
        "$policy"/system_ext/public/*.te "$policy"/vendor/*.te "$@" \
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
