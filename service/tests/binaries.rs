//! The command-line surface of the service binary. (Also makes `cargo test` build them,
//! which the workspace's integration tests in `tests/` run.)

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> std::process::Output {
    Command::new(bin).args(args).output().expect("run binary")
}

#[test]
fn test_service_help_documents_its_flags() {
    let out = run(env!("CARGO_BIN_EXE_gunyah-vm-service"), &["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--socket",
        "--socket-mode",
        "--backend",
        "--allow-uid",
        "--max-vms-per-client",
        "--verbose",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn test_service_rejects_bad_flags_clearly() {
    let out = run(
        env!("CARGO_BIN_EXE_gunyah-vm-service"),
        &["--socket-mode", "999"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an octal permission mode"));
    let out = run(
        env!("CARGO_BIN_EXE_gunyah-vm-service"),
        &[
            "--mock-fault",
            "GH_NOPE=EIO",
            "--socket",
            "/nonexistent/x.sock",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the mock cannot fail \"GH_NOPE\""));
}

#[test]
fn test_gunyah_backend_names_the_missing_device() {
    let out = run(
        env!("CARGO_BIN_EXE_gunyah-vm-service"),
        &[
            "--backend",
            "gunyah",
            "--device",
            "/nonexistent/gunyah",
            "--socket",
            "/nonexistent/x.sock",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/gunyah: open failed: ENOENT"),
        "{err}"
    );
}
