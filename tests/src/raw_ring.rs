//! A client of the MMIO ring written against the layout directly (no client library): what
//! the hostile tests, the test client and the benchmark use to answer exits late, twice, out
//! of order, with garbage, or never.

use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};

use gunyah_binder::aidl::MmioRing::MmioRing;
use gunyah_binder::pfd_as_fd;
use gunyah_contract::mmio_ring::{self, Access, Answer, Ring};
use gunyah_sys::eventfd;
use gunyah_sys::shared_words::SharedWords;

/// One VM's ring, mapped in this process.
pub struct RawRing {
    words: SharedWords,
    slots: u32,
    exit_posted: OwnedFd,
    answer_posted: Vec<OwnedFd>,
}

fn dup(pfd: &gunyah_binder::ParcelFileDescriptor) -> Result<OwnedFd> {
    Ok(pfd_as_fd(pfd).try_clone_to_owned()?)
}

impl RawRing {
    /// Maps the ring `setMmioRing` returned and checks its header.
    pub fn open(ring: &MmioRing) -> Result<Self> {
        ensure!(ring.layout == mmio_ring::LAYOUT, "layout {}", ring.layout);
        let slots = u32::try_from(ring.slotCount)?;
        let size = mmio_ring::memory_size(slots);
        ensure!(ring.memorySize == size as i64, "size {}", ring.memorySize);
        let memory = dup(ring.memory.as_ref().context("no memory")?)?;
        let words = SharedWords::map(memory.as_fd(), NonZeroUsize::new(size).context("empty")?)?;
        Ring::open(words.words(), slots).map_err(|e| anyhow!("{e}"))?;
        Ok(Self {
            words,
            slots,
            exit_posted: dup(ring.exitPosted.as_ref().context("no exit eventfd")?)?,
            answer_posted: ring.answerPosted.iter().map(dup).collect::<Result<_>>()?,
        })
    }

    /// The ring's layout over its words.
    pub fn ring(&self) -> Ring<'_> {
        Ring::with_slots(self.words.words(), self.slots).expect("sized at open")
    }

    /// Every word, to scribble on.
    pub fn words(&self) -> &[AtomicU64] {
        self.words.words()
    }

    /// The next exit in `slot` whose number is not `answered`, waiting up to `timeout`.
    pub fn next_exit(&self, slot: u32, answered: u64, timeout: Duration) -> Option<(u64, Access)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(exit) = self.ring().pending_exit(slot, answered) {
                return Some(exit);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let _ = eventfd::wait_readable(&[self.exit_posted.as_fd()], Some(left));
            let _ = eventfd::drain(self.exit_posted.as_fd());
        }
    }

    /// Writes `answer` for exit `seq` of `slot` and signals the slot.
    pub fn answer(&self, slot: u32, seq: u64, answer: &Answer) -> Result<()> {
        self.ring()
            .post_answer(slot, seq, answer)
            .map_err(|e| anyhow!("{e}"))?;
        self.signal(slot)
    }

    /// Signals `slot`'s "answer posted" without writing anything.
    pub fn signal(&self, slot: u32) -> Result<()> {
        let fd = self
            .answer_posted
            .get(slot as usize)
            .context("no such slot")?;
        Ok(eventfd::ring(fd.as_fd())?)
    }

    /// The "exit posted" eventfd.
    pub fn exit_posted(&self) -> &OwnedFd {
        &self.exit_posted
    }
}
