#!/usr/bin/env python3
"""Checks the kernel mock's ABI header (kernel/gunyah_mock/uapi.h) against the ABI table the
Rust side is checked against (tests/data/gunyah_abi.json): every struct the header declares has
the table's size and field offsets, and every ioctl it defines has the table's number. The
header is compiled with the host's gcc (it is userspace-includable), so what is checked is what
the compiler lays out, not what the text says.

  abi_check.py [HEADER]      check HEADER (default: the kernel mock's uapi.h)
  abi_check.py --self-test   also show that a header with one field widened fails
"""

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEADER = REPO / "kernel" / "gunyah_mock" / "uapi.h"
TABLE = REPO / "tests" / "data" / "gunyah_abi.json"


def table():
    """name -> (size, {field: offset}) and name -> number, over every generation."""
    data = json.loads(TABLE.read_text())
    structs, ioctls = {}, {}
    for gen in data.values():
        for name, layout in gen["structs"].items():
            structs[name] = (layout["size"], layout["fields"])
        for name, number in gen["ioctls"].items():
            ioctls[name] = int(number, 16)
    return structs, ioctls


def measure(header: Path, structs, ioctls):
    """Compiles a program printing what gcc makes of `header`: `S name size`, `F name field
    offset`, `I name number` lines."""
    lines = [f'#include "{header}"', "#include <stddef.h>", "#include <stdio.h>", "int main(void) {"]
    for name, (_, fields) in structs.items():
        lines.append(f'printf("S {name} %zu\\n", sizeof(struct {name}));')
        for field in fields:
            lines.append(f'printf("F {name} {field} %zu\\n", offsetof(struct {name}, {field}));')
    for name in ioctls:
        lines.append(f'printf("I {name} %lu\\n", (unsigned long)({name}));')
    lines += ["return 0;", "}"]
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "abi.c", Path(tmp) / "abi"
        src.write_text("\n".join(lines) + "\n")
        build = subprocess.run(["gcc", "-Wall", "-Werror", "-std=gnu11", "-o", str(exe), str(src)],
                               capture_output=True, text=True)
        if build.returncode != 0:
            return None, build.stderr
        out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return out.splitlines(), ""


def check(header: Path) -> list:
    text = header.read_text()
    declared = re.findall(r"^struct (\w+) \{", text, re.M)
    defined = re.findall(r"^#define (\w+) _IO", text, re.M)
    ref_structs, ref_ioctls = table()
    errors = [f"struct {s}: declared in {header.name} but not in the ABI table" for s in declared
              if s not in ref_structs]
    errors += [f"{i}: defined in {header.name} but not in the ABI table" for i in defined
               if i not in ref_ioctls]
    structs = {s: ref_structs[s] for s in declared if s in ref_structs}
    ioctls = {i: ref_ioctls[i] for i in defined if i in ref_ioctls}
    got, why = measure(header, structs, ioctls)
    if got is None:
        return errors + [f"{header.name} does not compile as the table describes it:\n{why}"]
    for line in got:
        kind, name, *rest = line.split()
        if kind == "S" and int(rest[0]) != structs[name][0]:
            errors.append(f"struct {name}: size {rest[0]}, the table says {structs[name][0]}")
        elif kind == "F" and int(rest[1]) != structs[name][1][rest[0]]:
            errors.append(f"struct {name}: {rest[0]} at {rest[1]}, the table says {structs[name][1][rest[0]]}")
        elif kind == "I" and int(rest[0]) != ioctls[name]:
            errors.append(f"{name}: {int(rest[0]):#010x}, the table says {ioctls[name]:#010x}")
    if not errors:
        fields = sum(len(f) for _, f in structs.values())
        print(f"kernel abi: {header.relative_to(REPO) if header.is_relative_to(REPO) else header}: "
              f"{len(structs)} structs ({fields} fields) and {len(ioctls)} ioctls match {TABLE.name}")
    return errors


def self_test() -> bool:
    """A copy of the header with `gh_userspace_memory_region.label` widened to 64 bits must fail."""
    text = HEADER.read_text()
    broken = re.sub(r"(struct gh_userspace_memory_region \{\s*)__u32 label;", r"\1__u64 label;", text, count=1)
    assert broken != text, "the self-test's field is not in the header"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "uapi.h"
        path.write_text(broken)
        errors = check(path)
    wanted = "struct gh_userspace_memory_region: flags at 8, the table says 4"
    if wanted in errors:
        print(f"kernel abi: a header with a wrong offset fails, as it should ({wanted})")
        return True
    print(f"kernel abi: the self-test expected {wanted!r}, got {errors}", file=sys.stderr)
    return False


def main(argv) -> int:
    args = [a for a in argv[1:] if a != "--self-test"]
    errors = check(Path(args[0]).resolve() if args else HEADER)
    for e in errors:
        print(f"kernel abi: {e}", file=sys.stderr)
    ok = not errors
    if "--self-test" in argv:
        ok = self_test() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
