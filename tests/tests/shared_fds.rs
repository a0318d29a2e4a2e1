//! Every fd the service shares with a client is the client's to change at any moment, and every
//! wait on a client may never end (docs/THREAT_MODEL.md). Here a client does its worst to each
//! shared eventfd — the MMIO ring's "exit posted" and "answer posted", an irqfd, an ioeventfd —
//! and a binder MMIO handler never answers; each time the VM is released by destroy and by its
//! last reference within the bound, the service's fds, threads, mappings and backend VMs come
//! back, and the client never holds more VMs than its quota, however many threads it wedges.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use nix::fcntl::{fcntl, FcntlArg, OFlag};

use gunyah_binder::aidl::{
    ErrorCode::ErrorCode,
    GuestRange::GuestRange,
    IGunyahMmioHandler::{BnGunyahMmioHandler, IGunyahMmioHandler},
    IGunyahVm::IGunyahVm,
    IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig,
    MmioRingRequest::MmioRingRequest,
    VmState::VmState,
};
use gunyah_binder::{BinderResult, Interface, Strong};
use gunyah_contract::diagnostics::Counter;
use gunyah_vm_client::demo::demo_config_with_program;
use gunyah_vm_tests::raw_ring::RawRing;
use gunyah_vm_tests::{assert_service_error, wait_until, Service};

const MIB: u64 = 1 << 20;
const WAIT: Duration = Duration::from_secs(10);
/// What destroy and the last reference must return within (the vCPU join bound is 2 s).
const RELEASE_BOUND: Duration = Duration::from_secs(3);

/// Writes the ioeventfd, waits for doorbell 1, reads the ring's register; again while it reads 0.
const EVERY_FD: &str = "again: store4 [0x90001000], 1\n\
                        wait 1\n\
                        load4 r3, [0x90000000]\n\
                        jz r3, again\n\
                        idle";

/// The shared eventfds of one VM, as the client holds them.
struct Fds {
    exit_posted: OwnedFd,
    answer_posted: OwnedFd,
    irqfd: OwnedFd,
    ioeventfd: OwnedFd,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    ExitPosted,
    AnswerPosted,
    Irqfd,
    Ioeventfd,
}

#[derive(Debug, Clone, Copy)]
enum Hostile {
    /// `fcntl(F_SETFL, 0)`, then the counter filled to its maximum: a `write(2)` would sleep.
    BlockingAndFull,
    /// `fcntl(F_SETFL, 0)`, then the counter drained as soon as anyone rings it: a `read(2)`
    /// after a poll would sleep.
    BlockingAndStolen,
    /// The client closes its fd.
    Closed,
}

fn fd_of(fds: &Fds, target: Target) -> &OwnedFd {
    match target {
        Target::ExitPosted => &fds.exit_posted,
        Target::AnswerPosted => &fds.answer_posted,
        Target::Irqfd => &fds.irqfd,
        Target::Ioeventfd => &fds.ioeventfd,
    }
}

fn make_blocking(fd: &OwnedFd) -> Result<()> {
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::empty()))?;
    Ok(())
}

/// Steals the counter of `fd` (a blocking description) whenever it becomes readable, until
/// told to stop.
fn steal(fd: OwnedFd, stop: Receiver<()>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while stop.try_recv().is_err() {
            if gunyah_sys::eventfd::wait_readable(
                &[std::os::fd::AsFd::as_fd(&fd)],
                Some(Duration::from_millis(5)),
            )
            .unwrap_or(0)
                != 0
            {
                let _ = gunyah_sys::eventfd::Shared::from_client(fd.try_clone().unwrap())
                    .and_then(|s| s.take());
            }
        }
    })
}

fn setup(vm: &Strong<dyn IGunyahVm>) -> Result<(RawRing, Fds)> {
    let ring = vm
        .setMmioRing(&MmioRingRequest {
            range: GuestRange {
                guestPhysAddr: 0x9000_0000,
                size: 0x1000,
            },
            faultAnswers: false,
        })
        .map_err(|s| anyhow::anyhow!("setMmioRing: {s:?}"))?;
    let fds = Fds {
        exit_posted: gunyah_binder::pfd_as_fd(ring.exitPosted.as_ref().context("exit")?)
            .try_clone_to_owned()?,
        answer_posted: gunyah_binder::pfd_as_fd(&ring.answerPosted[0]).try_clone_to_owned()?,
        irqfd: vm
            .createIrqfd(&IrqfdConfig {
                label: 1,
                levelTriggered: false,
            })
            .map_err(|s| anyhow::anyhow!("createIrqfd: {s:?}"))?
            .into(),
        ioeventfd: vm
            .createIoeventfd(&IoeventfdConfig {
                guestPhysAddr: 0x9000_1000,
                size: 4,
                matchData: false,
                data: 0,
            })
            .map_err(|s| anyhow::anyhow!("createIoeventfd: {s:?}"))?
            .into(),
    };
    Ok((RawRing::open(&ring)?, fds))
}

#[test]
fn test_no_shared_eventfd_lets_a_client_hold_a_service_thread() -> Result<()> {
    // A quota of one VM: a VM whose release left anything charged fails the next round.
    let service = Service::start(&["--max-vms-per-client", "1"])?;
    let client = service.connect(0)?;
    let warm = client
        .manager()
        .createVm(&demo_config_with_program("warm", MIB, 1, EVERY_FD)?)
        .map_err(|s| anyhow::anyhow!("createVm: {s:?}"))?;
    drop(setup(&warm)?);
    drop(warm);
    let baseline = service.baseline()?;
    let targets = [
        Target::ExitPosted,
        Target::AnswerPosted,
        Target::Irqfd,
        Target::Ioeventfd,
    ];
    let hostiles = [
        Hostile::BlockingAndFull,
        Hostile::BlockingAndStolen,
        Hostile::Closed,
    ];
    for target in targets {
        for hostile in hostiles {
            for by_destroy in [true, false] {
                let case = format!(
                    "{target:?} {hostile:?} released by {}",
                    if by_destroy {
                        "destroy"
                    } else {
                        "the last reference"
                    }
                );
                let vm = client
                    .manager()
                    .createVm(&demo_config_with_program("hostile", MIB, 1, EVERY_FD)?)
                    .map_err(|s| anyhow::anyhow!("{case}: createVm: {s:?}"))?;
                let (ring, mut fds) = setup(&vm)?;
                let fd = fd_of(&fds, target);
                let (stop_stealing, stealing) = channel();
                let mut stealer = None;
                match hostile {
                    Hostile::BlockingAndFull => {
                        make_blocking(fd)?;
                        nix::unistd::write(fd, &(u64::MAX - 1).to_ne_bytes())?;
                    }
                    Hostile::BlockingAndStolen => {
                        make_blocking(fd)?;
                        stealer = Some(steal(fd.try_clone()?, stealing));
                    }
                    Hostile::Closed => {
                        let closed = std::mem::replace(
                            match target {
                                Target::ExitPosted => &mut fds.exit_posted,
                                Target::AnswerPosted => &mut fds.answer_posted,
                                Target::Irqfd => &mut fds.irqfd,
                                Target::Ioeventfd => &mut fds.ioeventfd,
                            },
                            gunyah_sys::eventfd::nonblocking()?,
                        );
                        drop(closed);
                    }
                }
                vm.start()
                    .map_err(|s| anyhow::anyhow!("{case}: start: {s:?}"))?;
                // Ring the doorbell a few times (a stealer may take some rings), and let the
                // guest reach the ring's register.
                for _ in 0..20 {
                    if !matches!(target, Target::Irqfd) || !matches!(hostile, Hostile::Closed) {
                        let _ = gunyah_sys::eventfd::ring(std::os::fd::AsFd::as_fd(&fds.irqfd));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                // The guest reaches the ring's register unless its doorbell is the fd under
                // attack. Looked for in the ring's memory only: reading "exit posted" would
                // undo what the client did to it.
                let reached = wait_until(Duration::from_secs(2), || {
                    ring.ring().pending_exit(0, 0).is_some()
                });
                ensure!(
                    reached || matches!(target, Target::Irqfd),
                    "{case}: the guest never reached the ring"
                );
                let start = Instant::now();
                if by_destroy {
                    vm.destroy()
                        .map_err(|s| anyhow::anyhow!("{case}: destroy: {s:?}"))?;
                    ensure!(
                        vm.getState().ok() == Some(VmState::DESTROYED),
                        "{case}: destroyed"
                    );
                }
                drop(vm);
                let took = start.elapsed();
                ensure!(took < RELEASE_BOUND, "{case}: the release took {took:?}");
                let _ = stop_stealing.send(());
                if let Some(stealer) = stealer {
                    let _ = stealer.join();
                }
                drop((ring, fds));
                service
                    .wait_for_footprint(baseline, WAIT)
                    .with_context(|| case.clone())?;
            }
        }
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
    let vm = client
        .manager()
        .createVm(&demo_config_with_program("short", MIB, 1, "idle")?)
        .map_err(|s| anyhow::anyhow!("createVm: {s:?}"))?;
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
    let vm = client
        .manager()
        .createVm(&demo_config_with_program("ranges", MIB, 1, "idle")?)
        .map_err(|s| anyhow::anyhow!("createVm: {s:?}"))?;
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
