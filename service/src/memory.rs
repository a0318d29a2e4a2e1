//! Guest memory from the client: maps each region's memfd (checked by the contract's `accept`)
//! into the service, since the driver accepts only memory mapped by the VM's creator.

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;

use crate::config::RegionPlan;
use crate::error::{Error, Result};

use gunyah_sys::mman::SharedMapping;

/// Maps one region's memfd.
pub fn map_region(fd: BorrowedFd<'_>, region: &RegionPlan) -> Result<SharedMapping> {
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

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;
    use gunyah_hypervisor::{GuestRange, MemAccess, ShareMode};
    use gunyah_sys::memfd;

    #[test]
    fn test_map_region_maps_the_region() -> std::io::Result<()> {
        let f = memfd::sealed("ok", 3 * 4096)?;
        let region = RegionPlan {
            index: 0,
            label: 0,
            range: GuestRange {
                guest_phys_addr: 0,
                size: 2 * 4096,
            },
            access: MemAccess::READ_WRITE,
            share: ShareMode::Share,
            memory_offset: 4096,
        };
        let m = map_region(f.as_fd(), &region).expect("mapped");
        assert_eq!(m.len().get(), 2 * 4096);
        assert_eq!(m.addr() % 4096, 0);
        Ok(())
    }
}
