#!/usr/bin/env python3
"""What an AOSP tree would reject, checked off-tree from Android.bp itself (the module list is
read from it, so a new module is covered without editing this file).

  soong.py deps     every Rust module uses only crates its variants (host, system, vendor) can
                    link, in every tree state of tests/aosp/crates.toml
  soong.py graph    Android.bp mirrors the Cargo crates: one rust_library per workspace library
                    crate, with the same dependencies (Cargo names mapped to AOSP's)
  soong.py env      every module that reads a CARGO_* variable at build time (env!, option_env!,
                    clap's `version`) has `cargo_env_compat`, as Soong sets none otherwise
  soong.py standins the stand-ins are as strict as upstream: programs upstream rejects
                    (standin/must_not_compile/) fail against them with the expected error
  soong.py standin-runs
                    the AOSP arm's code the stand-ins can run (death notifications: the
                    libbinder_rs stand-in models libbinder_ndk's), run: standin/runs/
  soong.py clippy   type-checks and lints every Rust module of Android.bp as Soong builds it, for
                    each supported release (tests/aosp/crates.toml [releases]): with the rustc the
                    release pins (tests/prereqs.sh aosp installs it), host (x86_64 Linux) and device variants
                    (aarch64-linux-android: system, and vendor with `--cfg android_vndk --cfg
                    android_vendor` on every crate), `--cfg soong` everywhere, the module's cfgs,
                    Soong's environment (no CARGO_* without `cargo_env_compat`: soong_rustc.py),
                    no unstable features, the lint set the module pins (`lints` / `clippy_lints`,
                    build/soong rust/config/lints.go); against crates.io crates of the release's
                    tree, and the stand-ins of tests/aosp/standin/ for libbinder_rs, librustutils,
                    libatrace_rust, libatrace_tracing_subscriber and the AIDL crates, the interface's unfrozen next version among them.

Options: --tree NAME (deps: default every tree state), --release NAME (clippy: default every
release), --variant host|system|vendor (clippy: default all).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import blueprint  # noqa: E402

# build/soong rust/config/lints.go: the "vendor" and "android" sets (rustc, then clippy), the
# android set as Android 15 and 16 have it.
LINT_SETS = {
    "vendor": (["-A", "deprecated", "-D", "warnings"],
               ["-A", "clippy::complexity", "-A", "clippy::perf", "-A", "clippy::style"]),
    "android": (["-A", "deprecated", "-A", "unknown_lints", "-D", "missing-docs", "-D", "warnings",
                 "-D", "unsafe_op_in_unsafe_fn"],
                ["-A", "clippy::disallowed_names", "-A", "clippy::type-complexity",
                 "-A", "clippy::unnecessary_fallible_conversions", "-A", "clippy::unnecessary-wraps",
                 "-A", "clippy::unusual-byte-groupings", "-A", "clippy::upper-case-acronyms",
                 "-D", "clippy::undocumented_unsafe_blocks"]),
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
    # gunyah-vm-service (host main)
    "gunyah-vm-service": {"anyhow", "clap", "env_logger", "tracing_chrome", "tracing_subscriber"},
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


# The cfgs upstream's platform crates test (libbinder_rs: android_vndk, android_ndk).
STANDIN_CFGS = ('[lints.rust]\nunexpected_cfgs = { level = "warn", check-cfg = '
                '["cfg(android_vndk)", "cfg(android_ndk)", "cfg(android_vendor)", "cfg(soong)", '
                '"cfg(standin_runtime)"] }\n\n')


def write_platform_standins(standin_dir):
    """Cargo packages under `standin_dir` for the stand-ins of libbinder_rs and librustutils;
    their folders."""
    dirs = []
    for name, deps in (("binder", 'libc = "0.2"\n'), ("rustutils", "")):
        d = standin_dir / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
            f'[lib]\npath = "{HERE / "standin" / name / "src/lib.rs"}"\n\n{STANDIN_CFGS}'
            f'[dependencies]\n{deps}')
        dirs.append(d)
    return dirs


def write_atrace_standins(standin_dir):
    """Cargo packages under `standin_dir` for the stand-ins of libatrace_rust (`atrace`) and
    libatrace_tracing_subscriber (a tracing-subscriber layer over it); their folders."""
    atrace = standin_dir / "atrace"
    layer = standin_dir / "atrace_tracing_subscriber"
    for d, deps in ((atrace, ""),
                    (layer, f'atrace = {{ path = "{atrace}" }}\ntracing = "0.1"\n'
                            'tracing-subscriber = { version = "0.3", default-features = false, '
                            'features = ["registry", "std"] }\n')):
        d.mkdir(parents=True, exist_ok=True)
        (d / "Cargo.toml").write_text(
            f'[package]\nname = "{d.name}"\nversion = "0.0.0"\n'
            f'edition = "2021"\npublish = false\n\n'
            f'[lib]\nname = "{d.name}"\npath = "{HERE / "standin" / d.name / "src/lib.rs"}"\n\n'
            f'{STANDIN_CFGS}[dependencies]\n{deps}')
    return atrace, layer


def cargo_name(module):
    return re.sub(r"[^A-Za-z0-9_-]", "-", module)


def toml_list(items):
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def next_aidl_version(mods):
    """The unfrozen next version of each aidl_interface: (crate module name, package, source root).
    Soong builds it (`<name>-V<N+1>-rust`) from the current sources while a next version is
    developed; nothing here links it, but it must compile."""
    out = []
    for m in mods:
        if m["__type__"] != "aidl_interface":
            continue
        latest = max((int(v["version"]) for v in m.get("versions_with_info", [])), default=0)
        out.append((f"{m['name']}-V{latest + 1}-rust", m["name"], m["__dir__"]))
    return out


def write_aidl_crate(d, binder, package, api_root, version, hash_, name=None):
    """A stand-in for the crate `aidl --lang=rust` generates, with the crate root AOSP's
    aidl_rust_glue.py writes (system/tools/aidl build/aidl_rust_glue.py): the binder crate
    re-exported under a deprecation, the generated modules under `aidl`."""
    crate = package.replace(".", "_")
    d.mkdir(parents=True, exist_ok=True)
    (d / "Cargo.toml").write_text(
        f'[package]\nname = "{name or crate}"\nversion = "{version}.0.0"\nedition = "2021"\n'
        f'publish = false\n\n[lib]\nname = "{crate}"\npath = "lib.rs"\ntest = false\n'
        f'doctest = false\n\n[dependencies]\nbinder = {{ path = "{binder}" }}\n')
    (d / "lib.rs").write_text(
        "//! Stand-in for the AOSP-generated AIDL crate (tests/aosp/standin/aidl/aidl_rust.py).\n"
        "#![allow(non_snake_case)]\n#![allow(missing_docs)]\n"
        '#[deprecated(note = "Please access via libbinder_rs binder::")]\npub use binder;\n'
        "pub mod aidl {\n    include!(\"gen.rs\");\n}\n")
    subprocess.run([sys.executable, str(HERE / "standin/aidl/aidl_rust.py"), str(api_root), package,
                    str(version), hash_, str(d / "gen.rs")], check=True)
    return crate, d


def write_workspace(tree, rust_version, out):
    """A Cargo workspace under `out` with one package per Rust module of Android.bp (and one for
    each interface's unfrozen next version). Returns {package name: module}."""
    mods = load_modules()
    ours = {m["name"]: m for m in mods if m["__type__"] in RUST_TYPES}
    aidl = aidl_crates(mods)
    _, table = load_table()
    standin_dir = out / "standins"
    binder, rustutils = write_platform_standins(standin_dir)
    atrace, atrace_layer = write_atrace_standins(standin_dir)
    dep_lines = {}
    for lib, (_, package, bp_dir) in aidl.items():
        version = int(re.search(r"-V(\d+)-rust$", lib).group(1))
        api = bp_dir / "aidl_api" / package / str(version)
        hash_ = (api / ".hash").read_text().split()[-1]
        crate, d = write_aidl_crate(standin_dir / f"{package}-V{version}", binder, package, api,
                                    version, hash_)
        dep_lines[lib] = f'{crate} = {{ path = "{d}" }}'
    for (lib, t), facts in table.items():
        if t != tree:
            continue
        if facts["standin"] == "binder":
            dep_lines[lib] = f'binder = {{ path = "{binder}" }}'
        elif facts["standin"] == "rustutils":
            dep_lines[lib] = f'rustutils = {{ path = "{rustutils}" }}'
        elif facts["standin"] == "atrace":
            dep_lines[lib] = f'atrace = {{ path = "{atrace}" }}'
        elif facts["standin"] == "atrace_tracing_subscriber":
            dep_lines[lib] = f'atrace_tracing_subscriber = {{ path = "{atrace_layer}" }}'
        else:
            feats = [f for f in facts["features"] if f != "default"]
            dflt = "true" if "default" in facts["features"] else "false"
            version = facts.get("cargo_version", "=" + facts["version"])
            dep_lines[lib] = (f'{facts["crate"]} = {{ version = "{version}", '
                              f'default-features = {dflt}, features = {toml_list(feats)} }}')
    rv = f'rust-version = "{rust_version}"\n' if rust_version else ""
    packages = {}
    for name, m in sorted(ours.items()):
        pkg = out / cargo_name(name)
        pkg.mkdir(exist_ok=True)
        src = (m["__dir__"] / m["srcs"][0]).resolve()
        crate = m.get("crate_name", name.removeprefix("lib"))
        kind = m["__type__"]
        # Each package builds what the module builds, nothing more: a library is not also built
        # as its own unit tests (those are a rust_test module of their own).
        if kind.startswith("rust_library"):
            target = f'[lib]\nname = "{crate}"\npath = "{src}"\ntest = false\nbench = false\ndoctest = false\n'
        elif kind.startswith("rust_binary"):
            target = f'[[bin]]\nname = "{crate}"\npath = "{src}"\ntest = false\nbench = false\n'
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
        (pkg / "Cargo.toml").write_text(
            f'[package]\nname = "{cargo_name(name)}"\nversion = "0.0.0"\nedition = "{m.get("edition", "2021")}"\n'
            f'{rv}publish = false\nautotests = false\nautobins = false\nautoexamples = false\n'
            f'autobenches = false\n\n{target}\n[dependencies]\n' + "\n".join(deps) + "\n")
        packages[cargo_name(name)] = m
    # The interface's next version, from the current sources.
    for lib, package, bp_dir in next_aidl_version(mods):
        version = int(re.search(r"-V(\d+)-rust$", lib).group(1))
        write_aidl_crate(out / cargo_name(lib), binder, package, bp_dir, version, "notfrozen",
                         name=cargo_name(lib))
        packages[cargo_name(lib)] = {"name": lib, "__type__": "aidl_interface", "__next__": True,
                                     "vendor_available": True, "host_supported": True}
    (out / "Cargo.toml").write_text(
        f'[workspace]\nresolver = "2"\nmembers = {toml_list(sorted(packages))}\n')
    return packages


def lint_flags(m):
    """The lint set a module pins; Soong's path-based default otherwise ("android" outside
    vendor/ and hardware/, which is where a tree may put this one)."""
    if m.get("__next__"):
        return ["--cap-lints", "warn"]  # generated code: compiled, not linted
    rustc = LINT_SETS[m.get("lints", "android")][0]
    clippy = LINT_SETS[m.get("clippy_lints", "android")][1]
    return rustc + clippy


def soong_env(m):
    """The CARGO_* variables Soong sets for a module: none, unless it says `cargo_env_compat`
    (build/soong rust/builder.go rustEnvVars)."""
    if not m.get("cargo_env_compat"):
        return {}
    crate = m.get("crate_name", m["name"].removeprefix("lib"))
    env = {"CARGO_CRATE_NAME": crate, "CARGO_PKG_NAME": crate}
    if m["__type__"].startswith("rust_binary"):
        env["CARGO_BIN_NAME"] = m.get("stem", m["name"])
    version = m.get("cargo_pkg_version", "")
    if version:
        env["CARGO_PKG_VERSION"] = version
        parts = version.split(".")
        if len(parts) == 3:
            env.update(zip(["CARGO_PKG_VERSION_MAJOR", "CARGO_PKG_VERSION_MINOR",
                            "CARGO_PKG_VERSION_PATCH"], parts))
    return env


# The CARGO_* variables Soong can set (with cargo_env_compat).
SOONG_CARGO_VARS = {"CARGO_CRATE_NAME", "CARGO_PKG_NAME", "CARGO_BIN_NAME", "CARGO_PKG_VERSION",
                    "CARGO_PKG_VERSION_MAJOR", "CARGO_PKG_VERSION_MINOR", "CARGO_PKG_VERSION_PATCH"}

# A compiler for each variant: Soong's host is glibc Linux; a device variant (system, vendor)
# builds for Android (build/soong rust/config/arm64_device.go).
VARIANT_TARGETS = {"host": "x86_64-unknown-linux-gnu", "system": "aarch64-linux-android",
                   "vendor": "aarch64-linux-android"}


def load_releases():
    with open(HERE / "crates.toml", "rb") as f:
        return tomllib.load(f)["releases"]


def toolchain(rustc):
    """The rustc version of a release's toolchain: a pinned one, or "default", the machine's
    own. `tests/prereqs.sh aosp` installs them (with clippy and the device target)."""
    proc = subprocess.run(["rustc"] + toolchain_arg(rustc) + ["--version"], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"soong clippy: no rustc {rustc} (run tests/prereqs.sh aosp): "
                         f"{proc.stderr.strip()}")
    return proc.stdout.split()[1]


def toolchain_arg(rustc):
    return [] if rustc == "default" else [f"+{rustc}"]


def resolve(ws):
    """A lock file for the generated workspace: the table's crates at their exact versions, and
    for what they pull in, the newest versions the release's rustc compiles (Cargo's
    rust-version-aware resolver)."""
    env = dict(os.environ, CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS="fallback")
    (ws / "Cargo.lock").unlink(missing_ok=True)
    subprocess.run(["cargo", "generate-lockfile", "-q", "--manifest-path", str(ws / "Cargo.toml")],
                   env=env, check=True)


def run_clippy(release_filter, variant_filter):
    releases = load_releases()
    failures = 0
    checked = {}
    target = REPO / "target" / "aosp-check"
    for rel, facts in releases.items():
        if release_filter and rel != release_filter:
            continue
        version = toolchain(facts["rustc"])
        pinned = "" if facts["rustc"] == "default" else version
        ws = target / rel
        packages = write_workspace(facts["tree"], pinned, ws)
        resolve(ws)
        for variant in ("host", "system", "vendor"):
            if variant_filter and variant != variant_filter:
                continue
            selected = {p: m for p, m in packages.items() if variant in variants(m)}
            plan = {"rust_version": version, "modules": {
                p: {"env": soong_env(m), "lints": lint_flags(m),
                    # Soong passes a module's `features` as cfgs, as Cargo does.
                    "cfgs": m.get("cfgs", []) + [f'feature="{f}"' for f in m.get("features", [])]}
                for p, m in selected.items()}}
            out_dir = target / f"build-{rel}-{variant}"
            out_dir.mkdir(parents=True, exist_ok=True)
            plan_file = out_dir / "plan.json"
            text = json.dumps(plan, indent=1, sort_keys=True)
            if plan_file.exists() and plan_file.read_text() != text:
                forget_modules(out_dir, selected)
            plan_file.write_text(text)
            env = dict(os.environ)
            # Soong's global flags reach every crate of a variant (build/soong rust/config/global.go).
            env["RUSTFLAGS"] = " ".join(["--cfg=soong"] + [f"--cfg={c}" for c in (
                VENDOR_CFGS if variant == "vendor" else [])])
            env["CARGO_TARGET_DIR"] = str(out_dir)
            env["RUSTC_WRAPPER"] = str(HERE / "soong_rustc.py")
            env["SOONG_PLAN"] = str(plan_file)
            cmd = ["cargo"] + toolchain_arg(facts["rustc"]) + ["clippy", "--keep-going", "--locked",
                   "--message-format", "json-diagnostic-rendered-ansi", "--manifest-path",
                   str(ws / "Cargo.toml"), "--target", VARIANT_TARGETS[variant], "--all-targets"]
            for p in sorted(selected):
                cmd += ["-p", p]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            errors, built = read_messages(proc.stdout)
            for p, m in sorted(selected.items()):
                if errors.get(p):
                    status = "FAILED"
                elif p in built:
                    status = "ok"
                else:
                    status = "NOT BUILT (a dependency failed)" if proc.returncode else "ok"
                print(f"soong clippy: {rel} (rustc {version}, {facts['tree']}) {variant:6} "
                      f"{m['name']}: {status}")
                if status != "ok":
                    failures += 1
                    sys.stderr.write("".join(errors.get(p, [])))
                else:
                    checked.setdefault(f"rustc {version}", []).append(f"{m['name']} ({variant})")
            if proc.returncode and not any(errors.values()):
                sys.stderr.write(proc.stderr)
                failures += 1
    for tc, mods in checked.items():
        print(f"soong clippy: {tc}: {len(mods)} module variants pass")
    if failures:
        print(f"soong clippy: {failures} module variant(s) would not build in an AOSP tree", file=sys.stderr)
        return 1
    return 0


def read_messages(stdout):
    """Cargo's JSON messages: each package's rendered errors, and the packages that were built."""
    errors, built = {}, set()
    for line in stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        pkg = package_name(msg.get("package_id", ""))
        if msg.get("reason") == "compiler-artifact":
            built.add(pkg)
        elif msg.get("reason") == "compiler-message":
            d = msg["message"]
            if d.get("level") in ("error", "error: internal compiler error"):
                errors.setdefault(pkg, []).append(d.get("rendered") or d.get("message", ""))
    return errors, built


def package_name(package_id):
    """The package name in a Cargo package id (`path+file:///dir/name#0.0.0` since Cargo 1.77,
    `name 0.0.0 (path+file:///dir)` before)."""
    if " " in package_id:
        return package_id.split(" ")[0]
    m = re.search(r"/([^/#]+)#(?:([^@]+)@)?", package_id)
    if not m:
        return package_id
    return m.group(2) or m.group(1)


def forget_modules(out_dir, packages):
    """Makes Cargo rebuild our modules: their plan changed (Android.bp's cfgs, lints or env), which
    Cargo's fingerprints do not see, since the wrapper applies it."""
    for fp in out_dir.glob("*/debug/.fingerprint/*"):
        if fp.name.rsplit("-", 1)[0] in packages:
            shutil.rmtree(fp, ignore_errors=True)


def check_standins():
    """The stand-ins are as strict as upstream: each file of standin/must_not_compile/ is code
    upstream rejects, and must fail against the stand-ins with the error its `//! expect:` line
    names and no other error code (with the cfgs of its `//! cfg:` line): it fails for the
    reason it names. standin/compiles.rs, what upstream accepts, must compile."""
    out = REPO / "target" / "aosp-check" / "standin-fixtures"
    binder, rustutils = write_platform_standins(out / "standins")
    cases = [(HERE / "standin/compiles.rs", None, [])]
    for f in sorted((HERE / "standin/must_not_compile").glob("*.rs")):
        head = f.read_text()
        expect = re.search(r"^//! expect: (\S+)", head, re.M)
        cfgs = re.search(r"^//! cfg: (.+)$", head, re.M)
        if not expect:
            raise SystemExit(f"soong standins: {f.name} has no `//! expect:` line")
        cases.append((f, expect.group(1), cfgs.group(1).split() if cfgs else []))
    members = []
    for f, _, _ in cases:
        pkg = out / f.stem
        pkg.mkdir(exist_ok=True)
        (pkg / "Cargo.toml").write_text(
            f'[package]\nname = "{f.stem.replace("_", "-")}"\nversion = "0.0.0"\nedition = "2021"\n'
            f'publish = false\n\n[lib]\npath = "{f}"\n\n[dependencies]\n'
            f'binder = {{ path = "{binder}" }}\n'
            f'rustutils = {{ path = "{rustutils}" }}\n')
        members.append(f.stem)
    (out / "Cargo.toml").write_text(f'[workspace]\nresolver = "2"\nmembers = {toml_list(members)}\n')
    errors = []
    for f, expect, cfgs in cases:
        env = dict(os.environ, RUSTFLAGS=" ".join(f"--cfg={c}" for c in ["soong"] + cfgs),
                   CARGO_TARGET_DIR=str(out / ("target-" + "-".join(cfgs or ["core"]))))
        proc = subprocess.run(["cargo", "check", "-q", "--manifest-path", str(out / "Cargo.toml"),
                               "-p", f.stem.replace("_", "-")], env=env, capture_output=True,
                              text=True)
        name = f.relative_to(HERE)
        if expect is None and proc.returncode != 0:
            errors.append(f"{name} does not compile against the stand-ins:\n{proc.stderr}")
        elif expect is not None and proc.returncode == 0:
            errors.append(f"{name} compiles against the stand-ins, but upstream rejects it "
                          f"({expect}): a stand-in is looser than upstream")
        elif expect is not None and error_codes(proc.stderr) != {expect}:
            # Only the named error: a fixture that also fails for another reason (a name
            # upstream does not have, say) would pass here and fail upstream differently.
            found = ", ".join(sorted(error_codes(proc.stderr))) or "no error code"
            errors.append(f"{name} fails with {found}, not with {expect} alone:\n{proc.stderr}")
    return report("standins", errors, f"{len(cases) - 1} programs upstream rejects fail against "
                  "the stand-ins with the expected error; the control compiles")


def error_codes(stderr):
    """The rustc error codes (`error[E0004]`) in a compiler's output."""
    return set(re.findall(r"^error\[(E\d{4})\]", stderr, re.M))


def run_standin_tests():
    """The AOSP arm's code that the stand-ins can run, run: each test of standin/runs/ against
    libgunyah_binder compiled as Soong compiles it (aidl/binder/src/lib.rs with `--cfg aosp`),
    the libbinder_rs stand-in (its death-notification model, with `--cfg standin_runtime`) and
    the stand-in AIDL crate of the interface's latest version, on the host's toolchain."""
    out = REPO / "target" / "aosp-check" / "standin-runs"
    binder, _ = write_platform_standins(out / "standins")
    mods = load_modules()
    lib = next(m for m in mods if m.get("name") == "libgunyah_binder")
    aidl = aidl_crates(mods)
    latest = max(aidl, key=lambda n: int(re.search(r"-V(\d+)-rust$", n).group(1)))
    _, package, bp_dir = aidl[latest]
    version = int(re.search(r"-V(\d+)-rust$", latest).group(1))
    api = bp_dir / "aidl_api" / package / str(version)
    hash_ = (api / ".hash").read_text().split()[-1]
    crate, aidl_dir = write_aidl_crate(out / "standins" / f"{package}-V{version}", binder, package,
                                       api, version, hash_)
    cfgs = ["soong", "standin_runtime"] + lib.get("cfgs", [])
    gb = out / "gunyah-binder"
    gb.mkdir(parents=True, exist_ok=True)
    (gb / "Cargo.toml").write_text(
        f'[package]\nname = "gunyah-binder"\nversion = "0.0.0"\nedition = "{lib.get("edition", "2021")}"\n'
        f'publish = false\n\n[lints.rust]\nunexpected_cfgs = {{ level = "warn", check-cfg = '
        f'{toml_list(f"cfg({c})" for c in cfgs)} }}\n\n[lib]\nname = "{lib["crate_name"]}"\n'
        f'path = "{(lib["__dir__"] / lib["srcs"][0]).resolve()}"\ntest = false\ndoctest = false\n\n'
        f'[dependencies]\nbinder = {{ path = "{binder}" }}\n{crate} = {{ path = "{aidl_dir}" }}\n')
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    tests = sorted((HERE / "standin/runs").glob("*.rs"))
    targets = "".join(f'[[test]]\nname = "{t.stem}"\npath = "{t}"\n\n' for t in tests)
    (runs / "Cargo.toml").write_text(
        '[package]\nname = "standin-runs"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n'
        f'autotests = false\n\n{targets}[dependencies]\nbinder = {{ path = "{binder}" }}\n'
        f'gunyah_binder = {{ path = "{gb}", package = "gunyah-binder" }}\n')
    (out / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["gunyah-binder", "runs"]\n')
    env = dict(os.environ, RUSTFLAGS=" ".join(f"--cfg={c}" for c in cfgs),
               CARGO_TARGET_DIR=str(out / "target"))
    proc = subprocess.run(["cargo", "test", "-q", "--manifest-path", str(out / "Cargo.toml"),
                           "-p", "standin-runs"], env=env, capture_output=True, text=True)
    errors = []
    if proc.returncode != 0:
        errors.append(f"the AOSP arm fails against the stand-ins' runtime models:\n{proc.stdout}"
                      f"{proc.stderr}")
    passed = sum(int(n) for n in re.findall(r"test result: ok\. (\d+) passed", proc.stdout))
    return report("standin-runs", errors, f"{passed} tests of the AOSP arm pass against the "
                  f"stand-ins' runtime models ({', '.join(t.name for t in tests)})")


MOD_DECL = re.compile(r'(?:#\[path\s*=\s*"([^"]+)"\]\s*)?(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;')


def crate_files(root):
    """The files of the crate rooted at `root`, found by following its `mod x;` declarations
    (and `#[path]`), as rustc does."""
    files, todo = [], [root]
    while todo:
        f = todo.pop()
        if f in files or not f.is_file():
            continue
        files.append(f)
        is_dir_owner = f.name in ("lib.rs", "main.rs", "mod.rs") or f == root
        sub = f.parent if is_dir_owner else f.parent / f.stem
        for path, name in MOD_DECL.findall(strip_rust_comments(f.read_text())):
            if path:
                todo.append((f.parent / path).resolve())
            else:
                todo += [sub / f"{name}.rs", sub / name / "mod.rs"]
    return sorted(files)


def strip_rust_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


def check_env():
    """A module whose code reads a CARGO_* variable at build time says `cargo_env_compat: true`
    (and `cargo_pkg_version` for the version): Soong sets none otherwise. `env!` would fail the
    build, which `clippy` sees; `option_env!` compiles to None, which only this check sees.
    clap's `#[command(version)]` reads CARGO_PKG_VERSION."""
    mods = [m for m in load_modules() if m["__type__"] in RUST_TYPES]
    errors = []
    reads = re.compile(r'(?:option_)?env!\(\s*"(CARGO_[A-Z_]+)"')
    clap_version = re.compile(r"#\[command\([^\]]*\bversion\b(?!\s*=)")
    for m in mods:
        for f in crate_files((m["__dir__"] / m["srcs"][0]).resolve()):
            text = strip_rust_comments(f.read_text())
            needs = set(reads.findall(text))
            if clap_version.search(text):
                needs.add("CARGO_PKG_VERSION")
            for var in sorted(needs):
                if var in soong_env(m):
                    continue
                fix = ("add `cargo_env_compat: true` and `cargo_pkg_version`, or do not read it"
                       if var in SOONG_CARGO_VARS else "Soong never sets it: find it at run time")
                errors.append(f"{m['name']}: {f.relative_to(REPO)} reads {var} at build time, "
                              f"which Soong does not set for this module ({fix})")
    # A module's cargo_pkg_version is its Cargo package's version, so both builds print one.
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO, check=True,
        capture_output=True, text=True).stdout)
    version_of = {Path(t["src_path"]).resolve(): p["version"]
                  for p in meta["packages"] for t in p["targets"]}
    for m in mods:
        given = m.get("cargo_pkg_version")
        cargo = version_of.get((m["__dir__"] / m["srcs"][0]).resolve())
        if given and cargo and given != cargo:
            errors.append(f"{m['name']}: cargo_pkg_version {given} is not the Cargo package's "
                          f"version {cargo}")
    return report("env", errors, f"{len(mods)} modules read only the CARGO_* variables Soong sets them")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["deps", "graph", "env", "standins", "standin-runs",
                                        "clippy"])
    ap.add_argument("--tree", help="deps: one tree state of tests/aosp/crates.toml")
    ap.add_argument("--release", help="clippy: one release of tests/aosp/crates.toml")
    ap.add_argument("--variant", choices=["host", "system", "vendor"])
    args = ap.parse_args()
    if args.command == "deps":
        return check_deps(args.tree)
    if args.command == "graph":
        return check_graph()
    if args.command == "env":
        return check_env()
    if args.command == "standins":
        return check_standins()
    if args.command == "standin-runs":
        return run_standin_tests()
    return run_clippy(args.release, args.variant)


if __name__ == "__main__":
    sys.exit(main())
