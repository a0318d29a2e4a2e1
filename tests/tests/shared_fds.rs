//! Every fd the service shares with a client is the client's to change at any moment, and every
//! wait on a client may never end (docs/THREAT_MODEL.md). Here a client does its worst to each
//! shared eventfd — the MMIO ring's "exit posted" and "answer posted", an irqfd, an ioeventfd
//! (`gunyah_vm_tests::hostile_fds`: a matrix, random sessions, a SIGKILL while wedging) — and a
//! binder MMIO handler never answers; each time the VM is released by destroy and by its
//! last reference within the bound, the service's fds, threads, mappings and backend VMs come
//! back, and the client never holds more VMs than its quota, however many threads it wedges.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use gunyah_binder::aidl::{
    ErrorCode::ErrorCode,
    GuestRange::GuestRange,
    IGunyahMmioHandler::{BnGunyahMmioHandler, IGunyahMmioHandler},
    IGunyahVm::IGunyahVm,
    MmioRingRequest::MmioRingRequest,
    VmState::VmState,
};
use gunyah_binder::{BinderResult, Interface, Strong};
use gunyah_contract::diagnostics::Counter;
use gunyah_vm_client::demo::demo_config_with_program;
use gunyah_vm_tests::hostile_fds::{self, RELEASE_BOUND};
use gunyah_vm_tests::raw_ring::RawRing;
use gunyah_vm_tests::{assert_service_error, spawn_test_client, wait_until, Service};

const MIB: u64 = 1 << 20;
const WAIT: Duration = Duration::from_secs(10);

#[test]
fn test_no_shared_eventfd_lets_a_client_hold_a_service_thread() -> Result<()> {
    // A quota of one VM: a VM whose release left anything charged fails the next round.
    let service = Service::start(&["--max-vms-per-client", "1"])?;
    let client = service.connect(0)?;
    drop(hostile_fds::create(&client, "warm")?);
    let baseline = service.baseline()?;
    let cases = hostile_fds::run_matrix(&client, |case| {
        service
            .wait_for_footprint(baseline, WAIT)
            .map(|_| ())
            .with_context(|| case.to_string())
    })?;
    ensure!(cases == 24, "{cases} cases");
    ensure!(!service.log().contains("did not stop"), "{}", service.log());
    Ok(())
}

/// Random sessions of hostile operations on the shared fds between the guest's exits (a seed
/// replays one): each VM is released within the bound and nothing stays behind.
#[test]
fn test_random_hostile_sessions_leave_nothing_behind() -> Result<()> {
    let service = Service::start(&["--max-vms-per-client", "1"])?;
    let client = service.connect(0)?;
    drop(hostile_fds::create(&client, "warm")?);
    let baseline = service.baseline()?;
    let sessions: u64 = std::env::var("GUNYAH_HOSTILE_SESSIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8);
    for seed in 1..=sessions {
        let ops = hostile_fds::random_session(&client, seed, 40)
            .with_context(|| format!("seed {seed}"))?;
        service
            .wait_for_footprint(baseline, WAIT)
            .with_context(|| format!("seed {seed}: {}", ops.join(" ")))?;
    }
    Ok(())
}

/// A client SIGKILLed while every eventfd it shares is blocking and full, its vCPU waiting at
/// the ring: its session ends, and everything comes back.
#[test]
fn test_a_client_killed_while_wedging_loses_everything() -> Result<()> {
    let service = Service::start(&[])?;
    let warm = service.connect(0)?;
    drop(hostile_fds::create(&warm, "warm")?);
    let baseline = service.baseline()?;
    for round in 0..3 {
        let (mut child, line) = spawn_test_client(&service, &["--wedge"])?;
        ensure!(line == "WEDGED\n", "round {round}: the child said {line:?}");
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL)?;
        child.wait()?;
        service
            .wait_for_footprint(baseline, WAIT)
            .with_context(|| format!("round {round}"))?;
    }
    ensure!(!service.log().contains("did not stop"), "{}", service.log());
    Ok(())
}

/// A binder MMIO handler that answers only when the test ends.
struct Silent(Mutex<Receiver<()>>);

impl Interface for Silent {}

impl IGunyahMmioHandler for Silent {
    fn onRead(&self, _address: i64, _size: i32) -> BinderResult<i64> {
        let _ = self.0.lock().unwrap().recv();
        Ok(0)
    }
    fn onWrite(&self, _address: i64, _size: i32, _value: i64) -> BinderResult<()> {
        let _ = self.0.lock().unwrap().recv();
        Ok(())
    }
}

/// Ten rounds of create → wedge a vCPU in a handler that never answers → destroy, with a
/// quota of four VMs: destroy returns within its bound every time, the wedged calls keep their
/// VMs charged (the fifth createVm is refused, and no fifth VM ever exists), and once the
/// handlers answer everything comes back.
#[test]
fn test_a_handler_that_never_answers_holds_neither_the_vcpu_nor_more_than_the_quota() -> Result<()>
{
    let service = Service::start(&["--max-vms-per-client", "4"])?;
    let client = service.connect(4)?;
    let baseline = service.baseline()?;
    eprintln!("baseline: {baseline:?}");
    let mut answer_all: Vec<Sender<()>> = Vec::new();
    let mut refused = 0;
    for round in 0..10 {
        let vm = match client.manager().createVm(&demo_config_with_program(
            "wedged",
            MIB,
            1,
            "load4 r0, [0x90000000]\nidle",
        )?) {
            Ok(vm) => vm,
            Err(status) => {
                assert_service_error(
                    Err::<(), _>(status),
                    ErrorCode::RESOURCE_EXHAUSTED.0,
                    "quota.vms",
                );
                refused += 1;
                continue;
            }
        };
        let (answer, wait) = channel();
        answer_all.push(answer);
        let handler: Strong<dyn IGunyahMmioHandler> =
            gunyah_binder::new_binder!(BnGunyahMmioHandler, Silent(Mutex::new(wait)));
        vm.setMmioHandler(
            &GuestRange {
                guestPhysAddr: 0x9000_0000,
                size: 0x1000,
            },
            Some(&handler),
        )
        .map_err(|s| anyhow::anyhow!("setMmioHandler: {s:?}"))?;
        vm.start().map_err(|s| anyhow::anyhow!("start: {s:?}"))?;
        std::thread::sleep(Duration::from_millis(100)); // inside onRead now
        let start = Instant::now();
        vm.destroy()
            .map_err(|s| anyhow::anyhow!("destroy: {s:?}"))?;
        let took = start.elapsed();
        ensure!(took < RELEASE_BOUND, "round {round}: destroy took {took:?}");
        drop(vm);
        let d = service.diagnostics()?;
        eprintln!(
            "round {round}: {} backend VMs, {} fds, {} threads, lingering {:?}",
            d.count(Counter::BackendLiveVms),
            d.count(Counter::OpenFds),
            d.count(Counter::Threads),
            d.lingering_threads
        );
        ensure!(
            d.count(Counter::BackendLiveVms) <= 4,
            "round {round}: {} backend VMs with a quota of 4",
            d.count(Counter::BackendLiveVms)
        );
    }
    ensure!(
        refused == 6,
        "6 of 10 rounds refused by the quota, not {refused}"
    );
    let d = service.diagnostics()?;
    ensure!(
        d.lingering_threads.values().sum::<u64>() == 4,
        "the dump shows the 4 wedged calls: {:?}",
        d.lingering_threads
    );
    for answer in answer_all {
        let _ = answer.send(());
    }
    service.wait_for_footprint(baseline, WAIT)?;
    ensure!(
        wait_until(WAIT, || service
            .diagnostics()
            .is_ok_and(|d| d.lingering_threads.is_empty())),
        "no lingering thread once the handlers answered"
    );
    // The quota is back: four VMs again.
    let again: Vec<_> = (0..4)
        .map(|_| {
            client
                .manager()
                .createVm(&demo_config_with_program("again", MIB, 1, "idle").unwrap())
        })
        .collect();
    ensure!(again.iter().all(Result::is_ok), "the quota came back");
    Ok(())
}

/// A VM whose guest idles.
fn idle_vm(client: &gunyah_vm_client::Client, name: &str) -> Result<Strong<dyn IGunyahVm>> {
    client
        .manager()
        .createVm(&demo_config_with_program(name, MIB, 1, "idle")?)
        .map_err(|s| anyhow::anyhow!("createVm: {s:?}"))
}

fn ring_request(guest_phys_addr: i64) -> MmioRingRequest {
    MmioRingRequest {
        range: GuestRange {
            guestPhysAddr: guest_phys_addr,
            size: 0x1000,
        },
        faultAnswers: false,
    }
}

/// Sets the service's open-file limit with util-linux's `prlimit`.
fn limit_fds(service: &Service, limit: u64) -> Result<()> {
    let status = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", service.pid()))
        .arg(format!("--nofile={limit}:{}", limit.max(4096)))
        .status()?;
    ensure!(status.success(), "prlimit: {status}");
    Ok(())
}

/// `setMmioRing` while the service is short of fds fails, leaving nothing behind: the retry,
/// with fds to spare again, gets the ring (it used to find the range taken by the failed call).
#[test]
fn test_a_ring_request_that_fails_for_want_of_fds_can_be_retried() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let vm = idle_vm(&client, "short")?;
    let open = service.footprint()?.fds as u64;
    let mut failed = 0;
    // Too few fds for the ring, then for its copies, then for the reply's: each may fail
    // where it likes; none may leave the range taken.
    for spare in 0..16 {
        limit_fds(&service, open + spare)?;
        let attempt = vm.setMmioRing(&ring_request(0x9000_0000));
        limit_fds(&service, 4096)?;
        match attempt {
            Ok(ring) => {
                drop(RawRing::open(&ring)?);
                break;
            }
            Err(status) => {
                failed += 1;
                eprintln!("with {spare} fds to spare: {status:?}");
            }
        }
    }
    ensure!(failed > 0, "the service never ran short of fds");
    let ring = vm
        .setMmioRing(&ring_request(0x9000_0000))
        .map_err(|s| anyhow::anyhow!("the retry: {s:?}"))?;
    drop(RawRing::open(&ring)?);
    Ok(())
}

/// A VM's handlers and ring serve at most 64 ranges; the 65th is refused, naming the bound.
#[test]
fn test_mmio_ranges_per_vm_are_bounded() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let vm = idle_vm(&client, "ranges")?;
    let (_answer, wait) = channel();
    let handler: Strong<dyn IGunyahMmioHandler> =
        gunyah_binder::new_binder!(BnGunyahMmioHandler, Silent(Mutex::new(wait)));
    let range = |i: i64| GuestRange {
        guestPhysAddr: 0x9000_0000 + i * 0x1000,
        size: 0x1000,
    };
    vm.setMmioRing(&ring_request(0x9000_0000))
        .map_err(|s| anyhow::anyhow!("setMmioRing: {s:?}"))?;
    for i in 1..64 {
        vm.setMmioHandler(&range(i), Some(&handler))
            .map_err(|s| anyhow::anyhow!("range {i}: {s:?}"))?;
    }
    assert_service_error(
        vm.setMmioHandler(&range(64), Some(&handler)),
        ErrorCode::RESOURCE_EXHAUSTED.0,
        "range: this VM's handlers and ring serve 64 ranges already",
    );
    assert_service_error(
        vm.setMmioRing(&ring_request(0x9000_0000 + 64 * 0x1000)),
        ErrorCode::RESOURCE_EXHAUSTED.0,
        "range: this VM's handlers and ring serve 64 ranges already",
    );
    // Removing one makes room for one.
    vm.setMmioHandler(&range(1), None)
        .map_err(|s| anyhow::anyhow!("removing: {s:?}"))?;
    vm.setMmioHandler(&range(64), Some(&handler))
        .map_err(|s| anyhow::anyhow!("range 64: {s:?}"))?;
    Ok(())
}

/// The guest memory's memfd stays the client's too: it may grow it, punch holes in it, seal it
/// against future writes and close it while the VM runs. None of that reaches the service
/// (the shrink seal keeps its mapping whole): the VM runs and is released as usual.
#[test]
fn test_what_a_client_does_to_its_guest_memory_memfd_reaches_only_its_guest() -> Result<()> {
    use nix::fcntl::{fallocate, FallocateFlags};
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let baseline = service.baseline()?;
    let config = demo_config_with_program("memfd", MIB, 1, "idle")?;
    let memfd: OwnedFd = gunyah_binder::pfd_as_fd(
        config.memoryRegions[0]
            .memory
            .as_ref()
            .context("a region without memory")?,
    )
    .try_clone_to_owned()?;
    let vm = client
        .manager()
        .createVm(&config)
        .map_err(|s| anyhow::anyhow!("createVm: {s:?}"))?;
    drop(config);
    vm.start().map_err(|s| anyhow::anyhow!("start: {s:?}"))?;
    let file = std::fs::File::from(memfd);
    // Growing: the demo memfd is sealed against it, another client's may not be; harmless.
    let _ = file.set_len(4 * MIB);
    fallocate(
        file.as_raw_fd(),
        FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE,
        0,
        MIB as i64,
    )?;
    ensure!(file.set_len(MIB / 2).is_err(), "the shrink seal holds");
    let _ = gunyah_sys::fd::add_seals(
        std::os::fd::AsFd::as_fd(&file),
        nix::fcntl::SealFlag::F_SEAL_FUTURE_WRITE,
    );
    drop(file);
    std::thread::sleep(Duration::from_millis(100));
    // The punched hole zeroed the guest's program: the guest may have crashed on it — its
    // own business; the service answers on.
    let state = vm
        .getState()
        .map_err(|s| anyhow::anyhow!("getState: {s:?}"))?;
    ensure!(state != VmState::DESTROYED, "{state:?}");
    let start = Instant::now();
    vm.destroy()
        .map_err(|s| anyhow::anyhow!("destroy: {s:?}"))?;
    ensure!(
        start.elapsed() < RELEASE_BOUND,
        "destroy took {:?}",
        start.elapsed()
    );
    drop(vm);
    service.wait_for_footprint(baseline, WAIT)?;
    Ok(())
}
