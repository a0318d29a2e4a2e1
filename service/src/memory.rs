//! Guest memory from the client: checks that each region's fd is a suitably sealed memfd of
//! sufficient size, and maps it (the driver accepts only memory mapped by the VM's creator).

use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::stat::{fstat, SFlag};

use crate::config::RegionPlan;
use crate::error::{Error, Result};
use crate::uapi::mman::SharedMapping;

/// Checks the memfd behind `fd` for `region`: sealed against shrinking, not sealed against
/// writes when the guest may write, and large enough.
pub fn check_memfd(fd: BorrowedFd<'_>, region: &RegionPlan) -> Result<()> {
    let field = |name: &str| format!("memoryRegions[{}].{name}", region.index);
    let stat = fstat(fd.as_raw_fd())
        .map_err(|e| Error::invalid(field("memory"), format!("fstat failed: {e}")))?;
    if SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFREG {
        return Err(Error::invalid(
            field("memory"),
            "not a memfd (not a regular file)",
        ));
    }
    let seals = fcntl(fd.as_raw_fd(), FcntlArg::F_GET_SEALS)
        .map(SealFlag::from_bits_truncate)
        .map_err(|e| Error::invalid(field("memory"), format!("not a memfd (F_GET_SEALS: {e})")))?;
    if !seals.contains(SealFlag::F_SEAL_SHRINK) {
        return Err(Error::invalid(
            field("memory"),
            "not sealed against shrinking (F_SEAL_SHRINK)",
        ));
    }
    if region.access.writable()
        && seals.intersects(SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_FUTURE_WRITE)
    {
        return Err(Error::invalid(
            field("memory"),
            "sealed against writes (F_SEAL_WRITE/F_SEAL_FUTURE_WRITE) but access has ACCESS_WRITE",
        ));
    }
    let file_size = u64::try_from(stat.st_size).unwrap_or(0);
    // `validate` already checked that this sum does not overflow.
    let end = region.memory_offset + region.range.size;
    if end > file_size {
        return Err(Error::invalid(
            field("memoryOffset"),
            format!("memoryOffset + size ({end:#x}) exceeds the memfd's size ({file_size:#x})"),
        ));
    }
    Ok(())
}

/// Checks and maps one region.
pub fn map_region(fd: BorrowedFd<'_>, region: &RegionPlan) -> Result<SharedMapping> {
    check_memfd(fd, region)?;
    let field = format!("memoryRegions[{}].memory", region.index);
    let len = usize::try_from(region.range.size)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| Error::invalid(&field, "size does not fit the address space"))?;
    SharedMapping::map(fd, region.memory_offset, len, region.access.writable()).map_err(|e| match e
    {
        nix::errno::Errno::ENOMEM | nix::errno::Errno::EAGAIN => {
            Error::exhausted(&field, format!("mmap failed: {e}"))
        }
        _ => Error::invalid(&field, format!("cannot be mapped: {e}")),
    })
}
