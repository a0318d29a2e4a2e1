#!/usr/bin/env python3
"""What an AOSP tree would reject, checked off-tree from Android.bp itself (the module list is
read from it, so a new module is covered without editing this file).

  soong.py deps     every Rust module uses only crates its variants (host, system, vendor) can
                    link, in every tree state of tests/aosp/crates.toml
  soong.py graph    Android.bp mirrors the Cargo crates: one rust_library per workspace library
                    crate, with the same dependencies (Cargo names mapped to AOSP's)
  soong.py clippy   type-checks and lints every Rust module of Android.bp as Soong builds it:
                    `--cfg aosp` (the module's cfgs), host, system and vendor variants (the vendor one
                    with `--cfg android_vndk --cfg android_vendor`), the lint set the module pins
                    (`lints` / `clippy_lints`, build/soong rust/config/lints.go), against
                    crates.io crates of the table's versions and features, and the stand-ins of
                    tests/aosp/standin/ for libbinder_rs, librustutils and the AIDL crate.

Options: --tree NAME (default: every tree state), --variant host|system|vendor (default: all).
The system variant is type-checked with the host's std: what differs on a device's target_os is
not checked here.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import blueprint  # noqa: E402

# build/soong rust/config/lints.go: the "vendor" and "android" sets (rustc, then clippy).
LINT_SETS = {
    "vendor": (["-A", "deprecated", "-D", "warnings"],
               ["-A", "clippy::complexity", "-A", "clippy::perf", "-A", "clippy::style"]),
    "android": (["-A", "deprecated", "-D", "missing-docs", "-D", "warnings"],
                ["-A", "clippy::type-complexity", "-A", "clippy::unnecessary-wraps",
                 "-A", "clippy::unusual-byte-groupings", "-A", "clippy::upper-case-acronyms"]),
}
# Soong's cfgs for a vendor variant of a Rust module.
VENDOR_CFGS = ["android_vndk", "android_vendor"]
RUST_TYPES = {"rust_library", "rust_library_host", "rust_binary", "rust_binary_host", "rust_test",
              "rust_test_host", "rust_ffi"}


def report(check, errors, ok):
    """Prints a check's errors (exit status 1) or its one line of success (0)."""
    for e in errors:
        print(f"soong {check}: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"soong {check}: {ok}")
    return 0


def load_modules():
    mods = []
    for bp in sorted(REPO.rglob("Android.bp")):
        if "target" in bp.relative_to(REPO).parts:
            continue
        for m in blueprint.read(bp):
            m["__dir__"] = bp.parent
            mods.append(m)
    return blueprint.resolve_defaults(mods)


def variants(m):
    """The variants Soong builds of a module: host, system (the core image), vendor."""
    kind = m["__type__"]
    if kind.endswith("_host"):
        return {"host"}
    out = set()
    if m.get("host_supported"):
        out.add("host")
    if m.get("vendor") or m.get("soc_specific"):
        out.add("vendor")
    else:
        out.add("system")
        if m.get("vendor_available"):
            out.add("vendor")
    return out


def aidl_crates(mods):
    """The Rust crates the aidl_interface modules generate: name -> (variants, package)."""
    out = {}
    for m in mods:
        if m["__type__"] != "aidl_interface":
            continue
        vs = {"system"} | ({"vendor"} if m.get("vendor_available") else set())
        vs |= {"host"} if m.get("host_supported") else set()
        for v in m.get("versions_with_info", []):
            out[f"{m['name']}-V{v['version']}-rust"] = (vs, m["name"], m.get("__dir__"))
    return out


def load_table():
    with open(HERE / "crates.toml", "rb") as f:
        table = tomllib.load(f)
    trees = list(table["trees"])
    crates = {}
    for name, entry in table["crates"].items():
        for tree in trees:
            facts = entry.get(tree)
            if facts is None:
                continue
            while "same_as" in facts:
                facts = entry[facts["same_as"]]
            crates[(name, tree)] = {**facts, "crate": entry["crate"], "standin": entry.get("standin")}
    return trees, crates


def check_deps(tree_filter):
    mods = load_modules()
    ours = {m["name"]: m for m in mods if m["__type__"] in RUST_TYPES and m["__type__"].startswith("rust_library")}
    aidl = aidl_crates(mods)
    trees, table = load_table()
    errors = []
    checked = 0
    for tree in trees:
        if tree_filter and tree != tree_filter:
            continue
        for m in mods:
            if m["__type__"] not in RUST_TYPES:
                continue
            for lib in m.get("rustlibs", []):
                if lib in ours:
                    offered = variants(ours[lib])
                elif lib in aidl:
                    offered = aidl[lib][0]
                elif (lib, tree) in table:
                    offered = set(table[(lib, tree)]["partitions"])
                else:
                    errors.append(f"{tree}: {m['name']}: {lib} is not in tests/aosp/crates.toml "
                                  "(record where AOSP offers it, or do not use it)")
                    continue
                for v in sorted(variants(m) - offered):
                    where = table.get((lib, tree), {}).get("file", "Android.bp")
                    errors.append(f"{tree}: {m['name']} ({v} variant) links {lib}, which is built "
                                  f"only for {', '.join(sorted(offered))} ({where})")
                checked += 1
    return report("deps", errors,
                  f"{checked} module dependencies, each available to every variant that links it")


# Cargo dependencies that only a package's binaries (and tests) use: Cargo cannot give a
# binary dependencies of its own, Android.bp does (each binary is a module listing its own), so
# these are not dependencies of the library crate.
BINARY_DEPS = {
    # gunyah-vm-service (host main; the mock is also the Android main's and the unit tests')
    "gunyah-vm-service": {"anyhow", "clap", "env_logger", "gunyah_mock"},
    "gunyah-vm-client": {"anyhow", "clap", "clap_complete", "clap_mangen"},  # gunyahctl
}
# The binder facade's two arms: rsbinder on the host, libbinder_rs in AOSP.
CARGO_TO_AOSP_CRATE = {"rsbinder": "binder"}
# Workspace libraries with no Android.bp library: the AIDL crate (AOSP's aidl_interface
# generates it) and the host test harness.
HOST_ONLY_LIBS = {"vendor_gunyahvm_hardware_gunyah", "gunyah_vm_tests"}


def check_graph():
    """Each workspace library crate has one rust_library in Android.bp linking the same crates."""
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO, check=True,
        capture_output=True, text=True).stdout)
    lib_of = {}
    for p in meta["packages"]:
        libs = [t["name"] for t in p["targets"] if "lib" in t["kind"]]
        if libs:
            lib_of[p["name"]] = libs[0]
    cargo = {}
    for p in meta["packages"]:
        lib = lib_of.get(p["name"])
        if lib is None or lib in HOST_ONLY_LIBS:
            continue
        deps = set()
        for d in p["dependencies"]:
            if d["kind"] is not None or d["optional"]:
                continue
            name = lib_of.get(d["name"], d["name"].replace("-", "_"))
            if name in BINARY_DEPS.get(p["name"], ()):
                continue
            deps.add(CARGO_TO_AOSP_CRATE.get(name, name))
        cargo[lib] = deps
    mods = load_modules()
    aidl = aidl_crates(mods)
    _, table = load_table()
    crate_of = {lib: f["crate"] for (lib, _), f in table.items()}
    libs = {m["name"]: m for m in mods if m["__type__"] == "rust_library"}
    crate_of.update({name: m.get("crate_name", name.removeprefix("lib")) for name, m in libs.items()})
    crate_of.update({name: pkg.replace(".", "_") for name, (_, pkg, _) in aidl.items()})
    errors = []
    aosp = {}
    for name, m in libs.items():
        crate = crate_of[name]
        aosp[crate] = {crate_of.get(r, r) for r in m.get("rustlibs", [])}
    for crate in sorted(set(cargo) | set(aosp)):
        if crate not in aosp:
            errors.append(f"the Cargo library {crate} has no rust_library in Android.bp")
        elif crate not in cargo:
            errors.append(f"Android.bp's library {crate} is no Cargo workspace library")
        elif cargo[crate] != aosp[crate]:
            only_cargo = ", ".join(sorted(cargo[crate] - aosp[crate])) or "-"
            only_aosp = ", ".join(sorted(aosp[crate] - cargo[crate])) or "-"
            errors.append(f"{crate}: only in Cargo: {only_cargo}; only in Android.bp: {only_aosp}")
    return report("graph", errors,
                  f"{len(cargo)} library crates, Cargo and Android.bp link the same crates")


def cargo_name(module):
    return re.sub(r"[^A-Za-z0-9_-]", "-", module)


def toml_list(items):
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def write_workspace(tree, out):
    """A Cargo workspace under `out` with one package per Rust module of Android.bp."""
    mods = load_modules()
    ours = {m["name"]: m for m in mods if m["__type__"] in RUST_TYPES}
    aidl = aidl_crates(mods)
    _, table = load_table()
    standin_dir = out.parent / f"{out.name}-standins"
    standin_dir.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    def standin(name, src, extra_deps=""):
        d = standin_dir / name
        d.mkdir(exist_ok=True)
        (d / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
            f'[lib]\npath = "{src}"\n\n[lints.rust]\nunexpected_cfgs = {{ level = "warn", '
            f'check-cfg = ["cfg(android_vndk)"] }}\n\n[dependencies]\n{extra_deps}')
        return d

    binder = standin("binder", HERE / "standin/binder/src/lib.rs", 'libc = "0.2"\n')
    rustutils = standin("rustutils", HERE / "standin/rustutils/src/lib.rs")
    dep_lines = {}
    for lib, (_, package, bp_dir) in aidl.items():
        crate = package.replace(".", "_")
        version = re.search(r"-V(\d+)-rust$", lib).group(1)
        api = bp_dir / "aidl_api" / package / version
        hash_ = (api / ".hash").read_text().split()[-1]
        d = standin(crate, standin_dir / crate / "lib.rs", f'binder = {{ path = "{binder}" }}\n')
        # The crate root AOSP's aidl_rust_glue.py writes: the binder crate re-exported, the
        # generated modules under `aidl`.
        (d / "lib.rs").write_text(
            "//! Stand-in for the AOSP-generated AIDL crate (tests/aosp/standin/aidl/aidl_rust.py).\n"
            "#![allow(missing_docs, clippy::all)]\npub use binder;\npub mod aidl {\n    include!(\"gen.rs\");\n}\n")
        subprocess.run([sys.executable, str(HERE / "standin/aidl/aidl_rust.py"), str(api), package,
                        version, hash_, str(d / "gen.rs")], check=True)
        dep_lines[lib] = f'{crate} = {{ path = "{d}" }}'
    for (lib, t), facts in table.items():
        if t != tree:
            continue
        if facts["standin"] == "binder":
            dep_lines[lib] = f'binder = {{ path = "{binder}" }}'
        elif facts["standin"] == "rustutils":
            dep_lines[lib] = f'rustutils = {{ path = "{rustutils}" }}'
        else:
            feats = [f for f in facts["features"] if f != "default"]
            dflt = "true" if "default" in facts["features"] else "false"
            version = facts.get("cargo_version", "=" + facts["version"])
            dep_lines[lib] = (f'{facts["crate"]} = {{ version = "{version}", '
                              f'default-features = {dflt}, features = {toml_list(feats)} }}')
    members = []
    for name, m in sorted(ours.items()):
        pkg = out / cargo_name(name)
        pkg.mkdir(exist_ok=True)
        src = (m["__dir__"] / m["srcs"][0]).resolve()
        crate = m.get("crate_name", name.removeprefix("lib"))
        kind = m["__type__"]
        if kind.startswith("rust_library"):
            target = f'[lib]\nname = "{crate}"\npath = "{src}"\n'
        elif kind.startswith("rust_binary"):
            target = f'[[bin]]\nname = "{crate}"\npath = "{src}"\n'
        else:
            target = f'[[test]]\nname = "{crate}"\npath = "{src}"\n'
        deps = []
        for lib in m.get("rustlibs", []):
            if lib in ours:
                dep_crate = ours[lib].get("crate_name", lib.removeprefix("lib"))
                deps.append(f'{dep_crate} = {{ path = "../{cargo_name(lib)}", package = "{cargo_name(lib)}" }}')
            elif lib in dep_lines:
                deps.append(dep_lines[lib])
            else:
                raise SystemExit(f"soong clippy: {name}: {lib} is neither ours nor in crates.toml "
                                 "(run soong.py deps)")
        cfgs = m.get("cfgs", []) + VENDOR_CFGS + ["fuzzing"]
        (pkg / "Cargo.toml").write_text(
            f'[package]\nname = "{cargo_name(name)}"\nversion = "0.0.0"\nedition = "{m.get("edition", "2021")}"\n'
            f'publish = false\nautotests = false\nautobins = false\nautoexamples = false\n\n{target}\n'
            f'[dependencies]\n' + "\n".join(deps) + "\n\n[lints.rust]\nunexpected_cfgs = "
            f'{{ level = "warn", check-cfg = {toml_list([f"cfg({c})" for c in cfgs] + ["cfg(feature, values(any()))"])} }}\n')
        members.append(cargo_name(name))
    # Resolve afresh: the table's versions are exact, and the rest is what crates.io serves.
    (out / "Cargo.lock").unlink(missing_ok=True)
    (out / "Cargo.toml").write_text(
        f'[workspace]\nresolver = "2"\nmembers = {toml_list(members)}\n')
    return ours


def lint_flags(m):
    """The lint set a module pins; Soong's path-based default otherwise ("android" outside
    vendor/ and hardware/, which is where a tree may put this one)."""
    rustc = LINT_SETS[m.get("lints", "android")][0]
    clippy = LINT_SETS[m.get("clippy_lints", "android")][1]
    return rustc + clippy


def run_clippy(tree_filter, variant_filter):
    trees, _ = load_table()
    failures = 0
    target = REPO / "target" / "aosp-check"
    for tree in trees:
        if tree_filter and tree != tree_filter:
            continue
        ws = target / tree
        ours = write_workspace(tree, ws)
        for variant in ("host", "system", "vendor"):
            if variant_filter and variant != variant_filter:
                continue
            for name, m in sorted(ours.items()):
                if variant not in variants(m):
                    continue
                cfgs = m.get("cfgs", []) + (VENDOR_CFGS if variant == "vendor" else [])
                # Soong passes a module's `features` as cfgs, as Cargo does.
                cfgs += [f'feature="{f}"' for f in m.get("features", [])]
                env = dict(os.environ)
                env["RUSTFLAGS"] = " ".join(f"--cfg={c}" for c in cfgs)
                # One target directory per set of flags, shared by the trees: the host and
                # system variants build alike here, and a crate of the same version and
                # features in both trees is then checked once (Cargo's fingerprints still
                # rebuild whatever differs).
                flags = "vendor" if variant == "vendor" else "core"
                env["CARGO_TARGET_DIR"] = str(target / f"build-{flags}")
                # The module's own target only: a rust_library is not built with --test (its
                # unit tests are a rust_test module of their own).
                kind = m["__type__"]
                only = "--lib" if kind.startswith("rust_library") else (
                    "--bins" if kind.startswith("rust_binary") else "--tests")
                cmd = ["cargo", "clippy", "-q", "--manifest-path", str(ws / "Cargo.toml"),
                       "-p", cargo_name(name), only, "--"] + lint_flags(m)
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                status = "ok" if proc.returncode == 0 else "FAILED"
                print(f"soong clippy: {tree} {variant:6} {name}: {status}")
                if proc.returncode != 0:
                    failures += 1
                    sys.stderr.write(proc.stderr)
    if failures:
        print(f"soong clippy: {failures} module variant(s) would not build in an AOSP tree", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["deps", "graph", "clippy"])
    ap.add_argument("--tree")
    ap.add_argument("--variant", choices=["host", "system", "vendor"])
    args = ap.parse_args()
    if args.command == "deps":
        return check_deps(args.tree)
    if args.command == "graph":
        return check_graph()
    return run_clippy(args.tree, args.variant)


if __name__ == "__main__":
    sys.exit(main())
