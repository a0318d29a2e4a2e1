//! Generates the Rust binding of `aidl/android/hardware/gunyah/*.aidl` with rsbinder-aidl.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let pkg = root.join("android/hardware/gunyah");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&pkg)
        .expect("aidl/android/hardware/gunyah")
        .map(|e| e.expect("readdir").path())
        .filter(|p| p.extension().is_some_and(|e| e == "aidl"))
        .collect();
    files.sort();
    let mut builder = rsbinder_aidl::Builder::new().include_dir(&root);
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        builder = builder.source(f);
        if f.file_stem()
            .is_some_and(|s| s.to_string_lossy().starts_with('I'))
        {
            builder = builder.version(1);
        }
    }
    println!("cargo:rerun-if-changed={}", pkg.display());
    builder
        .output(PathBuf::from("android_hardware_gunyah.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("rsbinder-aidl failed on {}: {e:?}", pkg.display()));
}
