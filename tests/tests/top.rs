//! `gunyahctl top --json` against guests that exit at known rates, one of each kind: writes to
//! a console served over the MMIO ring (`gunyahctl run`), to a binder handler, to an address
//! nobody serves, and to an ioeventfd.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use gunyah_binder::aidl::{
    GuestRange::GuestRange,
    IGunyahMmioHandler::{BnGunyahMmioHandler, IGunyahMmioHandler},
    IGunyahVm::IGunyahVm,
    IoeventfdConfig::IoeventfdConfig,
    VmState::VmState,
};
use gunyah_binder::{BinderResult, Interface, Strong};
use gunyah_vm_client::demo::demo_config_with_program;
use gunyah_vm_tests::{wait_until, workspace_bin, Service};

/// Writes a byte to `addr` every `ms` milliseconds, forever.
fn ticker(addr: &str, ms: u32) -> String {
    format!(
        "start:  mov r0, 46\n\
         tick:   store1 [{addr}], r0\n\
                 sleep {ms}\n\
                 jmp tick\n"
    )
}

/// Kills the `gunyahctl run` it holds (SIGTERM: it destroys its VM) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

fn run_guest(service: &Service, name: &str, program: &str, console: bool) -> Result<Running> {
    let path = service.dir().join(format!("{name}.s"));
    std::fs::write(&path, program)?;
    let mut cmd = Command::new(workspace_bin("gunyahctl"));
    cmd.arg("--socket")
        .arg(&service.socket)
        .args(["run", "--name", name, "--program"])
        .arg(&path);
    if console {
        cmd.args(["--console", "0x90000000"]);
    }
    Ok(Running(
        cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?,
    ))
}

/// Answers every access with nothing.
struct Sink;

impl Interface for Sink {}

impl IGunyahMmioHandler for Sink {
    fn onRead(&self, _address: i64, _size: i32) -> BinderResult<i64> {
        Ok(0)
    }
    fn onWrite(&self, _address: i64, _size: i32, _value: i64) -> BinderResult<()> {
        Ok(())
    }
}

/// A started VM of this process running `program`.
fn start_vm(
    client: &gunyah_vm_client::Client,
    name: &str,
    program: &str,
    before_start: impl FnOnce(&Strong<dyn IGunyahVm>),
) -> Result<Strong<dyn IGunyahVm>> {
    let config = demo_config_with_program(name, 2 << 20, 1, program)?;
    let vm = client
        .manager()
        .createVm(&config)
        .map_err(|s| anyhow::anyhow!("createVm: {s:?}"))?;
    before_start(&vm);
    vm.start().map_err(|s| anyhow::anyhow!("start: {s:?}"))?;
    Ok(vm)
}

fn rate(vm: &Value, kind: &str) -> f64 {
    vm["exits_per_s"][kind].as_f64().unwrap_or(f64::NAN)
}

#[test]
fn test_top_json_reports_exit_rates() -> Result<()> {
    let service = Service::start(&[])?;
    let _ring = run_guest(&service, "ring50", &ticker("0x90000000", 20), true)?;
    let client = service.connect(4)?;
    let _binder = start_vm(&client, "binder25", &ticker("0x90000000", 40), |vm| {
        let range = GuestRange {
            guestPhysAddr: 0x9000_0000,
            size: 4096,
        };
        let sink = gunyah_binder::new_binder!(BnGunyahMmioHandler, Sink);
        vm.setMmioHandler(&range, Some(&sink))
            .expect("setMmioHandler");
    })?;
    let _unhandled = start_vm(&client, "unhandled20", &ticker("0xa0000000", 50), |_| {})?;
    let mut ioeventfd = None;
    let _ioeventfd = start_vm(&client, "ioeventfd10", &ticker("0xb0000000", 100), |vm| {
        let config = IoeventfdConfig {
            guestPhysAddr: 0xb000_0000,
            size: 1,
            matchData: false,
            data: 0,
        };
        ioeventfd = Some(vm.createIoeventfd(&config).expect("createIoeventfd"));
    })?;
    let running = wait_until(Duration::from_secs(20), || {
        service
            .diagnostics()
            .is_ok_and(|d| d.vms.len() == 4 && d.vms.iter().all(|vm| vm.state == VmState::RUNNING))
    });
    assert!(running, "every guest runs");

    let out = Command::new(workspace_bin("gunyahctl"))
        .arg("--socket")
        .arg(&service.socket)
        .args(["top", "--json", "--count", "3"])
        .output()?;
    assert!(out.status.success(), "{out:?}");
    let docs: Vec<Value> = String::from_utf8(out.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("one JSON document a line")?;
    assert_eq!(docs.len(), 3, "one document per interval");
    for doc in &docs[1..] {
        let secs = doc["interval_s"].as_f64().unwrap_or_default();
        assert!((0.9..2.0).contains(&secs), "{doc}");
        let vm = |name: &str| {
            doc["vms"]
                .as_array()
                .and_then(|vms| vms.iter().find(|v| v["name"] == name))
                .cloned()
                .unwrap_or_else(|| panic!("no {name} in {doc}"))
        };
        // A guest's period is its sleep plus the exit's round trip: its rate is a little under
        // 1000 / sleep. The counters are read some time inside each dump call, and the
        // interval is measured around the calls, so a rate may also come out a little over.
        // Each VM exits only by its own kind.
        let kinds = ["mmio_ring", "mmio_binder", "unhandled", "ioeventfd"];
        let all = [
            (vm("ring50"), "mmio_ring", 50.0),
            (vm("binder25"), "mmio_binder", 25.0),
            (vm("unhandled20"), "unhandled", 20.0),
            (vm("ioeventfd10"), "ioeventfd", 10.0),
        ];
        for (v, kind, expected) in &all {
            let r = rate(v, kind);
            assert!(r >= expected * 0.7 && r <= expected * 1.15, "{kind}: {v}");
            for other in kinds.iter().filter(|k| *k != kind) {
                assert_eq!(rate(v, other), 0.0, "{other}: {v}");
            }
        }
        for (v, kind, _) in &all {
            // An ioeventfd write is no exit to the service.
            let last_exit = v["last_exit_ms"].as_u64();
            match *kind {
                "ioeventfd" => assert_eq!(last_exit, None, "{v}"),
                _ => assert!(last_exit.is_some_and(|ms| ms < 500), "{v}"),
            }
            assert_eq!(v["state"], "RUNNING");
            assert_eq!(v["vcpus"], 1);
            assert_eq!(v["uid"], nix::unistd::getuid().as_raw());
        }
    }
    Ok(())
}
