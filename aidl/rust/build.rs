//! Generates the Rust binding of `aidl/vendor/gunyahvm/hardware/gunyah/*.aidl` with rsbinder-aidl,
//! stamped with the latest frozen version and its hash (as AOSP stamps `-V<N>` crates), and
//! compiles the frozen snapshot of that version on its own, as AOSP builds the `-V<N>` crates
//! from it. `aidl/tools/aidl_api.py check` (CI) keeps the sources equal to that snapshot.

use std::path::{Path, PathBuf};

const PACKAGE: &str = "vendor.gunyahvm.hardware.gunyah";

fn aidl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readdir").path())
        .filter(|p| p.extension().is_some_and(|e| e == "aidl"))
        .collect();
    files.sort();
    files
}

/// The latest frozen version and its hash.
fn latest_frozen(api_dir: &Path) -> (i32, String) {
    let version = std::fs::read_dir(api_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", api_dir.display()))
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .max()
        .expect("a frozen version");
    let hash_file = api_dir.join(version.to_string()).join(".hash");
    let hash = std::fs::read_to_string(&hash_file)
        .unwrap_or_else(|e| panic!("{}: {e}", hash_file.display()))
        .lines()
        .last()
        .expect("a hash")
        .trim()
        .to_string();
    (version, hash)
}

fn generate(root: &Path, output: &str, version: i32, hash: &str) {
    let pkg = root.join("vendor/gunyahvm/hardware/gunyah");
    let mut builder = rsbinder_aidl::Builder::new().include_dir(root);
    for f in aidl_files(&pkg) {
        println!("cargo:rerun-if-changed={}", f.display());
        builder = builder.source(&f);
        // Interfaces carry getInterfaceVersion / getInterfaceHash.
        if f.file_stem()
            .is_some_and(|s| s.to_string_lossy().starts_with('I'))
        {
            builder = builder.version(version).hash(hash);
        }
    }
    builder
        .output(PathBuf::from(output))
        .generate()
        .unwrap_or_else(|e| panic!("rsbinder-aidl failed on {}: {e:?}", pkg.display()));
}

fn main() {
    let aidl = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let api_dir = aidl.join("aidl_api").join(PACKAGE);
    println!("cargo:rerun-if-changed={}", api_dir.display());
    let (version, hash) = latest_frozen(&api_dir);
    println!("cargo:rustc-env=GUNYAH_AIDL_VERSION={version}");
    println!("cargo:rustc-env=GUNYAH_AIDL_HASH={hash}");
    generate(&aidl, "vendor_gunyahvm_hardware_gunyah.rs", version, &hash);
    generate(
        &api_dir.join(version.to_string()),
        "vendor_gunyahvm_hardware_gunyah_frozen.rs",
        version,
        &hash,
    );
}
