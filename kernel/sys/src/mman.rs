//! Owned shared mappings of guest memory (mmap/munmap).

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::Arc;

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

/// The kernel's page size (`sysconf(_SC_PAGESIZE)`): 4 KiB on most arm64 Android kernels,
/// 16 KiB on 16 KB-page ones. Falls back to 4096 only if sysconf cannot say, which Linux
/// never does.
pub fn page_size() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(size)) if size > 0 => size as u64,
        _ => 4096,
    }
}

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

    /// The mapping's length (never zero).
    pub fn len(&self) -> NonZeroUsize {
        self.len
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

/// Memory of this process that a VM may be given (a driver region's `userspace_addr` and
/// `memory_size`), kept mapped as long as this value or a clone lives: a range of a mapping it
/// holds, or a range no mapping of this process can ever hold. The driver pins what it is given
/// (at the ioctl, or at the guest's first touch) and writes to it while the VM lives; a
/// [`crate::vm_fd::VmFd`] keeps each `UserMemory` it was given until its fd and every vCPU fd are
/// closed.
#[derive(Debug, Clone)]
pub struct UserMemory {
    addr: u64,
    len: u64,
    _mapping: Option<Arc<SharedMapping>>,
}

impl UserMemory {
    /// All of `mapping`.
    pub fn of(mapping: Arc<SharedMapping>) -> Self {
        Self {
            addr: mapping.addr(),
            len: mapping.len().get() as u64,
            _mapping: Some(mapping),
        }
    }

    /// `len` bytes at `offset` into `mapping`; `None` unless they lie inside it. (Any offset
    /// inside: an unaligned one is for the driver to refuse.)
    pub fn within(mapping: Arc<SharedMapping>, offset: u64, len: u64) -> Option<Self> {
        let end = offset.checked_add(len)?;
        (end <= mapping.len().get() as u64).then(|| Self {
            addr: mapping.addr() + offset,
            len,
            _mapping: Some(mapping),
        })
    }

    /// `len` bytes at `addr` in the kernel's half of the address space (its top bit set, on
    /// every 64-bit Linux), where no mapping of this process can ever be: memory the caller has
    /// not mapped, for a driver to refuse or fail to pin. `None` for any other range.
    pub fn unmappable(addr: u64, len: u64) -> Option<Self> {
        (addr >= 1 << 63 && addr.checked_add(len).is_some()).then_some(Self {
            addr,
            len,
            _mapping: None,
        })
    }

    /// The first byte's address in this process (`userspace_addr`).
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Its length in bytes (`memory_size`).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it is empty (a region of size 0, which drivers refuse).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Whether every page of `[addr, addr + len)` is mapped in this process: what pinning the
/// range (`pin_user_pages`) needs before it can succeed. Uses `mincore`, which answers ENOMEM
/// for a range with a hole and touches no page. `addr` must be page-aligned.
pub fn is_mapped(addr: u64, len: u64) -> bool {
    let page = page_size();
    /// Pages asked about per call (the residency vector is one byte a page).
    const CHUNK_PAGES: u64 = 64 * 1024;
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    let mut residency = vec![0u8; CHUNK_PAGES.min(len.div_ceil(page)) as usize];
    let mut at = addr;
    while at < end {
        let pages = (end - at).div_ceil(page).min(CHUNK_PAGES);
        let (Ok(start), Ok(bytes)) = (usize::try_from(at), usize::try_from(pages * page)) else {
            return false;
        };
        // SAFETY: mincore only reads the page tables of this process for the range and writes
        // one byte per page into `residency`, which holds at least `pages` bytes; it neither
        // dereferences nor faults in the range, mapped or not.
        let rc =
            unsafe { libc::mincore(start as *mut libc::c_void, bytes, residency.as_mut_ptr()) };
        if rc != 0 {
            return false;
        }
        at += pages * page;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_page_size_is_the_kernels() {
        // getconf asks the C library, independently of nix.
        let out = std::process::Command::new("getconf")
            .arg("PAGESIZE")
            .output();
        if let Some(out) = out.ok().filter(|o| o.status.success()) {
            let expected: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            assert_eq!(page_size(), expected);
        }
        assert!(page_size().is_power_of_two() && page_size() >= 4096);
    }

    #[test]
    fn test_is_mapped() {
        let (_file, mapping) = crate::memfd::mapped("is-mapped", 4 * 4096).unwrap();
        let addr = mapping.addr();
        assert!(is_mapped(addr, 4 * 4096));
        assert!(is_mapped(addr + 4096, 4096));
        // Not the range just unmapped: another test thread may map there meanwhile. Page 0 is
        // never mapped (vm.mmap_min_addr).
        assert!(!is_mapped(0, 4096), "an unmapped range");
        assert!(!is_mapped(u64::MAX - 4095, 8192), "a range that wraps");
    }
}
