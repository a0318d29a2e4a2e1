//! The conformance suite against the device's /dev/gunyah: the real driver on a Qualcomm
//! device, or gunyah_mock.ko (GunyahConformanceTest in Android.bp). Also compiled by the host
//! build, where it is ignored unless asked for (`cargo test -- --ignored` on a machine with the
//! device).

#![forbid(unsafe_code)]

// Not every item of the suite is used by this test (the gunyah-conformance binary's launcher).
#[allow(dead_code)]
#[path = "../src/conformance/mod.rs"]
mod conformance;

use std::path::Path;

use gunyah_hypervisor::gunyah::{GunyahHypervisor, DEFAULT_DEVICE};
use gunyah_hypervisor::Hypervisor;

#[test]
#[cfg_attr(
    not(aosp),
    ignore = "needs /dev/gunyah (run with --ignored where it exists)"
)]
fn test_device_conforms() {
    // This test is also the second process of the `process/` cases (below): run again with a
    // role in its environment, it plays that and exits.
    conformance::process::child_main_from_env();
    let device = Path::new(DEFAULT_DEVICE);
    let hyp = GunyahHypervisor::open(device).expect("open /dev/gunyah");
    let caps = hyp.capabilities();
    eprintln!("conformance: {} ({})", caps.backend, caps.generation);
    let mut results = conformance::run(&hyp, "");
    // The owner rule and RLIMIT_MEMLOCK, with this test re-run as the second process.
    let launcher = conformance::process::Launcher::Harness {
        exe: std::env::current_exe().expect("the test's own path"),
        test: "test_device_conforms",
    };
    results.extend(conformance::process::run(
        &launcher,
        device,
        caps.generation,
        "process/",
    ));
    results.extend(conformance::raw::run(device, caps.generation, "raw/"));
    // The corpus ships beside the test binary (Android.bp `data`, and the QEMU tier lays it out
    // the same way); `cargo test` runs the test in its package's folder, which holds it. Found
    // at run time: Soong sets no CARGO_MANIFEST_DIR to find it by at build time.
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("tests/data/guest_corpus")));
    let corpus = beside_exe
        .iter()
        .cloned()
        .chain([Path::new("data/guest_corpus").to_path_buf()])
        .find(|d| d.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "the scripted-guest corpus: neither {:?} (beside the test) nor data/guest_corpus \
                 (in the working directory) is a directory",
                beside_exe
            )
        });
    results.extend(conformance::corpus::run(&hyp, &corpus).expect("the scripted-guest corpus"));
    for r in &results {
        eprintln!(
            "{} {} ({} ms)",
            if r.outcome.is_ok() { "PASS" } else { "FAIL" },
            r.name,
            r.millis
        );
    }
    conformance::assert_all_pass(&results, 20);
}
