#!/usr/bin/env python3
"""Frozen stable-AIDL API snapshots of the Gunyah VM HAL interface, made and checked the way AOSP's
aidl_interface does it (`m <pkg>-freeze-api`, the checkhash rule), for trees without Soong.

  aidl_api.py freeze N   snapshot the sources into aidl/aidl_api/<package>/N/
                         (comments dropped, immutable banner added) and write its .hash
  aidl_api.py check      every snapshot's .hash matches its files, and the current sources
                         equal the latest snapshot (a change needs a new version); prints the
                         AIDL compiler's -Weverything warnings of the sources (aidl_lint.py),
                         which fail once the sources differ from the latest snapshot (Soong then
                         builds the next version with -Werror) unless aidl/Android.bp's `flags`
                         turn them off

The hash is AOSP's: sha1 over `sha1sum` lines of the snapshot's .aidl files (sorted, paths as
`./a/b.aidl`) followed by the line `latest-version` for version 1, or `N-1` for version N.
"""

import hashlib
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interface_name import package  # noqa: E402  (the one place the name is set)
import aidl_lint  # noqa: E402

PACKAGE = package()
AIDL_ROOT = Path(__file__).resolve().parent.parent
SOURCES = AIDL_ROOT.joinpath(*PACKAGE.split("."))
API_DIR = AIDL_ROOT / "aidl_api" / PACKAGE

LICENSE = """/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */
"""
BANNER = """///////////////////////////////////////////////////////////////////////////////
// THIS FILE IS IMMUTABLE. DO NOT EDIT IN ANY CASE.                          //
///////////////////////////////////////////////////////////////////////////////

// A snapshot of a frozen version of this stable AIDL interface. Frozen versions never
// change: a device shipping them relies on every later service to speak them. Change the
// interface's sources in aidl/ and freeze a new version with aidl/tools/aidl_api.py.
"""

COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def dump(source: str) -> str:
    """The API of one .aidl file: code without comments or blank lines, 2-space indents."""
    body = COMMENT.sub("", source)
    lines = []
    for line in body.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 4
        lines.append("  " * depth + stripped)
    return LICENSE + BANNER + "\n" + "\n".join(lines) + "\n"


def snapshot() -> dict:
    """Relative path (`vendor/gunyahvm/hardware/gunyah/X.aidl`) -> dumped text, for the sources."""
    return {
        str(p.relative_to(AIDL_ROOT)): dump(p.read_text())
        for p in sorted(SOURCES.glob("*.aidl"))
    }


def hash_token(version: int) -> str:
    return "latest-version" if version == 1 else str(version - 1)


def compute_hash(version_dir: Path, version: int) -> str:
    files = sorted("./" + str(p.relative_to(version_dir)) for p in version_dir.rglob("*.aidl"))
    outer = hashlib.sha1()
    for f in files:
        inner = hashlib.sha1((version_dir / f).read_bytes()).hexdigest()
        outer.update(f"{inner}  {f}\n".encode())
    outer.update(f"{hash_token(version)}\n".encode())
    return outer.hexdigest()


def versions() -> list:
    return sorted(int(p.name) for p in API_DIR.iterdir() if p.is_dir() and p.name.isdigit()) if API_DIR.exists() else []


def freeze(version: int) -> None:
    existing = versions()
    expected = (existing[-1] + 1) if existing else 1
    if version != expected:
        sys.exit(f"aidl_api: the next version is {expected}, not {version}")
    target = API_DIR / str(version)
    for rel, text in snapshot().items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (target / ".hash").write_text(compute_hash(target, version) + "\n")
    print(f"froze {PACKAGE} V{version} in {target.relative_to(AIDL_ROOT.parent)}")


def rehash_all() -> None:
    """Recomputes every snapshot's .hash (after interface_name.py renamed the package)."""
    for v in versions():
        d = API_DIR / str(v)
        (d / ".hash").write_text(compute_hash(d, v) + "\n")


def check() -> int:
    errors = []
    found = versions()
    if not found:
        errors.append(f"no frozen version under {API_DIR}")
    for v in found:
        d = API_DIR / str(v)
        lines = (d / ".hash").read_text().split() if (d / ".hash").exists() else []
        actual = compute_hash(d, v)
        if not lines or lines[-1] != actual:
            errors.append(f"V{v}: .hash says {lines[-1] if lines else 'nothing'}, the files hash to {actual}: "
                          "a frozen version was modified")
    changed = False
    if found:
        latest = API_DIR / str(found[-1])
        frozen = {str(p.relative_to(latest)): p.read_text() for p in sorted(latest.rglob("*.aidl"))}
        current = snapshot()
        for rel in sorted(set(frozen) | set(current)):
            if frozen.get(rel) != current.get(rel):
                changed = True
                errors.append(f"{rel}: the current API differs from frozen V{found[-1]}; "
                              f"an API change needs V{found[-1] + 1} (aidl_api.py freeze {found[-1] + 1})")
    errors += lint_errors(changed)
    # A version frozen after V2 was built unfrozen first, under -Werror: it has no warning on.
    for v in found:
        if v > LAST_FROZEN_WITHOUT_WERROR:
            snap = API_DIR / str(v) / SOURCES.relative_to(AIDL_ROOT)
            for f, line, wid, msg in aidl_lint.lint(snap):
                if wid not in warnings_off():
                    errors.append(f"V{v}: {f.name}:{line}: {msg} [-W{wid}]: a version frozen with a "
                                  "warning on never built unfrozen (-Weverything -Werror)")
    for e in errors:
        print(f"aidl_api: {e}", file=sys.stderr)
    if not errors:
        print(f"aidl_api: {len(found)} frozen version(s) intact; the sources equal V{found[-1]}")
    return 1 if errors else 0


# V1 and V2 were frozen before this tree checked the AIDL compiler's warnings.
LAST_FROZEN_WITHOUT_WERROR = 2


def warnings_off() -> set:
    """The diagnostics aidl/Android.bp's `flags` turn off (`-Wno-<id>`)."""
    return set(re.findall(r'"-Wno-([\w-]+)"', (AIDL_ROOT / "Android.bp").read_text()))


def lint_errors(next_version_open: bool) -> list:
    """Prints the sources' -Weverything warnings; while a next version is open (the sources
    differ from the latest snapshot), the ones aidl/Android.bp's `flags` leave on are errors."""
    off = warnings_off()
    errors = []
    for f, line, wid, msg in aidl_lint.lint(SOURCES):
        where = f"{f.relative_to(AIDL_ROOT)}:{line}"
        if wid in off:
            continue
        print(f"aidl_api: warning: {where}: {msg} [-W{wid}]")
        if next_version_open:
            errors.append(f"{where}: -W{wid} fails the next version's build (-Weverything -Werror): "
                          f"fix it in this version, or add \"-Wno-{wid}\" to the interface's flags")
    return errors


def main(argv: list) -> int:
    if len(argv) == 3 and argv[1] == "freeze" and argv[2].isdigit():
        freeze(int(argv[2]))
        return 0
    if len(argv) == 2 and argv[1] == "check":
        return check()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
