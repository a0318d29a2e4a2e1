//! `gunyah-vm-service --trace FILE` (docs/TRACING.md): a trace of the README's quick start, plus
//! one VM whose MMIO goes to a binder handler, has every phase of a VM's life, in order, each
//! span with the VM's id and the caller's uid and pid.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use gunyah_binder::aidl::{
    GuestRange::GuestRange,
    IGunyahMmioHandler::{BnGunyahMmioHandler, IGunyahMmioHandler},
    VmState::VmState,
};
use gunyah_binder::{BinderResult, Interface};
use gunyah_vm_client::demo::demo_config_with_program;
use gunyah_vm_tests::{wait_until, workspace_bin, Service};

const HELLO: &str = include_str!("../../examples/guests/hello.s");
const GREETING: &str = "Hello from a Gunyah guest!\n";

/// One span's begin or end, from the Chrome JSON trace.
#[derive(Debug, Clone)]
struct Span {
    begin: bool,
    name: String,
    ts: f64,
    tid: u64,
    args: BTreeMap<String, String>,
}

impl Span {
    fn arg(&self, key: &str) -> Option<&str> {
        self.args.get(key).map(String::as_str)
    }
}

/// The trace's span events (B and E), in file order (which is time order per thread).
fn read_trace(path: &std::path::Path) -> Result<Vec<Span>> {
    let text = std::fs::read_to_string(path).context("reading the trace")?;
    let events: Vec<Value> = serde_json::from_str(&text).context("the trace is not JSON")?;
    let mut spans = Vec::new();
    for e in events {
        let ph = e["ph"].as_str().unwrap_or_default();
        if ph != "B" && ph != "E" {
            continue;
        }
        let args = e["args"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        (k.clone(), v.trim_matches('"').to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        spans.push(Span {
            begin: ph == "B",
            name: e["name"].as_str().unwrap_or_default().to_string(),
            ts: e["ts"].as_f64().unwrap_or(f64::NAN),
            tid: e["tid"].as_u64().unwrap_or_default(),
            args,
        });
    }
    Ok(spans)
}

/// The begins of VM `vm`'s spans, in time order.
fn begins_of(spans: &[Span], vm: &str) -> Vec<Span> {
    let mut of: Vec<Span> = spans
        .iter()
        .filter(|s| s.begin && s.arg("vm") == Some(vm))
        .cloned()
        .collect();
    of.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    of
}

/// Checks that `phases` begin in this order (each at its first begin after the previous one).
fn assert_in_order(begins: &[Span], phases: &[&str]) {
    let mut at = 0;
    for phase in phases {
        match begins[at..].iter().position(|s| s.name == *phase) {
            Some(i) => at += i + 1,
            None => panic!(
                "no {phase} after {:?} in {:?}",
                begins[..at].last().map(|s| &s.name),
                begins.iter().map(|s| s.name.as_str()).collect::<Vec<_>>()
            ),
        }
    }
}

/// Answers every MMIO write by counting it.
struct Count(Arc<AtomicU32>);

impl Interface for Count {}

impl IGunyahMmioHandler for Count {
    fn onRead(&self, _address: i64, _size: i32) -> BinderResult<i64> {
        Ok(0)
    }
    fn onWrite(&self, _address: i64, _size: i32, _value: i64) -> BinderResult<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A VM whose console goes to a binder handler (`setMmioHandler`), run until the guest exits.
fn run_with_binder_handler(service: &Service) -> Result<i32> {
    let client = service.connect(4)?;
    let config = demo_config_with_program("handler", 2 << 20, 1, HELLO)?;
    let vm = client
        .manager()
        .createVm(&config)
        .map_err(|s| anyhow::anyhow!("createVm: {s:?}"))?;
    let written = Arc::new(AtomicU32::new(0));
    let handler = gunyah_binder::new_binder!(BnGunyahMmioHandler, Count(written.clone()));
    let range = GuestRange {
        guestPhysAddr: 0x9000_0000,
        size: 4096,
    };
    vm.setMmioHandler(&range, Some(&handler))
        .map_err(|s| anyhow::anyhow!("setMmioHandler: {s:?}"))?;
    vm.start().map_err(|s| anyhow::anyhow!("start: {s:?}"))?;
    let exited = wait_until(Duration::from_secs(20), || {
        vm.getState().is_ok_and(|s| s == VmState::EXITED)
    });
    assert!(exited, "the guest exits");
    assert_eq!(written.load(Ordering::SeqCst) as usize, GREETING.len());
    let id = vm.getId().map_err(|s| anyhow::anyhow!("getId: {s:?}"))?;
    // The dump counts the same exits (what `gunyahctl top` reads).
    let line = service
        .diagnostics()?
        .vms
        .into_iter()
        .find(|l| l.id == id)
        .context("the VM's dump line")?;
    assert_eq!(line.exits.mmio_binder as usize, GREETING.len(), "{line:?}");
    assert_eq!(line.exits.mmio_ring, 0, "{line:?}");
    vm.destroy()
        .map_err(|s| anyhow::anyhow!("destroy: {s:?}"))?;
    Ok(id)
}

#[test]
fn test_trace_of_the_quick_start_has_every_phase() -> Result<()> {
    let trace = std::env::temp_dir().join(format!("gunyah-trace-{}.json", std::process::id()));
    let trace_arg = trace.display().to_string();
    let mut service = Service::start(&["--trace", &trace_arg])?;

    // The README's quick start.
    let hello = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/guests/hello.s");
    let quick_start = Command::new(workspace_bin("gunyahctl"))
        .arg("--socket")
        .arg(&service.socket)
        .args(["run", "--program"])
        .arg(&hello)
        .args(["--console", "0x90000000"])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let client_pid = quick_start.id().to_string();
    let out = quick_start.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(GREETING.trim_end()),
        "{stdout}"
    );
    let handler_vm = run_with_binder_handler(&service)?.to_string();
    service.wait_released()?;
    // The trace is complete once the service has ended.
    let status = service.terminate()?;
    assert!(status.success(), "{status:?}; log:\n{}", service.log());
    let spans = read_trace(&trace);
    std::fs::remove_file(&trace)?;
    let spans = spans?;

    let uid = nix::unistd::getuid().as_raw().to_string();
    for s in &spans {
        for key in ["vm", "uid", "pid"] {
            assert!(s.arg(key).is_some(), "{} has no {key}: {s:?}", s.name);
        }
    }

    // Quick start: VM 1.
    let vm1 = begins_of(&spans, "1");
    assert_in_order(
        &vm1,
        &[
            "createVm.map_memory",
            "createVm.build",
            "driver.create_vm",
            "driver.set_user_memory",
            "driver.add_vcpu",
            "driver.set_dtb_config",
            "start",
            "driver.start",
            "start.spawn_vcpus",
            "vcpu.run",
            "exit.mmio",
            "mmio.ring",
            "mmio.wait_client",
            "exit.status",
            "teardown",
            "teardown.stop",
            "teardown.join",
            "teardown.release",
            "reaper.release",
        ],
    );
    // The guest prints its greeting one MMIO write at a time, each over the ring.
    let count = |name: &str| vm1.iter().filter(|s| s.name == name).count();
    assert_eq!(count("exit.mmio"), GREETING.len());
    assert_eq!(count("mmio.ring"), GREETING.len());
    assert_eq!(count("mmio.handler"), 0);
    // Every span of the VM's binder calls is the quick start's, and its vCPU spans are on a
    // thread of their own.
    for s in &vm1 {
        assert_eq!(s.arg("uid"), Some(uid.as_str()), "{s:?}");
        assert_eq!(s.arg("pid"), Some(client_pid.as_str()), "{s:?}");
    }
    let create_tid = vm1.iter().find(|s| s.name == "createVm.build").unwrap().tid;
    assert!(vm1
        .iter()
        .filter(|s| s.name == "vcpu.run")
        .all(|s| s.tid != create_tid));

    // createVm begins before its id is known: its access check and validation carry vm 0,
    // and the createVm span's end carries the id.
    let create_end = spans
        .iter()
        .find(|s| !s.begin && s.name == "createVm" && s.arg("vm") == Some("1"))
        .context("createVm of vm 1")?;
    let create_begin = spans
        .iter()
        .rfind(|s| {
            s.begin && s.name == "createVm" && s.tid == create_end.tid && s.ts <= create_end.ts
        })
        .context("the begin of createVm")?;
    let checked = spans.iter().any(|s| {
        s.begin
            && s.name == "access_check"
            && s.arg("method") == Some("createVm")
            && s.arg("pid") == Some(client_pid.as_str())
            && s.ts >= create_begin.ts
            && s.ts <= create_end.ts
    });
    assert!(checked, "createVm's access check is inside createVm");

    // The binder handler path.
    let vm2 = begins_of(&spans, &handler_vm);
    assert_in_order(
        &vm2,
        &[
            "createVm.build",
            "start",
            "vcpu.run",
            "exit.mmio",
            "mmio.handler",
            "mmio.wait_client",
            "exit.status",
            "teardown",
            "reaper.release",
        ],
    );
    assert_eq!(
        vm2.iter().filter(|s| s.name == "mmio.handler").count(),
        GREETING.len()
    );
    if vm2.iter().any(|s| s.name == "mmio.ring") {
        bail!("the handler VM's exits went over a ring");
    }
    Ok(())
}
