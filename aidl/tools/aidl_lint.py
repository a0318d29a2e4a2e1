#!/usr/bin/env python3
"""The AIDL compiler's `-Weverything` diagnostics this interface can trip, for trees without the
`aidl` binary (system/tools/aidl diagnostics.cpp, DiagnoseExplicitDefault and
DiagnoseRedundantNames):

  enum-explicit-default  a parcelable field (or a union's first field) of an enum type, not
                         nullable and not an array, with no default value
  redundant-name         an enumerator, or a constant of a parcelable, union or interface, with a
                         name token (split on '_', or on capitals when there is no '_') that is
                         also a token of the enclosing type's name, case-insensitively

Why they matter: Soong compiles a frozen version without -Weverything, but the next, unfrozen
version with `-Weverything -Wno-missing-permission-annotation -Werror` (the generated sources of
any interface under development carry that command line in their header, e.g.
android.hardware.radio-V5 with `--hash notfrozen`). So from the first change after a freeze,
every warning here fails the build unless the aidl_interface's `flags` say `-Wno-<id>`.
aidl_api.py check prints them and enforces that.

  aidl_lint.py DIR      print the warnings of DIR's .aidl files
"""

import re
import sys
from pathlib import Path

COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
DECL = re.compile(r"\b(parcelable|enum|interface|union)\s+(\w+)\s*\{")


def blank_comments(text):
    """The text with comments replaced by spaces (newlines kept), so offsets keep their lines."""
    return COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def tokens(name):
    """diagnostics.cpp TokenizeName: an all-capitals name is one token; a name with '_' splits
    on '_'; otherwise a capital letter starts a new token."""
    if name.isalpha() and name.isupper():
        return [name]
    if "_" in name:
        return [t for t in name.split("_") if t]
    return re.findall(r".[^A-Z]*", name)


def warnings_of(path, enums):
    """(line, id, message) for one .aidl file; `enums` holds the names of the enum types."""
    text = blank_comments(path.read_text())
    m = DECL.search(text)
    if not m:
        return []
    kind, name = m.group(1), m.group(2)
    body_start = m.end()
    body = text[body_start:text.rindex("}")]

    def line_of(offset):
        return text.count("\n", 0, body_start + offset) + 1

    out = []
    parent = [t.upper() for t in tokens(name)]

    def redundant(member, what):
        for tok in tokens(member):
            if tok.upper() in parent:
                yield (f"The {what} '{member}' has a redundant substring '{tok}' being defined "
                       f"in '{name}'")

    if kind == "enum":
        for e in re.finditer(r"\b([A-Za-z_]\w*)\s*(?:=[^,]*)?(?:,|$)", body):
            for msg in redundant(e.group(1), "enumerator"):
                out.append((line_of(e.start(1)), "redundant-name", msg))
        return out
    for c in re.finditer(r"\bconst\s+\w+(?:\[\])?\s+(\w+)\s*=", body):
        for msg in redundant(c.group(1), "constant"):
            out.append((line_of(c.start(1)), "redundant-name", msg))
    if kind in ("parcelable", "union"):
        fields = [f for f in re.finditer(
            r"((?:@\w+(?:\([^)]*\))?\s*)*)([\w.]+(?:<[^;>]*>)?(?:\[\])?)\s+(\w+)\s*(=[^;]*)?;",
            body) if not re.search(r"\bconst\s*$", body[:f.start(2)])]
        if kind == "union":
            fields = fields[:1]
        for f in fields:
            annotations, type_, field, default = f.group(1), f.group(2), f.group(3), f.group(4)
            if default or "@nullable" in annotations or type_.endswith("[]"):
                continue
            if type_.split(".")[-1] in enums:
                out.append((line_of(f.start(3)), "enum-explicit-default",
                            f"The enum field '{field}' has no explicit value."))
    return out


def lint(directory):
    """Every warning of the .aidl files in `directory`: (path, line, id, message), in order."""
    files = sorted(Path(directory).glob("*.aidl"))
    enums = {f.stem for f in files if re.search(r"\benum\s+\w+\s*\{", blank_comments(f.read_text()))}
    return [(f, line, wid, msg) for f in files for line, wid, msg in warnings_of(f, enums)]


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    found = lint(argv[1])
    for f, line, wid, msg in found:
        print(f"{f}:{line}: warning: {msg} [-W{wid}]")
    print(f"aidl_lint: {len(found)} warning(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
