//! Guest memory as the mock's "hypervisor" sees it: the regions registered before START, read
//! and written through the service's own mappings with process_vm_readv/writev, which fail
//! (like the driver's page pinning) instead of faulting on a bad address.

use std::io::{IoSlice, IoSliceMut};

use nix::errno::Errno;
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;

use gunyah_hypervisor::{GuestRange, UserMemoryRegion};

/// A guest access across a region's end, refused by the region's access rights, or refused by
/// the mapping. `errno` is what a demand-paging driver puts in a PAGE_FAULT exit's `attempt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fault {
    pub errno: Errno,
}

impl Fault {
    /// The access cannot be backed (EFAULT).
    pub const UNBACKED: Fault = Fault {
        errno: Errno::EFAULT,
    };
    /// A write to a region without write access (EPERM).
    pub const READ_ONLY: Fault = Fault {
        errno: Errno::EPERM,
    };
}

/// Where guest physical addresses live in this process.
#[derive(Debug, Default)]
pub(super) struct GuestMemory {
    regions: Vec<UserMemoryRegion>,
}

impl GuestMemory {
    pub fn new(regions: Vec<UserMemoryRegion>) -> Self {
        Self { regions }
    }

    /// The host address of `[gpa, gpa + len)`, if one region holds all of it.
    fn host_addr(&self, gpa: u64, len: u64, write: bool) -> Option<Result<usize, Fault>> {
        let access = GuestRange {
            guest_phys_addr: gpa,
            size: len,
        };
        let region = self.regions.iter().find(|r| {
            GuestRange {
                guest_phys_addr: r.guest_phys_addr,
                size: r.size,
            }
            .overlaps(&access)
        })?;
        let whole = GuestRange {
            guest_phys_addr: region.guest_phys_addr,
            size: region.size,
        };
        if !whole.contains(&access) {
            return Some(Err(Fault::UNBACKED));
        }
        if write && !region.access.write {
            return Some(Err(Fault::READ_ONLY));
        }
        Some(Ok(
            (region.userspace_addr + (gpa - region.guest_phys_addr)) as usize
        ))
    }

    /// Reads guest memory; `None` when the range is not memory (an MMIO access).
    pub fn read(&self, gpa: u64, buf: &mut [u8]) -> Option<Result<(), Fault>> {
        let addr = match self.host_addr(gpa, buf.len() as u64, false)? {
            Ok(a) => a,
            Err(f) => return Some(Err(f)),
        };
        let len = buf.len();
        let remote = [RemoteIoVec { base: addr, len }];
        let done = process_vm_readv(Pid::this(), &mut [IoSliceMut::new(buf)], &remote);
        Some(if done == Ok(len) {
            Ok(())
        } else {
            Err(Fault::UNBACKED)
        })
    }

    /// Writes guest memory; `None` when the range is not memory (an MMIO access).
    pub fn write(&self, gpa: u64, bytes: &[u8]) -> Option<Result<(), Fault>> {
        let addr = match self.host_addr(gpa, bytes.len() as u64, true)? {
            Ok(a) => a,
            Err(f) => return Some(Err(f)),
        };
        let remote = [RemoteIoVec {
            base: addr,
            len: bytes.len(),
        }];
        let done = process_vm_writev(Pid::this(), &[IoSlice::new(bytes)], &remote);
        Some(if done == Ok(bytes.len()) {
            Ok(())
        } else {
            Err(Fault::UNBACKED)
        })
    }
}
