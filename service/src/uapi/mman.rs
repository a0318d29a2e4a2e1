//! Owned shared mappings of guest memory (mmap/munmap).

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

/// A `MAP_SHARED` mapping of a file range, unmapped on drop.
#[derive(Debug)]
pub struct SharedMapping {
    addr: NonNull<libc::c_void>,
    len: NonZeroUsize,
}

// SAFETY: the mapping is plain shared memory owned by this value; the raw pointer is only an
// address, and access to the bytes goes through the driver or explicit unsafe readers.
unsafe impl Send for SharedMapping {}
// SAFETY: as above; `&SharedMapping` exposes only the address and length.
unsafe impl Sync for SharedMapping {}

impl SharedMapping {
    /// Maps `len` bytes of `fd` at `offset`, readable, and writable when `writable`.
    pub fn map(
        fd: BorrowedFd<'_>,
        offset: u64,
        len: NonZeroUsize,
        writable: bool,
    ) -> nix::Result<Self> {
        let mut prot = ProtFlags::PROT_READ;
        if writable {
            prot |= ProtFlags::PROT_WRITE;
        }
        let offset = libc::off_t::try_from(offset).map_err(|_| nix::errno::Errno::EOVERFLOW)?;
        // SAFETY: a new mapping at an address the kernel chooses (no MAP_FIXED), so no existing
        // memory is replaced; the fd is borrowed for the call only and the mapping is owned by
        // the returned value, which unmaps it exactly once.
        let addr = unsafe { mmap(None, len, prot, MapFlags::MAP_SHARED, fd, offset)? };
        Ok(Self { addr, len })
    }

    /// The mapping's address in this process (`userspace_addr` for the driver).
    pub fn addr(&self) -> u64 {
        self.addr.as_ptr() as u64
    }

    /// The mapping's length.
    pub fn len(&self) -> usize {
        self.len.get()
    }

    /// Always false: mappings are never empty.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: `addr`/`len` describe a mapping this value created and nobody else unmaps;
        // after drop no reference to it remains.
        if let Err(e) = unsafe { munmap(self.addr, self.len.get()) } {
            log::error!("munmap({:#x}, {}) failed: {e}", self.addr(), self.len);
        }
    }
}
