#!/usr/bin/env python3
"""The rustc wrapper (RUSTC_WRAPPER) of `soong.py clippy`: makes each compiler run Cargo starts
look like the one Soong starts for the same module (build/soong rust/builder.go, rustEnvVars and
transformSrctoCrate; rust/config/global.go, GlobalRustFlags):

  every crate    the variant's cfgs come from RUSTFLAGS (`--cfg soong`, and `android_vndk`,
                 `android_vendor` on a vendor variant), as Soong's global flags reach every module
                 of the variant, libbinder_rs and the crates of external/ among them.
  our modules    (the packages `soong.py` generated, one per Android.bp Rust module)
                 - no CARGO_* variable, unless the module says `cargo_env_compat: true`; then the
                   ones Soong sets: CARGO_CRATE_NAME, CARGO_PKG_NAME, CARGO_BIN_NAME (binaries),
                   CARGO_PKG_VERSION and its parts (with `cargo_pkg_version`);
                 - OUT_DIR=out and ANDROID_RUST_VERSION, as Soong sets them;
                 - no `--check-cfg` (Soong passes none), the module's `cfgs` and `features`;
                 - `-Zallow-features=` (no `#![feature]` outside external/ and prebuilts/);
                 - the module's lint set, rustc's and clippy's.

  soong_rustc.py TOOL ARGS...     (Cargo's calling convention; SOONG_PLAN names the plan file)
"""

import json
import os
import sys


def main(argv):
    tool, args = argv[1], argv[2:]
    with open(os.environ["SOONG_PLAN"]) as f:
        plan = json.load(f)
    module = plan["modules"].get(os.environ.get("CARGO_PKG_NAME", ""))
    if module is None or "--print" in " ".join(args):
        # A dependency, or Cargo asking the compiler about itself: as Cargo starts it.
        os.execvp(tool, [tool] + args)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    env.update(module["env"])
    env["OUT_DIR"] = "out"
    env["ANDROID_RUST_VERSION"] = plan["rust_version"]
    # `-Zallow-features=` needs a compiler that takes -Z flags, as Android's prebuilt rustc does.
    env["RUSTC_BOOTSTRAP"] = "1"
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--check-cfg":
            skip = True
            continue
        if a.startswith("--check-cfg="):
            continue
        out.append(a)
    for c in module["cfgs"]:
        out += ["--cfg", c]
    out += ["-Zallow-features="] + module["lints"]
    os.execvpe(tool, [tool] + out, env)


if __name__ == "__main__":
    main(sys.argv)
