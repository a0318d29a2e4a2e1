#!/usr/bin/env python3
"""Vendor policy grants no platform process access to a type only vendor policy declares.

A vendor type is the vendor image's to define: the next vendor image may rename or drop it, and
platform policy cannot name it. So an `allow` in a vendor file whose source is a core domain
(system_server, ...), an attribute with a core domain among its types (`domain`, a HAL's
`_client` attribute once a platform process is a client), or a HAL client attribute at all,
and whose target is a type a vendor file declares, puts a platform process's access in the
vendor image. Such a type belongs in platform (system_ext) public policy and the rule in
platform policy, as AOSP does for the graphics composer's shared memory
(hal_graphics_composer_server_tmpfs: public/hal_graphics_composer.te declares it,
private/hal_graphics_composer.te grants the client, vendor/hal_graphics_composer_default.te only
labels the server's memfds with it).

Two AOSP macros every vendor daemon's policy calls do give core domains access to its types,
and are how the platform means vendor daemons to be started and found: init_daemon_domain()
(init executes the daemon's file and transitions to its domain) and binder_use()
(servicemanager calls back). Their expansions are exempt; every other rule, written out or
produced by a macro, is checked.

  check_placement.py --policy POLICY_CONF --macros MACRO_FILE... --vendor VENDOR_TE...

POLICY_CONF is the whole policy as the device compiles it (after m4), which says which types are
core domains and what each attribute covers; each vendor .te file is expanded here with the
macro files. Exits 1 naming every offending rule and its file.
"""

import argparse
import subprocess

import re
import sys
from pathlib import Path

# AOSP's macros for a vendor daemon: what they give core domains is the platform's design.
EXEMPT_MACROS = ("init_daemon_domain", "binder_use")

SET = r"(\{[^}]*\}|[\w-]+)"
ALLOW = re.compile(rf"^\s*(allow|allowxperm)\s+{SET}\s+{SET}\s*:\s*(\{{[^}}]*\}}|\w+)", re.S)


def statements(text):
    text = re.sub(r"#[^\n]*", "", text)
    return [s.strip() for s in text.split(";") if s.strip()]


def names(field):
    """The names of a set field: (positive, negative)."""
    items = field.strip("{} \n\t").split()
    pos = [i for i in items if not i.startswith("-")]
    neg = [i[1:] for i in items if i.startswith("-")]
    return pos, neg


class Policy:
    def __init__(self, text):
        self.attributes = set()
        self.attrs_of = {}  # type -> its attributes
        for s in statements(text):
            words = s.replace(",", " ").split()
            if words[0] == "attribute" and len(words) == 2:
                self.attributes.add(words[1])
            elif words[0] == "type" and len(words) >= 2:
                self.attrs_of.setdefault(words[1], set()).update(
                    w for w in words[2:] if w != "alias")
            elif words[0] == "typeattribute" and len(words) >= 3:
                self.attrs_of.setdefault(words[1], set()).update(words[2:])

    def types(self, field):
        """The types a set field stands for, attributes expanded, negations removed."""
        pos, neg = names(field)

        def expand(ns):
            out = set()
            for n in ns:
                if n in self.attributes:
                    out |= {t for t, a in self.attrs_of.items() if n in a}
                else:
                    out.add(n)
            return out

        return expand(pos) - expand(neg)

    def is_core(self, t):
        return "coredomain" in self.attrs_of.get(t, ())


def client_attribute(name, policy):
    return name in policy.attributes and name.endswith("_client")


def expand(path, macros):
    """A vendor file after m4, without the expansions of EXEMPT_MACROS."""
    text = Path(path).read_text()
    for m in EXEMPT_MACROS:
        text = re.sub(rf"^\s*{m}\([^)]*\)\s*$", "", text, flags=re.M)
    return subprocess.run(["m4", "-s"] + macros + ["-"], input=text, capture_output=True,
                          text=True, check=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", required=True)
    ap.add_argument("--macros", nargs="+", required=True)
    ap.add_argument("--vendor", nargs="+", required=True)
    args = ap.parse_args()
    policy = Policy(Path(args.policy).read_text())
    vendor = {Path(f): expand(f, args.macros) for f in args.vendor}
    declared = set()
    for text in vendor.values():
        for s in statements(text):
            words = s.replace(",", " ").split()
            if words[0] == "type" and len(words) >= 2:
                declared.add(words[1])
    bad = []
    for f, text in vendor.items():
        for s in statements(text):
            m = ALLOW.match(s)
            if not m:
                continue
            src, tgt = m.group(2), m.group(3)
            if tgt == "self":
                continue
            targets = policy.types(tgt) & declared
            if not targets:
                continue
            pos, _ = names(src)
            why = [f"{n} is a HAL client attribute" for n in pos if client_attribute(n, policy)]
            if "coredomain" in pos:
                why.append("coredomain is every platform process")
            core = sorted(t for t in policy.types(src) if policy.is_core(t))
            if core:
                why.append(f"it covers core domain(s) {', '.join(core)}")
            if why:
                rule = " ".join(s.split())
                bad.append(f"{f.name}: `{rule};` grants platform processes access to "
                           f"{', '.join(sorted(targets))}, declared only in vendor policy "
                           f"({'; '.join(why)})")
    for b in bad:
        print(f"sepolicy placement: {b}", file=sys.stderr)
    if bad:
        print("sepolicy placement: declare such a type in sepolicy/system_ext/public and grant it "
              "in platform (system_ext) policy; vendor policy only labels with it "
              "(type_transition) and grants the server", file=sys.stderr)
        return 1
    print(f"sepolicy placement: no vendor rule grants a core domain or a HAL client attribute "
          f"access to a vendor-declared type ({len(declared)} vendor types, "
          f"{len(vendor)} vendor files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
