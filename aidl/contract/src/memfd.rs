//! The memory behind a region, as the contract requires it: a memfd sealed against shrinking,
//! not sealed against writes when the guest may write, and large enough for the region.

use std::os::fd::BorrowedFd;

use nix::fcntl::SealFlag;

use crate::error::{ConfigError as Error, Result};
use crate::vm_config::RegionPlan;

/// Checks the memfd behind `fd` for `region`: sealed against shrinking, not sealed against
/// writes when the guest may write, and large enough.
pub fn check_memfd(fd: BorrowedFd<'_>, region: &RegionPlan) -> Result<()> {
    let field = |name: &str| format!("memoryRegions[{}].{name}", region.index);
    let stat = gunyah_sys::fd::stat(fd)
        .map_err(|e| Error::invalid(field("memory"), format!("fstat failed: {e}")))?;
    if !stat.regular {
        return Err(Error::invalid(
            field("memory"),
            "not a memfd (not a regular file)",
        ));
    }
    let seals = gunyah_sys::fd::seals(fd)
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
    let file_size = stat.size;
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
