//! Each binary's `--help` opens with what that binary is, not with its crate's description
//! (clap's bare `about` takes `CARGO_PKG_DESCRIPTION`, which describes a whole crate: "Host
//! integration tests: ..." for gunyah-conformance, "... core library and the service binary"
//! for gunyah-vm-service).

use std::process::Command;

use gunyah_vm_tests::workspace_bin;

#[test]
fn test_each_binary_help_says_what_it_is() {
    for (binary, says) in [
        ("gunyah-conformance", "conformance suite"),
        ("gunyah-bench", "Benchmarks"),
        ("gunyahctl", "Gunyah VMs"),
        ("gunyah-vm-service", "creates VMs"),
    ] {
        let out = Command::new(workspace_bin(binary))
            .arg("--help")
            .output()
            .unwrap_or_else(|e| panic!("{binary} --help: {e}"));
        assert!(out.status.success(), "{binary} --help: {}", out.status);
        let help = String::from_utf8_lossy(&out.stdout);
        let first = help.lines().next().unwrap_or_default();
        assert!(
            first.contains(says) && !first.contains("library") && !first.contains("tests"),
            "{binary} --help opens with {first:?}, not with what it is"
        );
    }
}
