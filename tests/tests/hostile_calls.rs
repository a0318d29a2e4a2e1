//! A hostile client's calls, beyond the shared fds (docs/THREAT_MODEL.md): calls racing
//! destroy, VMs in release, destroyed VMs a client keeps, peers of the diagnostics socket that
//! never read, and idle sessions (a caller thread that cannot be started: the unit tests of
//! `service/src/vm/mmio_handler.rs`). Each of these was
//! a red-team reproducer that failed before its fix.

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Result};

use gunyah_binder::aidl::{
    ErrorCode::ErrorCode, GuestRange::GuestRange, IGunyahVm::IGunyahVm,
    IGunyahVmManager::IGunyahVmManager, MmioRingRequest::MmioRingRequest,
};
use gunyah_binder::host::socket;
use gunyah_binder::Strong;
use gunyah_contract::diagnostics::Counter;
use gunyah_vm_client::demo::demo_config_with_program;
use gunyah_vm_tests::{assert_service_error, Service};

const MIB: u64 = 1 << 20;

fn vm_with(
    manager: &Strong<dyn IGunyahVmManager>,
    name: &str,
    program: &str,
) -> Result<Strong<dyn IGunyahVm>> {
    manager
        .createVm(&demo_config_with_program(name, MIB, 1, program)?)
        .map_err(|s| anyhow!("createVm: {s:?}"))
}

fn range(i: i64) -> GuestRange {
    GuestRange {
        guestPhysAddr: 0x9000_0000 + i * 0x1000,
        size: 0x1000,
    }
}

/// A session with `outgoing` connections, so that calls on one proxy from several threads run
/// on several service workers at once (the client library opens one).
struct MultiSession {
    client: rsbinder::Client,
}

impl MultiSession {
    fn open(service: &Service, outgoing: u32, timeout: Duration) -> Result<Self> {
        let uri = rsbinder::Uri::new(rsbinder::Endpoint::unix(&service.socket))
            .with_wire(gunyah_binder::host::wire());
        let client = rsbinder::Client::open_with(uri, |o, _| {
            o.fd_mode = Some(rsbinder::rpc::FileDescriptorTransportMode::Unix);
            o.outgoing_connections = Some(outgoing);
            o.timeout = Some(timeout);
        })
        .map_err(|e| anyhow!("open: {e:?}"))?;
        Ok(Self { client })
    }

    fn manager(&self) -> Result<Strong<dyn IGunyahVmManager>> {
        self.client
            .get::<dyn IGunyahVmManager>(gunyah_binder::MANAGER_INSTANCE)
            .map_err(|e| anyhow!("manager: {e:?}"))
    }
}

impl Drop for MultiSession {
    fn drop(&mut self) {
        if let Some(session) = self.client.session() {
            session.close_session();
        }
    }
}

/// setMmioRing and setMmioHandler on several connections while another destroys the VM: a
/// call that passed the "destroyed?" check before the teardown began used to add its route, and
/// a new ring (memfd, mapping, eventfds, pidfd), after the teardown had cleared them — kept on
/// the destroyed VM, outside the quota (seen: 20 of 2,157 rounds, fds 12 → 112). Now the router
/// refuses once cleared, under the routes' lock. Tries for 5 s.
#[test]
fn test_calls_racing_destroy_leave_nothing_on_the_destroyed_vm() -> Result<()> {
    let service = Service::start_quiet(&["--max-vms-per-client", "1"])?;
    let session = MultiSession::open(&service, 4, Duration::from_secs(30))?;
    let manager = session.manager()?;
    drop(vm_with(&manager, "warm", "idle")?);
    service.wait_released()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut rounds = 0u64;
    while Instant::now() < deadline {
        rounds += 1;
        let vm = vm_with(&manager, "race", "idle")?;
        let stop = Arc::new(AtomicBool::new(false));
        let hammers: Vec<_> = (0..3)
            .map(|t| {
                let (vm, stop) = (vm.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut i = 0i64;
                    while !stop.load(Ordering::SeqCst) {
                        i += 1;
                        let r = t * 20 + i % 20;
                        let request = MmioRingRequest {
                            range: range(r),
                            faultAnswers: false,
                        };
                        if vm.setMmioRing(&request).is_ok() {
                            let _ = vm.setMmioHandler(&range(r), None);
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_micros(100 + (rounds * 137) % 1500));
        vm.destroy().map_err(|s| anyhow!("destroy: {s:?}"))?;
        std::thread::sleep(Duration::from_micros(300));
        stop.store(true, Ordering::SeqCst);
        for h in hammers {
            let _ = h.join();
        }
        let id = vm.getId().map_err(|s| anyhow!("getId: {s:?}"))?;
        // Its quota comes back once its release ends.
        service.wait_released()?;
        let d = service.diagnostics()?;
        let kept = d
            .vms
            .iter()
            .find(|l| l.id == id && l.mmio_ring_ranges + l.mmio_handlers > 0);
        ensure!(
            kept.is_none(),
            "round {rounds}: the destroyed VM kept routes: {kept:?}"
        );
    }
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", service.pid()))?;
    ensure!(
        !maps.contains("mmio-ring"),
        "{rounds} rounds: a ring is still mapped"
    );
    eprintln!("{rounds} rounds of calls racing destroy: nothing kept");
    Ok(())
}

/// A VM in release still holds its driver objects and guest memory: it stays charged to its
/// client until released. With a quota of one VM and a slow reset, a client used to create
/// and destroy 64 VMs in 40 ms (64 backend VMs alive) and lock every other client out of
/// createVm ("64 destroyed VMs are still being released").
#[test]
fn test_vms_in_release_stay_charged_to_their_client() -> Result<()> {
    let service =
        Service::start_quiet(&["--max-vms-per-client", "1", "--mock-reset-delay-ms", "1500"])?;
    let client = service.connect(0)?;
    let vm = vm_with(client.manager(), "first", "idle")?;
    vm.destroy().map_err(|s| anyhow!("destroy: {s:?}"))?;
    drop(vm);
    assert_service_error(
        client
            .manager()
            .createVm(&demo_config_with_program("second", MIB, 1, "idle")?),
        ErrorCode::RESOURCE_EXHAUSTED.0,
        "quota.vms: uid ",
    );
    let d = service.diagnostics()?;
    ensure!(
        d.count(Counter::BackendLiveVms) <= 1,
        "{} backend VMs with a quota of 1",
        d.count(Counter::BackendLiveVms)
    );
    service.wait_released()?;
    drop(vm_with(client.manager(), "third", "idle")?);
    Ok(())
}

/// Destroyed VMs a client keeps cost the service memory and a dump line each: at most four
/// times its VM quota. A client with a quota of one VM used to keep 2,000 (dump 353 → 381,252
/// bytes, RSS +3.6 MiB).
#[test]
fn test_destroyed_vms_a_client_keeps_are_bounded() -> Result<()> {
    let service = Service::start_quiet(&["--max-vms-per-client", "1"])?;
    let client = service.connect(0)?;
    let mut kept = Vec::new();
    for i in 0..4 {
        let vm = vm_with(client.manager(), &format!("kept-{i}"), "idle")?;
        vm.destroy().map_err(|s| anyhow!("destroy: {s:?}"))?;
        kept.push(vm);
        service.wait_released()?;
    }
    assert_service_error(
        client
            .manager()
            .createVm(&demo_config_with_program("fifth", MIB, 1, "idle")?),
        ErrorCode::RESOURCE_EXHAUSTED.0,
        "quota.vm_objects: uid ",
    );
    kept.pop();
    drop(vm_with(client.manager(), "room", "idle")?);
    Ok(())
}

/// Peers of the diagnostics socket that connect and never read: each peer is served on a
/// thread of its own for at most 2 s in all, and no more than four at once. Eight such peers
/// used to hold the one diagnostics thread for 2 s per write each (an honest read: 32 s).
#[test]
fn test_silent_diagnostics_peers_hold_no_one_else() -> Result<()> {
    let service = Service::start_quiet(&["--max-vms-per-client", "400"])?;
    let client = service.connect(0)?;
    // A dump larger than a socket buffer: 1,500 destroyed VMs with long names.
    let mut kept = Vec::new();
    for i in 0..1500 {
        let vm = vm_with(client.manager(), &format!("{i:0>64}"), "idle")?;
        vm.destroy().map_err(|s| anyhow!("destroy: {s:?}"))?;
        kept.push(vm);
    }
    let path = socket::diagnostics_path(&service.socket);
    let size = gunyah_binder::host::diagnostics::read(&path)?.len();
    let silent: Vec<UnixStream> = (0..8)
        .map(|_| UnixStream::connect(&path))
        .collect::<std::io::Result<_>>()?;
    std::thread::sleep(Duration::from_millis(50));
    // Four of them are served (and time out); the rest are told to come back at once. An
    // honest reader gets its dump once a place is free.
    let start = Instant::now();
    let honest = loop {
        match gunyah_binder::host::diagnostics::read(&path) {
            Ok(text) => break text,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                ensure!(start.elapsed() < Duration::from_secs(5), "{e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e.into()),
        }
    };
    let waited = start.elapsed();
    drop(silent);
    eprintln!("dump of {size} bytes; with 8 silent peers an honest read took {waited:?}");
    ensure!(honest.len() >= size / 2, "{} bytes", honest.len());
    ensure!(
        waited < Duration::from_secs(4),
        "an honest read took {waited:?}"
    );
    Ok(())
}

/// Idle sessions cost the service a thread per connection; at most `--max-connections` are
/// served at once (300 sessions of 4 connections used to take it from 3 to 1,503 threads).
#[test]
fn test_idle_sessions_cannot_multiply_service_threads() -> Result<()> {
    let service = Service::start_quiet(&["--max-connections", "32"])?;
    let before = service.settled_footprint()?;
    let mut sessions = Vec::new();
    for _ in 0..40 {
        // Sessions beyond the bound wait in the listen backlog: their open times out.
        if let Ok(s) = MultiSession::open(&service, 4, Duration::from_millis(300)) {
            sessions.push(s);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = service.footprint()?;
    eprintln!(
        "{} of 40 sessions of 4 connections opened: threads {} -> {}",
        sessions.len(),
        before.threads,
        after.threads
    );
    // A connection's worker, and a thread per session of rsbinder's own: 40 sessions of 4
    // connections took 160 threads and more before.
    ensure!(
        after.threads <= before.threads + 2 * 32,
        "threads {} -> {} with at most 32 connections",
        before.threads,
        after.threads
    );
    drop(sessions);
    // The service answers again once they are gone.
    let client = service.connect(0)?;
    drop(vm_with(client.manager(), "after", "idle")?);
    Ok(())
}

/// Blocks the client's one incoming thread in its first notification, so that the service's
/// later oneways fill the callback connection (host RPC).
struct Stuck(std::sync::Mutex<std::sync::mpsc::Receiver<()>>);
impl gunyah_binder::Interface for Stuck {}
impl gunyah_binder::aidl::IGunyahVmCallback::IGunyahVmCallback for Stuck {
    fn onStateChanged(
        &self,
        _state: gunyah_binder::aidl::VmState::VmState,
    ) -> gunyah_binder::BinderResult<()> {
        let _ = self.0.lock().unwrap().recv();
        Ok(())
    }
    fn onExit(
        &self,
        _info: &gunyah_binder::aidl::VmExitInfo::VmExitInfo,
    ) -> gunyah_binder::BinderResult<()> {
        let _ = self.0.lock().unwrap().recv();
        Ok(())
    }
}

/// A client that stops reading its callback connection: notifications go out on each VM's
/// courier, which may wait on the full socket (until the session's reply timeout), never on
/// the thread of the client's start or destroy (it used to: a start took 10.0 s at round 94),
/// and a waiting courier keeps its VM charged, so the client cannot pile up waiting threads
/// past its quota.
#[test]
fn test_a_client_that_stops_reading_callbacks_stalls_no_call() -> Result<()> {
    use gunyah_binder::aidl::IGunyahVmCallback::{BnGunyahVmCallback, IGunyahVmCallback};
    let service = Service::start_quiet(&["--max-vms-per-client", "4"])?;
    let before = service.settled_footprint()?;
    let client = service.connect(1)?;
    let (_release, wait) = std::sync::mpsc::channel::<()>();
    let callback: Strong<dyn IGunyahVmCallback> =
        gunyah_binder::new_binder!(BnGunyahVmCallback, Stuck(std::sync::Mutex::new(wait)));
    let (mut slowest, mut rounds, mut refused, mut most_threads) = (Duration::ZERO, 0, 0, 0);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && rounds < 200 {
        rounds += 1;
        let vm = match client
            .manager()
            .createVm(&demo_config_with_program("cb", MIB, 1, "idle")?)
        {
            Ok(vm) => vm,
            Err(status) => {
                // The quota, held by couriers waiting on this client; or its session ended.
                refused += 1;
                if refused > 20 {
                    eprintln!("round {rounds}: {status:?}");
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if vm.registerCallback(&callback).is_err() {
            break;
        }
        for call in ["start", "destroy"] {
            let start = Instant::now();
            let result = match call {
                "start" => vm.start(),
                _ => vm.destroy(),
            };
            slowest = slowest.max(start.elapsed());
            if result.is_err() {
                break;
            }
        }
        most_threads = most_threads.max(service.footprint()?.threads);
    }
    eprintln!(
        "{rounds} rounds ({refused} refused); slowest start/destroy {slowest:?}; threads {} -> \
         at most {most_threads}",
        before.threads
    );
    ensure!(
        slowest < Duration::from_secs(3),
        "a start or destroy took {slowest:?}"
    );
    ensure!(
        most_threads <= before.threads + 16,
        "threads {} -> {most_threads}: couriers piled up past the quota",
        before.threads
    );
    Ok(())
}
