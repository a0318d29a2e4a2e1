//! The command-line surface of the service's binaries. (Also makes `cargo test` build them,
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
fn test_gunyahctl_help_lists_commands() {
    let out = run(env!("CARGO_BIN_EXE_gunyahctl"), &["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["info", "list", "run", "dump"] {
        assert!(help.contains(cmd), "{cmd} missing from:\n{help}");
    }
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

#[test]
fn test_gunyahctl_abi_json_names_kernel_symbols() {
    let out = run(env!("CARGO_BIN_EXE_gunyahctl"), &["abi", "--json"]);
    assert!(out.status.success());
    let abi: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        abi["a14"]["ioctls"]["GH_VM_SET_USER_MEM_REGION"],
        "0x40204701"
    );
    assert_eq!(
        abi["ack-ext"]["structs"]["gunyah_map_cma_mem_args"]["fields"]["guest_mem_fd"],
        20
    );
    assert_eq!(
        abi["a14"]["structs"]["gh_vcpu_run"]["fields"]["status.exit_info"],
        20
    );
    assert_eq!(abi["upstream"]["ioctls"]["GUNYAH_VM_MAP_MEM"], "0x40204709");
}
