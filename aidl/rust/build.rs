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

/// The frozen versions, oldest first.
fn frozen_versions(api_dir: &Path) -> Vec<i32> {
    let mut versions: Vec<i32> = std::fs::read_dir(api_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", api_dir.display()))
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .collect();
    versions.sort();
    assert!(
        !versions.is_empty(),
        "no frozen version in {}",
        api_dir.display()
    );
    versions
}

/// A frozen version's hash.
fn frozen_hash(api_dir: &Path, version: i32) -> String {
    let hash_file = api_dir.join(version.to_string()).join(".hash");
    std::fs::read_to_string(&hash_file)
        .unwrap_or_else(|e| panic!("{}: {e}", hash_file.display()))
        .lines()
        .last()
        .expect("a hash")
        .trim()
        .to_string()
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
    let versions = frozen_versions(&api_dir);
    let version = *versions.last().expect("a version");
    let hash = frozen_hash(&api_dir, version);
    println!("cargo:rustc-env=GUNYAH_AIDL_VERSION={version}");
    println!("cargo:rustc-env=GUNYAH_AIDL_HASH={hash}");
    generate(&aidl, "vendor_gunyahvm_hardware_gunyah.rs", version, &hash);
    // Every frozen version on its own (module `frozen::v<N>`), stamped with its own hash.
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut modules = String::new();
    for v in versions {
        let file = format!("vendor_gunyahvm_hardware_gunyah_v{v}.rs");
        generate(
            &api_dir.join(v.to_string()),
            &file,
            v,
            &frozen_hash(&api_dir, v),
        );
        modules.push_str(&format!(
            "/// Frozen V{v}.\npub mod v{v} {{ include!(concat!(env!(\"OUT_DIR\"), \"/{file}\")); }}\n"
        ));
    }
    std::fs::write(out.join("frozen_versions.rs"), modules).expect("frozen_versions.rs");
}
