//! The memory behind a region, as the contract requires it: a memfd sealed against shrinking,
//! not sealed against writes when the guest may write, and large enough for the region.

use std::io;
use std::os::fd::BorrowedFd;

use nix::fcntl::SealFlag;

use crate::aidl::{
    MemoryRegion::{self as region, MemoryRegion},
    MemoryShareType::MemoryShareType,
};
use crate::binder;
use crate::error::{FieldError, Result};
use crate::vm_config::RegionPlan;

/// A shared region of `size` bytes at `guest_phys_addr`, label `label`, that the guest may read
/// and write, backed by a new memfd holding `image` at its start and sealed against shrinking:
/// memory as [`check_memfd`] requires it.
pub fn sealed_ram_region(
    label: i32,
    guest_phys_addr: i64,
    size: u64,
    image: &[u8],
) -> io::Result<MemoryRegion> {
    let file = gunyah_sys::memfd::create(&format!("guest-ram-{label}"), size)?;
    gunyah_sys::memfd::write_at(&file, 0, image)?;
    gunyah_sys::memfd::seal_size(&file)?;
    Ok(MemoryRegion {
        label,
        guestPhysAddr: guest_phys_addr,
        size: size as i64,
        access: region::ACCESS_READ | region::ACCESS_WRITE,
        shareType: MemoryShareType::SHARE,
        memory: Some(binder::pfd_from(file.into())),
        memoryOffset: 0,
    })
}

/// Checks the memfd behind `fd` for `region`: sealed against shrinking, not sealed against
/// writes when the guest may write, and large enough.
pub fn check_memfd(fd: BorrowedFd<'_>, region: &RegionPlan) -> Result<()> {
    let field = |name: &str| format!("memoryRegions[{}].{name}", region.index);
    let stat = gunyah_sys::fd::stat(fd)
        .map_err(|e| FieldError::new(field("memory"), format!("fstat failed: {e}")))?;
    if !stat.regular {
        return Err(FieldError::new(
            field("memory"),
            "not a memfd (not a regular file)",
        ));
    }
    let seals = gunyah_sys::fd::seals(fd)
        .map_err(|e| FieldError::new(field("memory"), format!("not a memfd (F_GET_SEALS: {e})")))?;
    if !seals.contains(SealFlag::F_SEAL_SHRINK) {
        return Err(FieldError::new(
            field("memory"),
            "not sealed against shrinking (F_SEAL_SHRINK)",
        ));
    }
    if region.access.writable()
        && seals.intersects(SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_FUTURE_WRITE)
    {
        return Err(FieldError::new(
            field("memory"),
            "sealed against writes (F_SEAL_WRITE/F_SEAL_FUTURE_WRITE) but access has ACCESS_WRITE",
        ));
    }
    let file_size = stat.size;
    // `validate` already checked that this sum does not overflow.
    let end = region.memory_offset + region.range.size;
    if end > file_size {
        return Err(FieldError::new(
            field("memoryOffset"),
            format!("memoryOffset + size ({end:#x}) exceeds the memfd's size ({file_size:#x})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::os::fd::AsFd;

    use super::*;
    use gunyah_sys::memfd;
    use gunyah_sys::model::{GuestRange, MemAccess, ShareMode};
    use nix::fcntl::SealFlag;

    fn plan(size: u64, offset: u64, access: MemAccess) -> RegionPlan {
        RegionPlan {
            index: 3,
            label: 0,
            range: GuestRange {
                guest_phys_addr: 0,
                size,
            },
            access,
            share: ShareMode::Share,
            memory_offset: offset,
        }
    }

    const RW: MemAccess = MemAccess::READ_WRITE;

    fn message(fd: BorrowedFd<'_>, region: &RegionPlan) -> String {
        check_memfd(fd, region)
            .expect_err("should be refused")
            .to_string()
    }

    #[test]
    fn test_check_memfd_accepts_sealed_memfd() -> std::io::Result<()> {
        let f = memfd::sealed("ok", 3 * 4096)?;
        assert!(check_memfd(f.as_fd(), &plan(2 * 4096, 4096, RW)).is_ok());
        Ok(())
    }

    #[test]
    fn test_check_memfd_refuses_bad_memory() -> std::io::Result<()> {
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
        assert!(check_memfd(
            ro.as_fd(),
            &plan(
                4096,
                0,
                MemAccess {
                    read: true,
                    ..MemAccess::default()
                },
            )
        )
        .is_ok());

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
