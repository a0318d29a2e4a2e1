//! Layout 1 of the MMIO ring (`MmioRing`, docs/MMIO_RING.md): which 64-bit word of the shared
//! memory means what, and the two halves of the protocol over it — the service posting exits
//! and taking answers, a client finding exits and posting answers.
//!
//! The memory is shared with another process that may write anything at any time, so it is
//! only ever touched one atomic word at a time (`gunyah_sys::shared_words`), every word is read
//! once into a local copy, and each copy is checked before it is used. Nothing here blocks or
//! signals: the eventfds are the caller's.
//!
//! ```text
//! block 0 (header, written by the service once):  MAGIC, LAYOUT, SLOT_COUNT, WORDS_PER_SLOT
//! block 1 + i (slot i, vCPU i), 8 words:
//!   0 EXIT_SEQ      service: sequence number of the exit posted last (0: none yet)
//!   1 ADDRESS       service: guest physical address of the access
//!   2 ACCESS        service: size in bytes (1, 2, 4, 8) | WRITE (0x100) for a write
//!   3 WRITE_DATA    service: the value written (low `size` bytes)
//!   4 ANSWER_SEQ    client: the EXIT_SEQ it answers, stored last
//!   5 ANSWER_ACTION client: 0 HANDLED, 1 FAULT
//!   6 READ_DATA     client: the value a read returns (low `size` bytes are used)
//!   7               reserved, 0
//! ```
//!
//! The service stores words 1–3, then EXIT_SEQ with release ordering; the client loads
//! EXIT_SEQ with acquire ordering before words 1–3. The client stores words 5–6, then
//! ANSWER_SEQ with release ordering; the service loads ANSWER_SEQ with acquire ordering before
//! words 5–6.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::aidl::MmioRing as aidl_ring;

/// The layout this module reads and writes (`MmioRing::LAYOUT_1`).
pub const LAYOUT: i32 = aidl_ring::LAYOUT_1;
/// Words in the header and in each slot (64 bytes: one cache line).
pub const WORDS_PER_SLOT: usize = 8;
/// The header's first word: "GHMMIOR1" in little-endian bytes.
pub const MAGIC: u64 = u64::from_le_bytes(*b"GHMMIOR1");
/// The most slots a ring has: its parcelable carries 2 + slots fds, and one binder message
/// carries at most 64 (RPC binder's limit). A VM with more vCPUs serves MMIO over handlers.
pub const MAX_SLOTS: u32 = 62;

/// Header word indices.
const H_MAGIC: usize = 0;
const H_LAYOUT: usize = 1;
const H_SLOT_COUNT: usize = 2;
const H_WORDS_PER_SLOT: usize = 3;

/// Slot word indices.
const EXIT_SEQ: usize = 0;
const ADDRESS: usize = 1;
const ACCESS: usize = 2;
const WRITE_DATA: usize = 3;
const ANSWER_SEQ: usize = 4;
const ANSWER_ACTION: usize = 5;
const READ_DATA: usize = 6;

/// `ACCESS` bit of a write.
const WRITE: u64 = 0x100;
/// `ACCESS` bits of the size.
const SIZE_MASK: u64 = 0xff;

/// Bytes of shared memory a ring of `slots` slots takes.
pub fn memory_size(slots: u32) -> usize {
    (1 + slots as usize) * WORDS_PER_SLOT * std::mem::size_of::<u64>()
}

/// One guest access, as the service posts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Guest physical address.
    pub address: u64,
    /// Bytes: 1, 2, 4 or 8.
    pub size: u32,
    /// The value written; `None` for a read.
    pub write: Option<u64>,
}

/// How the vCPU resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The access was emulated; a read takes `read_data`.
    Handled,
    /// Inject a fault into the guest for the access (where the request allowed it).
    Fault,
}

impl Action {
    fn word(self) -> u64 {
        match self {
            Action::Handled => 0,
            Action::Fault => 1,
        }
    }
}

/// A client's answer to one exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// How the vCPU resumes.
    pub action: Action,
    /// What a read returns (ignored for a write).
    pub read_data: u64,
}

impl Answer {
    /// A handled access; `read_data` for a read.
    pub fn handled(read_data: u64) -> Self {
        Self {
            action: Action::Handled,
            read_data,
        }
    }
}

/// What is wrong with an answer or a ring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// The answer's action word is no known action.
    #[error("answer action {0:#x} is not HANDLED (0) or FAULT (1)")]
    UnknownAction(u64),
    /// The memory is too small for its slots.
    #[error("{words} words cannot hold a header and {slots} slots of {WORDS_PER_SLOT} words")]
    TooSmall {
        /// Words of memory.
        words: usize,
        /// Slots asked for.
        slots: u32,
    },
    /// The header is not layout 1's.
    #[error("the ring's header is not layout {LAYOUT}'s: {0}")]
    Header(String),
    /// A slot index past the last slot.
    #[error("slot {slot} of {slots}")]
    NoSuchSlot {
        /// The index.
        slot: u32,
        /// Slots in the ring.
        slots: u32,
    },
}

/// A ring's memory, as words.
#[derive(Debug, Clone, Copy)]
pub struct Ring<'w> {
    words: &'w [AtomicU64],
    slots: u32,
}

fn mask(size: u32) -> u64 {
    match size {
        8.. => u64::MAX,
        n => (1u64 << (8 * n)) - 1,
    }
}

impl<'w> Ring<'w> {
    /// The service's view of fresh (zeroed) memory for `slots` slots; writes the header.
    pub fn create(words: &'w [AtomicU64], slots: u32) -> Result<Self, RingError> {
        let ring = Self::with_slots(words, slots)?;
        words[H_WORDS_PER_SLOT].store(WORDS_PER_SLOT as u64, Ordering::Relaxed);
        words[H_SLOT_COUNT].store(u64::from(slots), Ordering::Relaxed);
        words[H_LAYOUT].store(LAYOUT as u64, Ordering::Relaxed);
        words[H_MAGIC].store(MAGIC, Ordering::Release);
        Ok(ring)
    }

    /// A client's view of a ring the service made with `slots` slots: checks the header.
    pub fn open(words: &'w [AtomicU64], slots: u32) -> Result<Self, RingError> {
        let ring = Self::with_slots(words, slots)?;
        let found = [H_MAGIC, H_LAYOUT, H_SLOT_COUNT, H_WORDS_PER_SLOT]
            .map(|i| words[i].load(Ordering::Acquire));
        let expected = [
            MAGIC,
            LAYOUT as u64,
            u64::from(slots),
            WORDS_PER_SLOT as u64,
        ];
        if found != expected {
            return Err(RingError::Header(format!(
                "magic, layout, slots, words per slot are {found:#x?}, expected {expected:#x?}"
            )));
        }
        Ok(ring)
    }

    /// The service's view of a ring it made with `slots` slots: the header is not read (the
    /// service knows its own ring; a client may have overwritten it).
    pub fn with_slots(words: &'w [AtomicU64], slots: u32) -> Result<Self, RingError> {
        let needed = memory_size(slots) / std::mem::size_of::<u64>();
        if slots > MAX_SLOTS || words.len() < needed {
            return Err(RingError::TooSmall {
                words: words.len(),
                slots,
            });
        }
        Ok(Self { words, slots })
    }

    fn slot(&self, slot: u32) -> Result<&'w [AtomicU64], RingError> {
        if slot >= self.slots {
            return Err(RingError::NoSuchSlot {
                slot,
                slots: self.slots,
            });
        }
        let start = (1 + slot as usize) * WORDS_PER_SLOT;
        Ok(&self.words[start..start + WORDS_PER_SLOT])
    }

    /// Service: posts exit number `seq` (1, 2, ... per slot) of vCPU `slot`.
    pub fn post_exit(&self, slot: u32, seq: u64, access: &Access) -> Result<(), RingError> {
        let w = self.slot(slot)?;
        let mut word = u64::from(access.size) & SIZE_MASK;
        if access.write.is_some() {
            word |= WRITE;
        }
        w[ADDRESS].store(access.address, Ordering::Relaxed);
        w[ACCESS].store(word, Ordering::Relaxed);
        w[WRITE_DATA].store(access.write.unwrap_or(0), Ordering::Relaxed);
        w[EXIT_SEQ].store(seq, Ordering::Release);
        Ok(())
    }

    /// Service: the answer to exit `seq` of slot `slot` (of `size` bytes), read once and
    /// checked; `None` while the slot holds no answer to that exit (none yet, or a stale one).
    /// A read's data is cut to the access's size.
    pub fn take_answer(&self, slot: u32, seq: u64, size: u32) -> Result<Option<Answer>, RingError> {
        let w = self.slot(slot)?;
        if w[ANSWER_SEQ].load(Ordering::Acquire) != seq {
            return Ok(None);
        }
        let action = match w[ANSWER_ACTION].load(Ordering::Relaxed) {
            0 => Action::Handled,
            1 => Action::Fault,
            other => return Err(RingError::UnknownAction(other)),
        };
        let read_data = w[READ_DATA].load(Ordering::Relaxed) & mask(size);
        Ok(Some(Answer { action, read_data }))
    }

    /// Client: the exit waiting in `slot`, if its sequence number is not `answered` (the last
    /// one this client answered there), with that number. An access whose size is not 1, 2,
    /// 4 or 8 is not the service's: it is skipped (`None`).
    pub fn pending_exit(&self, slot: u32, answered: u64) -> Option<(u64, Access)> {
        let w = self.slot(slot).ok()?;
        let seq = w[EXIT_SEQ].load(Ordering::Acquire);
        if seq == 0 || seq == answered {
            return None;
        }
        let address = w[ADDRESS].load(Ordering::Relaxed);
        let word = w[ACCESS].load(Ordering::Relaxed);
        let data = w[WRITE_DATA].load(Ordering::Relaxed);
        let size = (word & SIZE_MASK) as u32;
        if !matches!(size, 1 | 2 | 4 | 8) {
            return None;
        }
        let write = (word & WRITE != 0).then_some(data & mask(size));
        Some((
            seq,
            Access {
                address,
                size,
                write,
            },
        ))
    }

    /// Client: answers exit `seq` of `slot`.
    pub fn post_answer(&self, slot: u32, seq: u64, answer: &Answer) -> Result<(), RingError> {
        let w = self.slot(slot)?;
        w[READ_DATA].store(answer.read_data, Ordering::Relaxed);
        w[ANSWER_ACTION].store(answer.action.word(), Ordering::Relaxed);
        w[ANSWER_SEQ].store(seq, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(slots: u32) -> Vec<AtomicU64> {
        (0..memory_size(slots) / 8)
            .map(|_| AtomicU64::new(0))
            .collect()
    }

    #[test]
    fn an_exit_and_its_answer_cross_the_ring() {
        let words = memory(2);
        let service = Ring::create(&words, 2).unwrap();
        let client = Ring::open(&words, 2).unwrap();
        assert_eq!(client.pending_exit(1, 0), None, "nothing posted yet");
        let read = Access {
            address: 0x9000_0004,
            size: 2,
            write: None,
        };
        service.post_exit(1, 1, &read).unwrap();
        assert_eq!(client.pending_exit(0, 0), None, "another slot");
        assert_eq!(client.pending_exit(1, 0), Some((1, read)));
        assert_eq!(service.take_answer(1, 1, 2), Ok(None), "not answered yet");
        client
            .post_answer(1, 1, &Answer::handled(0xdead_beef))
            .unwrap();
        assert_eq!(client.pending_exit(1, 1), None, "answered");
        assert_eq!(
            service.take_answer(1, 1, 2),
            Ok(Some(Answer::handled(0xbeef))),
            "cut to the access's two bytes"
        );
        let write = Access {
            address: 0x9000_0000,
            size: 4,
            write: Some(0x1234_5678),
        };
        service.post_exit(1, 2, &write).unwrap();
        assert_eq!(client.pending_exit(1, 1), Some((2, write)));
        assert_eq!(
            service.take_answer(1, 2, 4),
            Ok(None),
            "the answer to exit 1 does not answer exit 2"
        );
    }

    #[test]
    fn a_hostile_answer_is_refused_or_ignored() {
        let words = memory(1);
        let service = Ring::create(&words, 1).unwrap();
        service
            .post_exit(
                0,
                5,
                &Access {
                    address: 0,
                    size: 8,
                    write: None,
                },
            )
            .unwrap();
        let slot = &words[WORDS_PER_SLOT..2 * WORDS_PER_SLOT];
        // An answer to a later exit than the one waiting, or to an earlier one: not taken.
        slot[ANSWER_SEQ].store(6, Ordering::Release);
        assert_eq!(service.take_answer(0, 5, 8), Ok(None));
        slot[ANSWER_SEQ].store(4, Ordering::Release);
        assert_eq!(service.take_answer(0, 5, 8), Ok(None));
        // The right number with an action nobody defined: refused.
        slot[ANSWER_ACTION].store(7, Ordering::Relaxed);
        slot[ANSWER_SEQ].store(5, Ordering::Release);
        assert_eq!(
            service.take_answer(0, 5, 8),
            Err(RingError::UnknownAction(7))
        );
        assert!(matches!(
            service.take_answer(1, 5, 8),
            Err(RingError::NoSuchSlot { slot: 1, slots: 1 })
        ));
    }

    #[test]
    fn a_client_refuses_memory_that_is_not_a_layout_1_ring() {
        let words = memory(2);
        assert!(matches!(Ring::open(&words, 2), Err(RingError::Header(_))));
        Ring::create(&words, 2).unwrap();
        assert!(Ring::open(&words, 2).is_ok());
        assert!(matches!(Ring::open(&words, 1), Err(RingError::Header(_))));
        assert!(matches!(
            Ring::open(&words, 3),
            Err(RingError::TooSmall { slots: 3, .. })
        ));
        // A size the service never posts is not an exit.
        words[WORDS_PER_SLOT + ACCESS].store(3, Ordering::Relaxed);
        words[WORDS_PER_SLOT + EXIT_SEQ].store(1, Ordering::Release);
        assert_eq!(Ring::open(&words, 2).unwrap().pending_exit(0, 0), None);
    }
}
