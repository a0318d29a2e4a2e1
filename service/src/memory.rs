//! Guest memory from the client: checks that each region's fd is a suitably sealed memfd of
//! sufficient size, and maps it (the driver accepts only memory mapped by the VM's creator).

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;

use crate::config::RegionPlan;
use crate::error::{Error, Result};

use gunyah_sys::mman::SharedMapping;

/// Checks and maps one region.
pub fn map_region(fd: BorrowedFd<'_>, region: &RegionPlan) -> Result<SharedMapping> {
    gunyah_contract::memfd::check_memfd(fd, region)?;
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
    use std::fs::File;
    use std::os::fd::AsFd;

    use super::*;
    use gunyah_hypervisor::{GuestRange, MemAccess, ShareMode};
    use gunyah_sys::memfd;
    use nix::fcntl::SealFlag;

    fn plan(size: u64, offset: u64, access: u32) -> RegionPlan {
        RegionPlan {
            index: 3,
            label: 0,
            range: GuestRange {
                guest_phys_addr: 0,
                size,
            },
            access: MemAccess(access),
            share: ShareMode::Share,
            memory_offset: offset,
        }
    }

    const RW: u32 = MemAccess::READ | MemAccess::WRITE;

    fn message(fd: BorrowedFd<'_>, region: &RegionPlan) -> String {
        map_region(fd, region)
            .expect_err("should be refused")
            .to_string()
    }

    #[test]
    fn test_map_region_accepts_sealed_memfd() -> std::io::Result<()> {
        let f = memfd::sealed("ok", 3 * 4096)?;
        let m = map_region(f.as_fd(), &plan(2 * 4096, 4096, RW)).expect("mapped");
        assert_eq!(m.len(), 2 * 4096);
        assert_eq!(m.addr() % 4096, 0);
        Ok(())
    }

    #[test]
    fn test_map_region_refuses_bad_memory() -> std::io::Result<()> {
        let unsealed = memfd::create("unsealed", 4096)?;
        assert!(message(unsealed.as_fd(), &plan(4096, 0, RW))
            .starts_with("memoryRegions[3].memory: not sealed against shrinking"));

        let small = memfd::sealed("small", 4096)?;
        assert!(message(small.as_fd(), &plan(4096, 4096, RW))
            .starts_with("memoryRegions[3].memoryOffset: memoryOffset + size (0x2000) exceeds the memfd's size (0x1000)"));

        let ro = memfd::create("ro", 4096)?;
        gunyah_sys::fd::add_seals(ro.as_fd(), SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_WRITE)?;
        assert!(message(ro.as_fd(), &plan(4096, 0, RW)).contains("sealed against writes"));
        // Read-only guest access to a write-sealed memfd is fine.
        assert!(map_region(ro.as_fd(), &plan(4096, 0, MemAccess::READ)).is_ok());

        let (pipe_r, _pipe_w) = nix::unistd::pipe()?;
        assert!(message(pipe_r.as_fd(), &plan(4096, 0, RW)).contains("not a memfd"));
        let null = File::open("/dev/null")?;
        assert!(message(null.as_fd(), &plan(4096, 0, RW)).contains("not a memfd"));
        let dir = File::open("/")?;
        assert!(message(dir.as_fd(), &plan(4096, 0, RW)).contains("not a memfd"));
        let regular = File::open("/proc/self/exe")?;
        assert!(message(regular.as_fd(), &plan(4096, 0, RW)).contains("not a memfd (F_GET_SEALS"));
        Ok(())
    }
}
