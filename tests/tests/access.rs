//! Access control: a caller whose uid is not allowed gets EX_SECURITY from every manager
//! method, and its diagnostics request is refused.

use anyhow::Result;

use gunyah_vm_client::demo::demo_config;
use gunyah_vm_tests::{assert_security, workspace_bin, Service};

#[test]
fn test_unlisted_uid_is_denied_everything() -> Result<()> {
    // The test runs as some uid; allow only a different one.
    let me = nix::unistd::geteuid().as_raw();
    let other = (me + 4242).to_string();
    let service = Service::start(&["--allow-uid", &other])?;
    let client = service.connect(0)?;
    assert_security(
        client
            .manager()
            .createVm(&demo_config("x", 1 << 20, 1)?)
            .map(|_| ()),
    );
    assert_security(client.manager().getCapabilities().map(|_| ()));
    assert_security(client.manager().listVms().map(|_| ()));
    let refused = gunyah_binder::host::diagnostics::read(
        &gunyah_binder::host::socket::diagnostics_path(&service.socket),
    )
    .unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(
        refused
            .to_string()
            .starts_with(&format!("uid {me} may not use")),
        "{refused}"
    );
    assert!(
        service.log().contains(&format!("uid {me}")),
        "denials are logged"
    );
    Ok(())
}

/// Every gunyahctl command the service refuses exits 1 with the reason (README, exit status).
#[test]
fn test_gunyahctl_exits_1_on_every_refusal() -> Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    let other = (me + 4242).to_string();
    let service = Service::start(&["--allow-uid", &other])?;
    for command in ["info", "list", "dump", "run"] {
        let out = std::process::Command::new(workspace_bin("gunyahctl"))
            .arg("--socket")
            .arg(&service.socket)
            .arg(command)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "gunyahctl {command}: {stderr}");
        assert!(
            stderr.contains(&format!("uid {me} ")) && stderr.contains("may not use"),
            "gunyahctl {command}: {stderr}"
        );
    }
    Ok(())
}

#[test]
fn test_listed_uid_is_allowed() -> Result<()> {
    let me = nix::unistd::geteuid().as_raw().to_string();
    let service = Service::start(&["--allow-uid", "4242", "--allow-uid", &me])?;
    let client = service.connect(0)?;
    let caps = client.manager().getCapabilities().expect("getCapabilities");
    assert_eq!(caps.backend, "mock");
    assert_eq!(caps.maxMemoryRegions, 32);
    Ok(())
}
