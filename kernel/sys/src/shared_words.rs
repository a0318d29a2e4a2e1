//! Memory shared with another process, seen only as 64-bit atomic words.
//!
//! The MMIO ring (docs/MMIO_RING.md) lives in a memfd that the service and a client both map.
//! The other process may write any byte at any time, so this memory is never read as a Rust
//! value: [`SharedWords::words`] hands out `&[AtomicU64]`, every access is one atomic load or
//! store of one word, and whatever a word holds is a valid `u64`. Which words mean what, and
//! how to trust them, is the caller's business (`gunyah_contract::mmio_ring`).

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::sync::atomic::AtomicU64;

use nix::errno::Errno;

use crate::mman::SharedMapping;

/// A read-write `MAP_SHARED` mapping viewed as atomic words; unmapped on drop.
#[derive(Debug)]
pub struct SharedWords {
    mapping: SharedMapping,
}

impl SharedWords {
    /// Maps the first `len` bytes of `fd` read-write. `len` must be a multiple of 8; the
    /// caller keeps the file from shrinking (a sealed memfd), or touching a word past its end
    /// would raise SIGBUS.
    pub fn map(fd: BorrowedFd<'_>, len: NonZeroUsize) -> nix::Result<Self> {
        if len.get() % std::mem::size_of::<AtomicU64>() != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(Self {
            mapping: SharedMapping::map(fd, 0, len, true)?,
        })
    }

    /// Every word of the mapping.
    pub fn words(&self) -> &[AtomicU64] {
        let ptr = self.mapping.addr() as *const AtomicU64;
        let count = self.mapping.len().get() / std::mem::size_of::<AtomicU64>();
        // SAFETY: the mapping is readable and writable for `len` bytes (a multiple of 8,
        // checked in `map`) from a page-aligned address, so `count` words fit and each is
        // aligned for `AtomicU64`, which has the size and alignment of `u64`; every bit pattern
        // is a valid value. The slice borrows `self`, which unmaps only on drop, so it cannot
        // outlive the memory. Another process may write any bytes there at any moment: that
        // cannot break these atomics, since every bit pattern is a valid `u64` and those writes
        // come from outside this process (no Rust reference of this process aliases them
        // non-atomically); this process touches the memory only through the atomics.
        unsafe { std::slice::from_raw_parts(ptr, count) }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn two_mappings_of_one_memfd_see_each_others_words() {
        let file = crate::memfd::sealed("words", 4096).unwrap();
        let len = NonZeroUsize::new(4096).unwrap();
        let a = SharedWords::map(file.as_fd(), len).unwrap();
        let b = SharedWords::map(file.as_fd(), len).unwrap();
        assert_eq!(a.words().len(), 512);
        a.words()[511].store(0xfeed, Ordering::Release);
        assert_eq!(b.words()[511].load(Ordering::Acquire), 0xfeed);
    }

    #[test]
    fn a_length_that_is_not_whole_words_is_refused() {
        let file = crate::memfd::sealed("words", 4096).unwrap();
        let err = SharedWords::map(file.as_fd(), NonZeroUsize::new(4092).unwrap()).unwrap_err();
        assert_eq!(err, Errno::EINVAL);
    }
}
