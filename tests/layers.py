#!/usr/bin/env python3
"""Every dependency runs down the folders (docs/ARCHITECTURE.md, "The crates"): a crate in
kernel/ depends on no crate of ours above it, aidl/ only on kernel/ and aidl/, service/ on those
and service/, client/ on those and client/; tests/ and fuzz/ on anything. Reads `cargo metadata`,
so a new crate or dependency is checked without editing this file.

  tests/layers.py
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Lowest first: a crate may depend on crates of its own folder or of a folder before it.
FLOORS = ["kernel", "aidl", "service", "client", "tests", "fuzz"]


def floor(manifest: str) -> int:
    top = Path(manifest).resolve().relative_to(REPO).parts[0]
    if top not in FLOORS:
        raise SystemExit(f"layers: {manifest} is in {top}/, which has no floor (add it to FLOORS)")
    return FLOORS.index(top)


def main():
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                                     cwd=REPO, check=True, capture_output=True, text=True).stdout)
    ours = {p["name"]: p for p in meta["packages"]}
    errors = []
    for p in ours.values():
        for d in p["dependencies"]:
            if d["name"] not in ours or d["kind"] == "dev":
                continue
            here, there = floor(p["manifest_path"]), floor(ours[d["name"]]["manifest_path"])
            if there > here:
                errors.append(f"{p['name']} ({FLOORS[here]}/) depends on {d['name']} "
                              f"({FLOORS[there]}/), a folder above it")
    if errors:
        sys.exit("\n".join(f"layers: {e}" for e in errors))
    print(f"layers: {len(ours)} crates, every dependency runs down {' > '.join(reversed(FLOORS[:4]))}")


if __name__ == "__main__":
    main()
