//! VM lifetime over the wire: create → start → destroy, and teardown with every fd closed when
//! the client drops the VM, destroys it, or is SIGKILLed.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use gunyah_binder::aidl::{
    ErrorCode::ErrorCode, GuestRange::GuestRange, IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig, VmState::VmState,
};
use gunyah_contract::diagnostics::Counter;
use gunyah_vm_client::demo::demo_config;
use gunyah_vm_tests::{assert_service_error, spawn_test_client, wait_until, Service};

const MIB: u64 = 1 << 20;

/// A warmed-up service and client: one VM cycle has run, so lazily created threads and
/// allocator arenas exist before the baseline is taken.
fn warm(service: &Service) -> Result<gunyah_vm_client::Client> {
    let client = service.connect(0)?;
    let vm = client
        .manager()
        .createVm(&demo_config("warm-up", MIB, 2)?)
        .expect("createVm");
    vm.start().expect("start");
    vm.destroy().expect("destroy");
    drop(vm);
    service.baseline()?;
    Ok(client)
}

#[test]
fn test_create_start_state_destroy() -> Result<()> {
    let service = Service::start(&[])?;
    let client = warm(&service)?;
    let vm = client
        .manager()
        .createVm(&demo_config("vm-a", 2 * MIB, 2)?)
        .expect("createVm");
    assert_eq!(vm.getState().unwrap(), VmState::NOT_STARTED);
    assert!(vm.getExitInfo().unwrap().is_none());
    let id = vm.getId().unwrap();
    let listed = client.manager().listVms().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id, listed[0].name.as_str(), listed[0].vcpuCount),
        (id, "vm-a", 2)
    );
    assert_eq!(listed[0].memoryBytes, 2 * MIB as i64);

    vm.start().expect("start");
    assert_eq!(vm.getState().unwrap(), VmState::RUNNING);
    vm.start().expect("start is idempotent while running");
    let d = service.diagnostics()?;
    assert_eq!(
        (
            d.count(Counter::BackendLiveVms),
            d.count(Counter::BackendLiveVcpus)
        ),
        (1, 2)
    );

    vm.destroy().expect("destroy");
    assert_eq!(vm.getState().unwrap(), VmState::DESTROYED);
    assert!(client.manager().listVms().unwrap().is_empty());
    // The driver objects are closed on the reaper thread; once it is done, nothing is left.
    service.wait_released()?;
    let d = service.diagnostics()?;
    assert_eq!(
        (
            d.count(Counter::BackendLiveVms),
            d.count(Counter::BackendLiveVcpus)
        ),
        (0, 0)
    );
    Ok(())
}

#[test]
fn test_methods_after_destroy() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let vm = client
        .manager()
        .createVm(&demo_config("gone", MIB, 1)?)
        .expect("createVm");
    let id = vm.getId().unwrap();
    vm.destroy().unwrap();
    // These still answer.
    assert_eq!(vm.getId().unwrap(), id);
    assert_eq!(vm.getState().unwrap(), VmState::DESTROYED);
    assert!(vm.getExitInfo().unwrap().is_none());
    vm.destroy().expect("destroy is idempotent");
    // Everything else is INVALID_STATE.
    let state = ErrorCode::INVALID_STATE.0;
    assert_service_error(vm.start(), state, "start: vm");
    let range = GuestRange {
        guestPhysAddr: 0x9000_0000,
        size: 4096,
    };
    assert_service_error(vm.setMmioHandler(&range, None), state, "setMmioHandler: vm");
    assert_service_error(
        vm.createIrqfd(&IrqfdConfig::default()),
        state,
        "createIrqfd: vm",
    );
    assert_service_error(
        vm.createIoeventfd(&IoeventfdConfig::default()),
        state,
        "createIoeventfd: vm",
    );
    Ok(())
}

#[test]
fn test_drop_proxy_closes_every_fd() -> Result<()> {
    let service = Service::start(&[])?;
    let client = warm(&service)?;
    let baseline = service.baseline()?;
    let mut vms = Vec::new();
    for i in 0..3 {
        let vm = client
            .manager()
            .createVm(&demo_config(&format!("drop-{i}"), MIB, 2)?)
            .expect("createVm");
        if i != 1 {
            vm.start().expect("start");
        }
        vms.push(vm);
    }
    let during = service.footprint()?;
    assert_eq!((during.backend_vms, during.backend_vcpus), (3, 6));
    // Per VM: the VM fd and 2 vCPU fds. The received memfd is closed once mapped; the
    // mapping keeps the memory (counted in guest_mappings).
    assert_eq!(
        during.fds,
        baseline.fds + 3 * 3,
        "{baseline:?} -> {during:?}"
    );
    assert_eq!(during.guest_mappings, 3);
    drop(vms);
    let took = service.wait_for_footprint(baseline, Duration::from_secs(2))?;
    eprintln!("dropped 3 VMs: footprint {during:?} -> {baseline:?} in {took:?}");
    Ok(())
}

#[test]
fn test_destroy_then_drop_closes_once() -> Result<()> {
    let service = Service::start(&[])?;
    let client = warm(&service)?;
    let baseline = service.baseline()?;
    let vm = client
        .manager()
        .createVm(&demo_config("twice", MIB, 1)?)
        .expect("createVm");
    vm.start().unwrap();
    vm.destroy().unwrap();
    service.wait_for_footprint(baseline, Duration::from_secs(2))?;
    drop(vm);
    service.wait_for_footprint(baseline, Duration::from_secs(2))?;
    // The service is healthy: no double close hit another object's fd.
    let again = client
        .manager()
        .createVm(&demo_config("after", MIB, 1)?)
        .expect("createVm");
    again.start().expect("start");
    assert!(!service.log().contains("panic"), "{}", service.log());
    Ok(())
}

#[test]
fn test_sigkilled_client_loses_its_vms() -> Result<()> {
    let service = Service::start(&[])?;
    let _client = warm(&service)?;
    let baseline = service.baseline()?;
    let (mut child, line) = spawn_test_client(
        &service,
        &["--vms", "2", "--cpus", "2", "--start", "--callback"],
    )?;
    assert!(line.starts_with("READY "), "child said {line:?}");
    let holding = service.footprint()?;
    assert_eq!(
        (
            holding.backend_vms,
            holding.backend_vcpus,
            holding.guest_mappings
        ),
        (2, 4, 2)
    );

    let killed = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL)?;
    child.wait()?;
    let took = service.wait_for_footprint(baseline, Duration::from_secs(1))?;
    eprintln!(
        "SIGKILL of a client holding 2 running VMs: fds {} -> {}, threads {} -> {}, \
         backend VMs {} -> 0; back to baseline {:?} after the kill ({:?} after the child was reaped)",
        holding.fds,
        baseline.fds,
        holding.threads,
        baseline.threads,
        holding.backend_vms,
        killed.elapsed(),
        took
    );
    Ok(())
}

/// The client dies while a vCPU thread of its VM is inside a call to the client's MMIO
/// handler. That call fails, and binder may end the dead client's session — dropping the VM's
/// last reference — on the vCPU thread itself: the VM must still be gone at once, not after
/// the vCPU join bound (teardown must never wait for the thread it runs on).
#[test]
fn test_client_killed_inside_its_mmio_handler_loses_its_vm() -> Result<()> {
    let service = Service::start(&[])?;
    let _client = warm(&service)?;
    let baseline = service.baseline()?;
    let mut worst = Duration::ZERO;
    for round in 0..10 {
        let (mut child, line) = spawn_test_client(&service, &["--block-in-mmio"])?;
        assert_eq!(line, "IN_MMIO\n", "round {round}: child said {line:?}");
        let killed = Instant::now();
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL)?;
        child.wait()?;
        service
            .wait_for_footprint(baseline, Duration::from_millis(500))
            .with_context(|| format!("round {round}"))?;
        worst = worst.max(killed.elapsed());
    }
    eprintln!("10 clients killed inside their MMIO handler: each VM gone within {worst:?}");
    assert!(
        !service.log().contains("did not stop"),
        "a vCPU thread was detached:\n{}",
        service.log()
    );
    Ok(())
}

/// The later drivers' last close waits for the hypervisor to reset the VM. `destroy()`, and
/// dropping the last reference, return without waiting for it: the reset is still running when
/// they have returned (the driver still counts the VM, `vms.releasing` says so), binder threads
/// keep serving meanwhile (the service has one), and then everything is released. On a14 the
/// driver frees the VM on a workqueue: the service's part is the same.
#[test]
fn test_a_slow_last_close_holds_no_binder_thread() -> Result<()> {
    for generation in ["ack66-late", "a14-late"] {
        let service = Service::start(&[
            "--mock-generation",
            generation,
            "--mock-reset-delay-ms",
            "3000",
            "--threads",
            "1",
        ])?;
        // Not warm(): its baseline would wait for the warm-up VM's slow release.
        let client = service.connect(0)?;
        let vm = client
            .manager()
            .createVm(&demo_config("slow", MIB, 2)?)
            .expect("createVm");
        vm.start().expect("start");
        vm.destroy().expect("destroy");
        assert_eq!(vm.getState().unwrap(), VmState::DESTROYED);
        let d = service.diagnostics()?;
        assert_eq!(
            d.count(Counter::BackendLiveVms),
            1,
            "{generation}: destroy() returned while the VM was being reset"
        );
        if generation == "ack66-late" {
            // The reaper is the thread waiting in the last close.
            assert_eq!(d.count(Counter::ReleasingVms), 1);
        }
        // The one binder thread is free: another VM is created, and its last reference
        // dropped, while the first one's reset runs.
        let other = client
            .manager()
            .createVm(&demo_config("other", MIB, 1)?)
            .expect("createVm during the reset");
        drop(other);
        service.wait_released()?;
        assert!(
            wait_until(Duration::from_secs(10), || service
                .diagnostics()
                .is_ok_and(|d| d.count(Counter::BackendLiveVms) == 0)),
            "{generation}: the VMs were freed"
        );
    }
    Ok(())
}

/// VMs whose release waits for the driver's reset are bounded: once 64 are in release,
/// createVm is refused (RESOURCE_EXHAUSTED, saying why) instead of piling up threads, fds and
/// mappings; once they are released, it succeeds again. (The client's quota does not count
/// them: a destroyed VM is not the client's any more.)
#[test]
fn test_vms_in_release_are_bounded() -> Result<()> {
    const MAX_PENDING: usize = 64;
    // The later drivers' last close is what waits for the reset (a14 frees on a workqueue).
    let service = Service::start(&[
        "--mock-generation",
        "ack66-late",
        "--mock-reset-delay-ms",
        "5000",
    ])?;
    // Not warm(): its baseline would wait for the warm-up VM's slow release.
    let client = service.connect(0)?;
    for i in 0..MAX_PENDING {
        let vm = client
            .manager()
            .createVm(&demo_config(&format!("churn-{i}"), MIB, 1)?)
            .expect("createVm");
        vm.destroy().expect("destroy");
    }
    assert_service_error(
        client
            .manager()
            .createVm(&demo_config("one-too-many", MIB, 1)?)
            .map(|_| ()),
        ErrorCode::RESOURCE_EXHAUSTED.0,
        "createVm: 64 destroyed VMs of uid 0 are still being released by the driver (at most 64)",
    );
    service.wait_released()?;
    client
        .manager()
        .createVm(&demo_config("after", MIB, 1)?)
        .expect("createVm once they are released");
    Ok(())
}
