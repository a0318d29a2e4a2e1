#!/usr/bin/env python3
"""No file of the repository names a document the repository does not hold: a maintainer who
clones it has nothing else. Every `NAME.md` a tracked file mentions must exist in the tree (by
its path, relative to the file or to the root, or by its name when no folder is given); the
project's off-tree references are named by what they were called, and refused.

  tests/doc_refs.py
"""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MD = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.md)\b")
# Documents that were never part of the repository, by the names they went by.
# (Their `.md` names are caught as missing documents already; these catch the bare names.)
OFF_TREE = [re.compile(p) for p in (r"GUNYAH_LATER_GENERATIONS", r"\bfact sheet\b",
                                    r"\bGUNYAH_ABI\b", r"\bBINDER_HOST\b", r"\bAOSP_CONVENTIONS\b",
                                    r"\bQEMU_TIER\b")]


def main():
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           check=True, capture_output=True, text=True).stdout.split()
    names = {Path(f).name for f in files}
    paths = set(files)
    errors = []
    for f in files:
        if f == "tests/doc_refs.py":
            continue
        try:
            text = (REPO / f).read_text()
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if "://" in line:
                line = re.sub(r"\S+://\S+", "", line)
            for m in MD.finditer(line):
                ref = m.group(1)
                if "/" in ref:
                    beside = (REPO / Path(f).parent / ref).resolve()
                    ok = ref in paths or (beside.is_relative_to(REPO)
                                          and beside.relative_to(REPO).as_posix() in paths)
                else:
                    ok = ref in names
                if not ok:
                    errors.append(f"{f}:{n}: names {ref}, which the repository does not hold")
            for p in OFF_TREE:
                if p.search(line):
                    errors.append(f"{f}:{n}: names {p.pattern!r}, a document outside the "
                                  "repository (cite docs/DRIVER_ABI.md or another doc of the tree)")
    if errors:
        sys.exit("\n".join(f"doc refs: {e}" for e in errors))
    print(f"doc refs: {len(files)} files name only documents the repository holds")


if __name__ == "__main__":
    main()
