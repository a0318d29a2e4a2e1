//! A client that does its worst to every eventfd it shares with the service — the MMIO ring's
//! "exit posted" and "answer posted", an irqfd, an ioeventfd — and then lets its VM go
//! (docs/THREAT_MODEL.md): a fixed matrix of hostile operations, random sessions of them
//! between guest exits, and a wedge to be SIGKILLed in. `tests/tests/shared_fds.rs` runs them
//! against the userspace mock; `gunyah-test-client --hostile-fds` runs them in the QEMU tier on
//! `/dev/gunyah`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};

use gunyah_binder::aidl::{
    GuestRange::GuestRange, IGunyahVm::IGunyahVm, IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig, MmioRingRequest::MmioRingRequest, VmState::VmState,
};
use gunyah_binder::Strong;
use gunyah_contract::mmio_ring::{Action, Answer};
use gunyah_sys::eventfd::{self, Shared};
use gunyah_vm_client::demo::demo_config_with_program;
use gunyah_vm_client::Client;

use crate::raw_ring::RawRing;
use crate::wait_until;

/// What destroy and the last reference must return within (the vCPU join bound is 2 s).
pub const RELEASE_BOUND: Duration = Duration::from_secs(3);

/// Writes the ioeventfd, waits for doorbell 1, reads the ring's register; again while it reads 0.
pub const EVERY_FD: &str = "again: store4 [0x90001000], 1\n\
                            wait 1\n\
                            load4 r3, [0x90000000]\n\
                            jz r3, again\n\
                            idle";

/// The shared eventfds of one VM, as the client holds them.
pub struct Fds {
    /// The ring's "exit posted".
    pub exit_posted: OwnedFd,
    /// The ring's "answer posted" of slot 0.
    pub answer_posted: OwnedFd,
    /// Doorbell 1.
    pub irqfd: OwnedFd,
    /// The ioeventfd at 0x9000_1000.
    pub ioeventfd: OwnedFd,
}

/// Which shared eventfd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The ring's "exit posted".
    ExitPosted,
    /// The ring's "answer posted".
    AnswerPosted,
    /// The irqfd.
    Irqfd,
    /// The ioeventfd.
    Ioeventfd,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] = [
        Target::ExitPosted,
        Target::AnswerPosted,
        Target::Irqfd,
        Target::Ioeventfd,
    ];
}

/// What the client does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// `fcntl(F_SETFL, 0)`, then the counter filled to its maximum: a `write(2)` would sleep.
    BlockingAndFull,
    /// `fcntl(F_SETFL, 0)`, then the counter taken as soon as anyone rings it: a `read(2)`
    /// after a poll would sleep.
    BlockingAndStolen,
    /// The client closes its fd.
    Closed,
}

impl Hostile {
    /// Every hostile operation.
    pub const ALL: [Hostile; 3] = [
        Hostile::BlockingAndFull,
        Hostile::BlockingAndStolen,
        Hostile::Closed,
    ];
}

impl Fds {
    fn get(&self, target: Target) -> &OwnedFd {
        match target {
            Target::ExitPosted => &self.exit_posted,
            Target::AnswerPosted => &self.answer_posted,
            Target::Irqfd => &self.irqfd,
            Target::Ioeventfd => &self.ioeventfd,
        }
    }

    fn get_mut(&mut self, target: Target) -> &mut OwnedFd {
        match target {
            Target::ExitPosted => &mut self.exit_posted,
            Target::AnswerPosted => &mut self.answer_posted,
            Target::Irqfd => &mut self.irqfd,
            Target::Ioeventfd => &mut self.ioeventfd,
        }
    }
}

fn set_blocking(fd: BorrowedFd<'_>, blocking: bool) -> Result<()> {
    Ok(gunyah_sys::fd::set_nonblocking(fd, !blocking)?)
}

/// Fills the counter of `fd` to its maximum, whatever its flags, without this client sleeping
/// (only this client changes the flags, so the non-blocking window is its own).
fn fill(fd: BorrowedFd<'_>, leave_blocking: bool) -> Result<()> {
    set_blocking(fd, false)?;
    let _ = Shared::from_client(fd.try_clone_to_owned()?)?.take()?;
    let _ = nix::unistd::write(fd, &(u64::MAX - 1).to_ne_bytes());
    set_blocking(fd, leave_blocking)
}

/// Takes the counter of `fd` whenever it becomes readable, until told to stop.
fn steal(fd: OwnedFd, stop: Receiver<()>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let shared = Shared::from_client(fd).expect("an eventfd");
        while stop.try_recv().is_err() {
            let ready = eventfd::wait_readable(&[shared.as_fd()], Some(Duration::from_millis(5)));
            if ready.unwrap_or(0) != 0 {
                let _ = shared.take();
            }
        }
    })
}

fn dup(pfd: Option<&gunyah_binder::ParcelFileDescriptor>, what: &str) -> Result<OwnedFd> {
    let pfd = pfd.with_context(|| format!("no {what}"))?;
    Ok(gunyah_binder::pfd_as_fd(pfd).try_clone_to_owned()?)
}

/// A VM running [`EVERY_FD`] with its ring at 0x9000_0000, doorbell 1 and an ioeventfd at
/// 0x9000_1000 (not started).
pub fn create(client: &Client, name: &str) -> Result<(Strong<dyn IGunyahVm>, RawRing, Fds)> {
    let vm = client
        .manager()
        .createVm(&demo_config_with_program(name, 1 << 20, 1, EVERY_FD)?)
        .map_err(|s| anyhow!("createVm: {s:?}"))?;
    let ring = vm
        .setMmioRing(&MmioRingRequest {
            range: GuestRange {
                guestPhysAddr: 0x9000_0000,
                size: 0x1000,
            },
            faultAnswers: false,
        })
        .map_err(|s| anyhow!("setMmioRing: {s:?}"))?;
    let fds = Fds {
        exit_posted: dup(ring.exitPosted.as_ref(), "exitPosted")?,
        answer_posted: dup(ring.answerPosted.first(), "answerPosted")?,
        irqfd: vm
            .createIrqfd(&IrqfdConfig {
                label: 1,
                levelTriggered: false,
            })
            .map_err(|s| anyhow!("createIrqfd: {s:?}"))?
            .into(),
        ioeventfd: vm
            .createIoeventfd(&IoeventfdConfig {
                guestPhysAddr: 0x9000_1000,
                size: 4,
                matchData: false,
                data: 0,
            })
            .map_err(|s| anyhow!("createIoeventfd: {s:?}"))?
            .into(),
    };
    let ring = RawRing::open(&ring)?;
    Ok((vm, ring, fds))
}

/// Rings doorbell 1 a few times and waits until the guest has posted its ring exit, looking
/// at the ring's memory only (reading "exit posted" would undo what was done to it); whether
/// it did.
fn drive_to_the_ring(ring: &RawRing, fds: &Fds) -> bool {
    for _ in 0..20 {
        let _ = Shared::from_client(fds.irqfd.try_clone().expect("dup")).map(|s| s.signal());
        std::thread::sleep(Duration::from_millis(10));
        if ring.ring().pending_exit(0, 0).is_some() {
            return true;
        }
    }
    wait_until(Duration::from_secs(2), || {
        ring.ring().pending_exit(0, 0).is_some()
    })
}

/// Lets `vm` go by destroy or by dropping the last reference; how long that took, which must
/// be within [`RELEASE_BOUND`].
fn release(vm: Strong<dyn IGunyahVm>, by_destroy: bool) -> Result<Duration> {
    let start = Instant::now();
    if by_destroy {
        vm.destroy().map_err(|s| anyhow!("destroy: {s:?}"))?;
        let state = vm.getState().map_err(|s| anyhow!("getState: {s:?}"))?;
        ensure!(state == VmState::DESTROYED, "{state:?} after destroy");
    }
    drop(vm);
    let took = start.elapsed();
    ensure!(took < RELEASE_BOUND, "the release took {took:?}");
    Ok(took)
}

/// One case of the matrix: `hostile` done to `target` before the VM starts; the guest runs
/// to the ring's register (unless its doorbell is what was attacked); the VM is released by
/// destroy or by its last reference within the bound. The caller checks the service's
/// footprint afterwards.
pub fn run_case(
    client: &Client,
    target: Target,
    hostile: Hostile,
    by_destroy: bool,
) -> Result<Duration> {
    let (vm, ring, mut fds) = create(client, "hostile")?;
    let (stop_stealing, stealing) = channel();
    let mut stealer = None;
    match hostile {
        Hostile::BlockingAndFull => fill(fds.get(target).as_fd(), true)?,
        Hostile::BlockingAndStolen => {
            set_blocking(fds.get(target).as_fd(), true)?;
            stealer = Some(steal(fds.get(target).try_clone()?, stealing));
        }
        Hostile::Closed => {
            // Replaced by an eventfd of nobody's, so that the rest of the case runs alike.
            drop(std::mem::replace(
                fds.get_mut(target),
                eventfd::nonblocking()?,
            ));
        }
    }
    vm.start().map_err(|s| anyhow!("start: {s:?}"))?;
    let reached = drive_to_the_ring(&ring, &fds);
    let attacked_doorbell = target == Target::Irqfd && hostile != Hostile::BlockingAndFull;
    ensure!(
        reached || attacked_doorbell,
        "the guest never reached the ring"
    );
    let took = release(vm, by_destroy);
    let _ = stop_stealing.send(());
    if let Some(stealer) = stealer {
        let _ = stealer.join();
    }
    took
}

/// The whole matrix: every target × every hostile operation × destroy and last reference,
/// calling `after` (the footprint check) after each case.
pub fn run_matrix(client: &Client, mut after: impl FnMut(&str) -> Result<()>) -> Result<usize> {
    let mut cases = 0;
    for target in Target::ALL {
        for hostile in Hostile::ALL {
            for by_destroy in [true, false] {
                let case = format!(
                    "{target:?} {hostile:?}, released by {}",
                    if by_destroy {
                        "destroy"
                    } else {
                        "its last reference"
                    }
                );
                run_case(client, target, hostile, by_destroy).with_context(|| case.clone())?;
                after(&case)?;
                cases += 1;
            }
        }
    }
    Ok(cases)
}

/// xorshift64*: the random sessions' only source, so that a seed replays a session.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random session (replayed by `seed`): `steps` hostile operations on random shared fds —
/// blocking or not, filled, drained, rung, closed and replaced, the ring's words scribbled on
/// — between the guest's exits, some of which are answered; then the VM is released within the
/// bound. The operations it did, for the caller's log.
pub fn random_session(client: &Client, seed: u64, steps: u32) -> Result<Vec<String>> {
    let mut rng = Rng(seed | 1);
    let (vm, ring, mut fds) = create(client, "random")?;
    vm.start().map_err(|s| anyhow!("start: {s:?}"))?;
    let mut done = Vec::new();
    let mut answered = 0;
    for _ in 0..steps {
        let target = Target::ALL[rng.below(4) as usize];
        let fd = fds.get(target).try_clone()?;
        let op = rng.below(8);
        match op {
            0 => set_blocking(fd.as_fd(), true)?,
            1 => set_blocking(fd.as_fd(), false)?,
            2 => fill(fd.as_fd(), rng.below(2) == 0)?,
            3 => {
                let _ = Shared::from_client(fd)?.take();
            }
            4 => Shared::from_client(fd)?.signal()?,
            5 => drop(std::mem::replace(
                fds.get_mut(target),
                eventfd::nonblocking()?,
            )),
            6 => {
                let words = ring.words();
                let i = rng.below(words.len() as u64) as usize;
                words[i].store(rng.next(), std::sync::atomic::Ordering::Relaxed);
            }
            _ => {
                if let Some((seq, _)) = ring.ring().pending_exit(0, answered) {
                    answered = seq;
                    let _ = ring.ring().post_answer(
                        0,
                        seq,
                        &Answer {
                            action: Action::Handled,
                            read_data: 0,
                        },
                    );
                    let _ = Shared::from_client(fds.answer_posted.try_clone()?)?.signal();
                }
            }
        }
        done.push(format!("{op}:{target:?}"));
        std::thread::sleep(Duration::from_micros(rng.below(2000)));
    }
    release(vm, rng.below(2) == 0)?;
    Ok(done)
}

/// A VM whose every shared eventfd this client made blocking and full, started, with its guest
/// waiting at the ring's register: the service's vCPU thread is in its wait, where a client
/// that is then SIGKILLed must not leave it.
pub fn wedge(client: &Client) -> Result<(Strong<dyn IGunyahVm>, RawRing, Fds)> {
    let (vm, ring, fds) = create(client, "wedged")?;
    // What the service signals, before the guest runs; what it waits on, once it waits.
    fill(fds.exit_posted.as_fd(), true)?;
    fill(fds.ioeventfd.as_fd(), true)?;
    vm.start().map_err(|s| anyhow!("start: {s:?}"))?;
    ensure!(
        drive_to_the_ring(&ring, &fds),
        "the guest never reached the ring"
    );
    fill(fds.answer_posted.as_fd(), true)?;
    fill(fds.irqfd.as_fd(), true)?;
    Ok((vm, ring, fds))
}
