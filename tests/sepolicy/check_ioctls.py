#!/usr/bin/env python3
"""Cross-checks the ioctls the service issues (`gunyahctl abi --json`, "issued": the Rust
constants themselves) against sepolicy/vendor/ioctl_defines (their low 16 bits, an SELinux
ioctl permission's width) and the allowlists in
sepolicy/vendor/ioctl_macros: every issued ioctl is defined with the same number and allowed on
the fd it is issued on (device, or the VM/vCPU anon inodes), and nothing else is allowed. Every
ioctl of the driver-generation probe table must be issued, so it is defined and allowed too: on a
device an ioctl outside the allowlist answers EACCES, which the probe would read as an unknown
driver.

  gunyahctl abi --json | check_ioctls.py
"""

import json
import re
import sys
from pathlib import Path

POLICY = Path(__file__).resolve().parents[2] / "sepolicy" / "vendor"


def main() -> int:
    abi = json.load(sys.stdin)
    issued = abi["issued"]
    probes = {name for g in abi["generations"].values() for name in g["probe"]}
    defines = dict(re.findall(r"define\(`(\w+)', `(0x[0-9a-fA-F]+)'\)", (POLICY / "ioctl_defines").read_text()))
    macros = dict(re.findall(r"define\(`(\w+)', `\{(.*?)\}'\)", (POLICY / "ioctl_macros").read_text(), re.S))
    allowed = {name: set(body.split()) for name, body in macros.items()}
    sets = {"device": "gunyah_device_ioctls", "vm": "gunyah_vm_ioctls", "vcpu": "gunyah_vm_ioctls"}
    errors = []
    for name, info in sorted(issued.items()):
        number = defines.get(name)
        issued_perm = int(info["number"], 16) & 0xFFFF
        if number is None:
            errors.append(f"{name}: issued but not in ioctl_defines")
        elif int(number, 16) > 0xFFFF:
            errors.append(f"{name}: ioctl_defines says {number}, more than the 16 bits of an "
                          f"SELinux ioctl permission (write {issued_perm:#06x})")
        elif int(number, 16) != issued_perm:
            errors.append(f"{name}: ioctl_defines says {number}, the code issues {info['number']} "
                          f"(permission {issued_perm:#06x})")
        if name not in allowed.get(sets[info["fd"]], set()):
            errors.append(f"{name}: issued on the {info['fd']} fd but not in {sets[info['fd']]}")
    # Two ioctls with the same low 16 bits are one permission: allowing one allows the other.
    by_perm = {}
    for name, info in issued.items():
        by_perm.setdefault(int(info["number"], 16) & 0xFFFF, []).append(name)
    for perm, names in sorted(by_perm.items()):
        if len(names) > 1:
            errors.append(f"{', '.join(sorted(names))} share the SELinux permission {perm:#06x}")
    for name in sorted(probes - set(issued)):
        errors.append(f"{name}: a generation probe, but not in the issued table (ioctl::ISSUED)")
    for macro, names in allowed.items():
        for name in sorted(names - set(issued)):
            errors.append(f"{macro} allows {name}, which the service never issues")
    for name in sorted(set(defines) - set(issued)):
        errors.append(f"ioctl_defines defines {name}, which the service never issues")
    for e in errors:
        print(f"ioctls: {e}", file=sys.stderr)
    if not errors:
        print(f"ioctls: {len(issued)} issued ioctls (the {len(probes)} probe ioctls among them) "
              "match ioctl_defines and the allowlists")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
