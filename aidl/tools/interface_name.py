#!/usr/bin/env python3
"""The name of the Gunyah VM HAL's AIDL interface: one owner, set in one place.

The interface is a partner (vendor-owned) stable AIDL interface, `vendor.<owner>.hardware.gunyah`.
The owner is the `owner:` property of the aidl_interface in aidl/Android.bp; every other place
that names the interface (the .aidl package lines and directories, the frozen snapshots, the
generated Rust crate and module paths, the service binary, init .rc, VINTF fragments,
service_contexts, file_contexts, VTS, the docs) is derived from it, and `check` proves they agree.

  interface_name.py check          the package is not android.* (VTS treats every android.*
                                   package as an AOSP interface) and every reference in the
                                   repository uses vendor.<owner>.hardware.gunyah
  interface_name.py rename OWNER   change the owner everywhere: file contents, paths, and the
                                   frozen snapshots' .hash (re-frozen under the new name). Only
                                   for an interface that has shipped nowhere: a renamed package
                                   is a new interface to every device and client.
  interface_name.py package        print the package (for scripts)
"""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AIDL_BP = REPO / "aidl" / "Android.bp"
HAL = ("hardware", "gunyah")
# The one document allowed to name the interface's first, android.* name: it explains the rename.
RENAME_RECORD = "docs/DEVICE_INTEGRATION.md"


def owner() -> str:
    text = AIDL_BP.read_text()
    found = re.search(r'aidl_interface\s*\{.*?\bowner:\s*"([a-z][a-z0-9]*)"', text, re.S)
    if not found:
        sys.exit(f"{AIDL_BP.relative_to(REPO)}: the aidl_interface has no owner: \"<lowercase id>\"")
    return found.group(1)


def package_parts(owner_name: str) -> list:
    return ["vendor", owner_name, *HAL]


def package() -> str:
    return ".".join(package_parts(owner()))


def forms(parts: list) -> list:
    """Every spelling of a package the repository uses, most specific first."""
    return [
        "\\.".join(parts),  # regexes (file_contexts)
        "::".join(parts),  # Rust module paths
        "/".join(parts),  # directories
        "_".join(parts),  # Rust crate names
        ".".join(parts),  # AIDL, Soong, VINTF, init, SELinux
    ]


def tracked_files() -> list:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout
    return [REPO / p for p in out.decode().split("\0") if p]


def text_of(path: Path):
    try:
        return path.read_text()
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None


# A spelling of some `<x>.<y>.hardware.gunyah` package, in any of the forms above.
ANY_PACKAGE = re.compile(
    r"\b(android|vendor)(?:\\\.|::|[./_])([a-z0-9]+)(?:\\\.|::|[./_])(hardware)(?:\\\.|::|[./_])gunyah\b"
    r"|\b(android)(?:\\\.|::|[./_])hardware(?:\\\.|::|[./_])gunyah\b"
)


def check() -> int:
    name = owner()
    pkg = package()
    errors = []
    aidl = REPO / "aidl"
    for path in sorted(aidl.rglob("*.aidl")):
        rel = path.relative_to(REPO)
        line = re.search(r"^\s*package\s+([\w.]+)\s*;", path.read_text(), re.M)
        if not line:
            errors.append(f"{rel}: no package line")
            continue
        if line.group(1).startswith("android."):
            errors.append(f"{rel}: package {line.group(1)}: android.* packages are AOSP's; "
                          "VTS requires AOSP metadata for them (use vendor.<owner>.…)")
        elif line.group(1) != pkg:
            errors.append(f"{rel}: package {line.group(1)}, expected {pkg}")
        if "/".join(package_parts(name)) + "/" + path.name not in str(rel):
            errors.append(f"{rel}: not under a {'/'.join(package_parts(name))}/ directory")
    for stale in [aidl / "android", *(aidl / "aidl_api").glob("android.*")]:
        if stale.exists():
            errors.append(f"{stale.relative_to(REPO)}: an android.* interface directory")
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        rel = str(path.relative_to(REPO))
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in ANY_PACKAGE.finditer(line):
                if m.group(4) or m.group(1) == "android":
                    if rel != RENAME_RECORD:
                        errors.append(f"{rel}:{lineno}: names the old android.* interface: {m.group(0)}")
                elif m.group(2) != name:
                    errors.append(f"{rel}:{lineno}: owner {m.group(2)!r} in {m.group(0)}, "
                                  f"but aidl/Android.bp says {name!r}")
    for e in errors:
        print(f"interface_name: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"interface_name: {pkg} (owner {name}) everywhere; no android.* package in aidl/")
    return 0


def rename(new_owner: str) -> int:
    if not re.fullmatch(r"[a-z][a-z0-9]*", new_owner):
        sys.exit("interface_name: an owner is one lowercase identifier ([a-z][a-z0-9]*)")
    return rename_parts(package_parts(owner()), package_parts(new_owner), new_owner)


def rename_parts(old: list, new: list, new_owner: str) -> int:
    """Renames package `old` to `new` (lists of its dotted parts) in every tracked file and path."""
    if old == new:
        print(f"interface_name: already {'.'.join(new)}")
        return 0
    pairs = list(zip(forms(old), forms(new)))
    changed = 0
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        updated = text
        for a, b in pairs:
            updated = updated.replace(a, b)
        if path == AIDL_BP:
            updated = re.sub(r'(\bowner:\s*")[a-z0-9]+(")', rf"\g<1>{new_owner}\g<2>", updated)
        if updated != text:
            path.write_text(updated)
            changed += 1
    # Paths: deepest first, so a renamed directory's children are moved before it is.
    moved = 0
    for path in sorted(tracked_files(), key=lambda p: -len(p.parts)):
        rel = str(path.relative_to(REPO))
        target = rel
        for a, b in pairs:
            target = target.replace(a, b)
        if target != rel:
            (REPO / target).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["git", "mv", rel, target], cwd=REPO, check=True)
            moved += 1
    # Drop the directories the moves emptied.
    for d in sorted((p for p in (REPO / "aidl").rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(d.iterdir()):
            d.rmdir()
    sys.path.insert(0, str(Path(__file__).parent))
    import aidl_api  # noqa: E402  (reads the package from aidl/Android.bp, now renamed)

    aidl_api.rehash_all()
    print(f"interface_name: {'.'.join(old)} -> {'.'.join(new)}: {changed} files edited, {moved} moved; "
          "frozen snapshots re-hashed")
    return 0


def main(argv: list) -> int:
    if len(argv) == 2 and argv[1] == "check":
        return check()
    if len(argv) == 2 and argv[1] == "package":
        print(package())
        return 0
    if len(argv) == 3 and argv[1] == "rename":
        return rename(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
