//! gunyahctl against a real service.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::Result;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use gunyah_vm_tests::{workspace_bin, Service};

fn gunyahctl(service: &Service, args: &[&str]) -> Result<Output> {
    Ok(Command::new(workspace_bin("gunyahctl"))
        .arg("--socket")
        .arg(&service.socket)
        .args(args)
        .output()?)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn test_info_list_dump() -> Result<()> {
    let service = Service::start(&["--max-vcpus-per-vm", "4"])?;
    let info = gunyahctl(&service, &["info"])?;
    assert!(info.status.success(), "{info:?}");
    let text = stdout(&info);
    assert!(text.contains("backend:                    mock"), "{text}");
    assert!(text.contains("driver ABI:                 MOCK"), "{text}");
    assert!(
        text.contains("UNAUTHENTICATED, ANDROID_PVM, QCOM_TRUSTED_VM"),
        "{text}"
    );
    assert!(text.contains("max vCPUs per VM:           4"), "{text}");

    let list = gunyahctl(&service, &["list"])?;
    assert!(list.status.success());
    assert_eq!(
        stdout(&list).lines().count(),
        1,
        "header only: {}",
        stdout(&list)
    );

    let dump = gunyahctl(&service, &["dump"])?;
    assert!(dump.status.success());
    assert!(
        stdout(&dump).contains("backend.live_vms: 0"),
        "{}",
        stdout(&dump)
    );
    Ok(())
}

#[test]
fn test_run_demo_prints_states_and_cleans_up() -> Result<()> {
    let service = Service::start(&[])?;
    let run = gunyahctl(
        &service,
        &["run", "--hold", "1", "--cpus", "2", "--name", "demo-vm"],
    )?;
    let text = stdout(&run);
    assert!(run.status.success(), "{run:?}");
    assert!(
        text.contains("created vm 1 (\"demo-vm\", 2097152 bytes, 2 vCPUs)"),
        "{text}"
    );
    let states: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("state: "))
        .collect();
    assert_eq!(states, ["STARTING", "RUNNING", "DESTROYED"], "{text}");
    assert!(text.ends_with("vm 1: DESTROYED\n"), "{text}");
    assert_eq!(service.diagnostics()?.count("backend.live_vms"), 0);
    Ok(())
}

#[test]
fn test_run_sigterm_destroys_the_vm() -> Result<()> {
    let service = Service::start(&[])?;
    let mut child = Command::new(workspace_bin("gunyahctl"))
        .arg("--socket")
        .arg(&service.socket)
        .arg("run")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.contains("Ctrl-C") {
        line.clear();
        assert!(out.read_line(&mut line)? > 0, "gunyahctl ended early");
    }
    assert_eq!(service.diagnostics()?.count("backend.live_vms"), 1);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM)?;
    let status = child.wait()?;
    assert!(status.success(), "{status:?}");
    assert!(gunyah_vm_tests::wait_until(Duration::from_secs(2), || {
        service
            .diagnostics()
            .is_ok_and(|d| d.count("backend.live_vms") == 0)
    }));
    Ok(())
}

#[test]
fn test_clear_error_without_service() -> Result<()> {
    let out = Command::new(workspace_bin("gunyahctl"))
        .args(["--socket", "/nonexistent/gunyah.sock", "info"])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "gunyahctl: cannot connect to the Gunyah VM service at /nonexistent/gunyah.sock"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");
    Ok(())
}

#[test]
fn test_service_refuses_a_live_socket_and_replaces_a_stale_one() -> Result<()> {
    let mut first = Service::start(&[])?;
    let second = Command::new(workspace_bin("gunyah-vm-service"))
        .arg("--socket")
        .arg(&first.socket)
        .args(["--backend", "mock"])
        .output()?;
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already listening"),
        "{second:?}"
    );
    // SIGTERM: clean exit, socket removed.
    assert!(first.terminate()?.success());
    assert!(!first.socket.exists());

    // A killed service leaves its socket behind; the next one replaces it.
    let dir = first.dir().join("stale");
    let mut killed = Service::start_in(dir.clone(), &[])?;
    killed.kill()?;
    assert!(killed.socket.exists(), "SIGKILL leaves the socket file");
    let fresh = Service::start_in(dir, &[])?;
    let client = fresh.connect(0)?;
    assert_eq!(
        client
            .manager
            .getCapabilities()
            .expect("getCapabilities")
            .backend,
        "mock"
    );
    assert!(
        fresh.log().contains("removing stale socket"),
        "{}",
        fresh.log()
    );
    Ok(())
}
