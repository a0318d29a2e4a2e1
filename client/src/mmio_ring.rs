//! The client's half of a VM's MMIO ring (docs/MMIO_RING.md): one thread that waits for
//! "exit posted", finds each slot's new exit, asks the [`MmioHandler`] serving its address and
//! posts the answer, then signals that slot's "answer posted". It serves every range the
//! library routed to the ring; [`crate::Vm::set_mmio_handler`] uses it where the service
//! offers it (interface V3).

use gunyah_sys::sync::IgnorePoison;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use gunyah_binder::aidl::MmioRing::MmioRing;
use gunyah_binder::pfd_as_fd;
use gunyah_contract::mmio_ring::{self, Access, Answer, Ring};
use gunyah_sys::eventfd;
use gunyah_sys::model::GuestRange;
use gunyah_sys::shared_words::SharedWords;
use nix::fcntl::SealFlag;

use crate::error::{Error, Result};
use crate::mmio::MmioHandler;

/// How long the thread polls the slots (yielding the CPU between looks) after serving before it
/// sleeps on the eventfd; never on a single CPU (`eventfd::poll_briefly`).
const SPIN: Duration = Duration::from_micros(50);

/// The ranges the ring serves, and their handlers.
type Routes = RwLock<Vec<(GuestRange, Arc<dyn MmioHandler>)>>;

/// What the serving thread owns.
struct Served {
    words: SharedWords,
    slots: u32,
    exit_posted: OwnedFd,
    answer_posted: Vec<OwnedFd>,
    routes: Arc<Routes>,
    shutdown: Arc<OwnedFd>,
}

/// A running ring client; dropping it stops its thread.
pub(crate) struct RingClient {
    routes: Arc<Routes>,
    shutdown: Arc<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

fn bad(what: &str) -> Error {
    Error::Transport {
        call: "setMmioRing",
        message: format!("the service's MMIO ring is not usable: {what}"),
    }
}

fn dup(pfd: Option<&gunyah_binder::ParcelFileDescriptor>, what: &str) -> Result<OwnedFd> {
    let pfd = pfd.ok_or_else(|| bad(&format!("no {what}")))?;
    pfd_as_fd(pfd)
        .try_clone_to_owned()
        .map_err(|e| Error::io(format!("duplicating the ring's {what}"), e))
}

impl RingClient {
    /// Maps `ring`, checks it is a layout this library speaks, and starts serving it.
    pub(crate) fn start(vm_id: i32, ring: &MmioRing) -> Result<Self> {
        if ring.layout != mmio_ring::LAYOUT {
            return Err(bad(&format!(
                "layout {} (this library speaks {})",
                ring.layout,
                mmio_ring::LAYOUT
            )));
        }
        let slots = u32::try_from(ring.slotCount).map_err(|_| bad("a negative slot count"))?;
        let size = mmio_ring::memory_size(slots);
        if ring.memorySize != size as i64 || ring.answerPosted.len() != slots as usize {
            return Err(bad(&format!(
                "{} bytes and {} answer eventfds for {slots} slots",
                ring.memorySize,
                ring.answerPosted.len()
            )));
        }
        let memory = dup(ring.memory.as_ref(), "memory")?;
        // Mapped only when it cannot shrink under the mapping (a fault on every access).
        let stat = gunyah_sys::fd::stat(memory.as_fd())
            .map_err(|e| Error::io("fstat of the ring's memory", e.into()))?;
        let seals = gunyah_sys::fd::seals(memory.as_fd()).unwrap_or(SealFlag::empty());
        if !stat.regular || stat.size < size as u64 || !seals.contains(SealFlag::F_SEAL_SHRINK) {
            return Err(bad(&format!(
                "memory of {} bytes with seals {seals:?}: the ring needs {size} bytes a file \
                 sealed against shrinking holds",
                stat.size
            )));
        }
        let len = NonZeroUsize::new(size).ok_or_else(|| bad("no memory"))?;
        let words = SharedWords::map(memory.as_fd(), len)
            .map_err(|e| Error::io("mapping the MMIO ring", e.into()))?;
        Ring::open(words.words(), slots).map_err(|e| bad(&e.to_string()))?;
        let answer_posted = ring
            .answerPosted
            .iter()
            .map(|pfd| dup(Some(pfd), "answer eventfd"))
            .collect::<Result<Vec<_>>>()?;
        let shutdown =
            Arc::new(eventfd::nonblocking().map_err(|e| Error::io("an eventfd", e.into()))?);
        let routes = Arc::new(Routes::default());
        let served = Served {
            words,
            slots,
            exit_posted: dup(ring.exitPosted.as_ref(), "exit eventfd")?,
            answer_posted,
            routes: routes.clone(),
            shutdown: shutdown.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("vm{vm_id}-mmio-ring"))
            .spawn(move || served.serve())
            .map_err(|e| Error::io("starting the MMIO ring thread", e))?;
        Ok(Self {
            routes,
            shutdown,
            thread: Some(thread),
        })
    }

    /// Serves `range` with `handler` (replacing one for exactly that range).
    pub(crate) fn add(&self, range: GuestRange, handler: Arc<dyn MmioHandler>) {
        let mut routes = self.routes.write().ignore_poison();
        routes.retain(|(r, _)| *r != range);
        routes.push((range, handler));
    }

    /// Stops serving exactly `range`; whether it did.
    pub(crate) fn remove(&self, range: GuestRange) -> bool {
        let mut routes = self.routes.write().ignore_poison();
        let before = routes.len();
        routes.retain(|(r, _)| *r != range);
        routes.len() != before
    }
}

impl Drop for RingClient {
    fn drop(&mut self) {
        let _ = eventfd::ring(self.shutdown.as_fd());
        if let Some(thread) = self.thread.take() {
            // A thread inside a handler finishes it first; a handler that never returns
            // would hang here, as it would hang its vCPU.
            let _ = thread.join();
        }
    }
}

impl Served {
    fn serve(self) {
        let Ok(ring) = Ring::open(self.words.words(), self.slots) else {
            return;
        };
        let mut answered = vec![0u64; self.slots as usize];
        let fds = [self.exit_posted.as_fd(), self.shutdown.as_fd()];
        loop {
            // After an answer the guest's next access often follows at once: poll the slots
            // for a while before sleeping, which saves the wake-up (as the service does).
            eventfd::poll_briefly(SPIN, || {
                self.serve_pending(&ring, &mut answered).then_some(())
            });
            match eventfd::wait_readable(&fds, None) {
                Ok(ready) if ready & 0b10 != 0 => return,
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    log::error!("MMIO ring: waiting for exits failed: {e}");
                    return;
                }
            }
            // Drained before the slots are read: an exit posted after this signals again.
            let _ = eventfd::drain(self.exit_posted.as_fd());
            self.serve_pending(&ring, &mut answered);
        }
    }

    /// Answers every exit waiting in any slot; whether there was one.
    fn serve_pending(&self, ring: &Ring<'_>, answered: &mut [u64]) -> bool {
        let mut served = false;
        for (slot, last) in (0..self.slots).zip(answered.iter_mut()) {
            while let Some((seq, access)) = ring.pending_exit(slot, *last) {
                let answer = self.answer(&access);
                let _ = ring.post_answer(slot, seq, &answer);
                let _ = eventfd::ring(self.answer_posted[slot as usize].as_fd());
                *last = seq;
                served = true;
            }
        }
        served
    }

    /// What the handler of `access`'s address says; a read nobody serves is 0.
    fn answer(&self, access: &Access) -> Answer {
        let covered = GuestRange {
            guest_phys_addr: access.address,
            size: u64::from(access.size),
        };
        let handler = self
            .routes
            .read()
            .ignore_poison()
            .iter()
            .find(|(r, _)| r.contains(&covered))
            .map(|(_, h)| h.clone());
        let Some(handler) = handler else {
            return Answer::handled(0);
        };
        // A handler that panics answers 0 instead of ending the thread that serves every
        // vCPU of the VM (which would leave them waiting until the VM is destroyed).
        let answered =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match access.write {
                None => handler.read(access.address, access.size),
                Some(value) => {
                    handler.write(access.address, access.size, value);
                    0
                }
            }));
        Answer::handled(answered.unwrap_or_else(|_| {
            log::error!(
                "MMIO handler at {:#x} panicked; the access reads 0",
                access.address
            );
            0
        }))
    }
}
