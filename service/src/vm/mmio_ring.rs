//! The service's half of a VM's MMIO ring (docs/MMIO_RING.md): the shared memory, the
//! "exit posted" eventfd it signals and the per-slot "answer posted" eventfds it waits on.
//! A vCPU thread posts its exit in its own slot and waits for the answer, or for the VM to
//! stop; it takes an answer only through `mmio_ring::Ring::take_answer`, which reads each word
//! once and checks it.

use std::fs::File;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::aidl::MmioRing::MmioRing;
use crate::binder::pfd_from;
use gunyah_contract::mmio_ring::{self, Access, Answer, Ring, RingError};
use gunyah_sys::eventfd;
use gunyah_sys::shared_words::SharedWords;

/// How long a vCPU thread polls its slot for the answer (yielding the CPU between looks) before
/// it sleeps on the eventfd: a client that answers within it costs no wake-up (KVM's halt
/// polling makes the same trade, with 200 µs). Bounded, so a slow or silent client costs this
/// much CPU per exit at most; never on a single CPU (`eventfd::poll_briefly`).
pub const SPIN: Duration = Duration::from_micros(50);

/// How an exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// The client answered.
    Answered(Answer),
    /// The client answered with something that is not an answer.
    Refused(RingError),
    /// The VM is stopping: the vCPU thread must return.
    Stopped,
}

/// One VM's ring.
pub struct RingHost {
    memory: File,
    words: SharedWords,
    slots: u32,
    exit_posted: OwnedFd,
    answer_posted: Vec<OwnedFd>,
    /// Readable for good once the VM is stopping: every waiting vCPU polls it.
    stop: OwnedFd,
    /// Each slot's last exit number; only that slot's vCPU thread posts.
    seqs: Vec<AtomicU64>,
}

impl RingHost {
    /// A ring of `slots` slots (the VM's vCPUs).
    pub fn new(vm_id: i32, slots: u32) -> std::io::Result<Self> {
        let size = mmio_ring::memory_size(slots);
        let memory =
            gunyah_sys::memfd::sealed(&format!("gunyah-vm{vm_id}-mmio-ring"), size as u64)?;
        let len = NonZeroUsize::new(size).ok_or(std::io::ErrorKind::InvalidInput)?;
        let words = SharedWords::map(memory.as_fd(), len)?;
        Ring::create(words.words(), slots)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let answer_posted = (0..slots)
            .map(|_| eventfd::nonblocking())
            .collect::<nix::Result<Vec<_>>>()?;
        Ok(Self {
            memory,
            words,
            slots,
            exit_posted: eventfd::nonblocking()?,
            answer_posted,
            stop: eventfd::nonblocking()?,
            seqs: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// The parcelable for a client: new duplicates of every fd.
    pub fn descriptor(&self) -> std::io::Result<MmioRing> {
        let dup = |fd: BorrowedFd<'_>| fd.try_clone_to_owned().map(pfd_from);
        Ok(MmioRing {
            layout: mmio_ring::LAYOUT,
            memory: Some(dup(self.memory.as_fd())?),
            memorySize: mmio_ring::memory_size(self.slots) as i64,
            slotCount: self.slots as i32,
            exitPosted: Some(dup(self.exit_posted.as_fd())?),
            answerPosted: self
                .answer_posted
                .iter()
                .map(|fd| dup(fd.as_fd()))
                .collect::<std::io::Result<_>>()?,
        })
    }

    /// Ends every wait, now and from now on (the caller also makes `stopping` say so).
    pub fn stop(&self) {
        // An eventfd write fails only when the counter is full, which leaves it readable.
        let _ = eventfd::ring(self.stop.as_fd());
    }

    /// Posts `access` in `slot` and waits for its answer, or until the VM is stopping: `stop`
    /// was called and `stopping` says so.
    pub fn exchange(&self, slot: u32, access: &Access, stopping: &dyn Fn() -> bool) -> Exchange {
        let ring = match Ring::with_slots(self.words.words(), self.slots) {
            Ok(ring) => ring,
            Err(e) => return Exchange::Refused(e),
        };
        let Some(answer_posted) = self.answer_posted.get(slot as usize) else {
            return Exchange::Refused(RingError::NoSuchSlot {
                slot,
                slots: self.slots,
            });
        };
        let seq = self.seqs[slot as usize].fetch_add(1, Ordering::Relaxed) + 1;
        if let Err(e) = ring.post_exit(slot, seq, access) {
            return Exchange::Refused(e);
        }
        // A failure to signal (never, for an eventfd) would only delay the client; the wait
        // below still ends with an answer or a stop.
        let _ = eventfd::ring(self.exit_posted.as_fd());
        let outcome = || match ring.take_answer(slot, seq, access.size) {
            Ok(Some(answer)) => Some(Exchange::Answered(answer)),
            Ok(None) if stopping() => Some(Exchange::Stopped),
            Ok(None) => None,
            Err(e) => Some(Exchange::Refused(e)),
        };
        if let Some(done) = eventfd::poll_briefly(SPIN, outcome) {
            return done;
        }
        loop {
            // Level-triggered: an answer (or a stop) that came since the last look leaves its
            // eventfd readable, so nothing is missed. EINTR (a kick) loops to the look.
            let _ = eventfd::wait_readable(&[answer_posted.as_fd(), self.stop.as_fd()], None);
            let _ = eventfd::drain(answer_posted.as_fd());
            if let Some(done) = outcome() {
                return done;
            }
        }
    }
}
