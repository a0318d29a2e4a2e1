//! Guest memory as the mock's "hypervisor" sees it: the regions registered before START, read
//! and written through the service's own mappings with process_vm_readv/writev, which fail
//! (like the driver's page pinning) instead of faulting on a bad address. A demand-paging
//! driver (ack66-early and later) pins each page, and charges it to the memlock budget, when
//! the guest first touches it; [`Pager`] models that.

use gunyah_sys::sync::IgnorePoison;
use std::collections::BTreeSet;
use std::io::{IoSlice, IoSliceMut};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;

use super::Counters;
use gunyah_hypervisor::{GuestRange, UserMemoryRegion};

/// Why a guest access to memory failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// The access runs past the end of its region.
    Straddle,
    /// A write to a region without write access.
    ReadOnly,
    /// The page could not be pinned: its mapping is gone (EFAULT), or the memlock budget is
    /// spent (ENOMEM).
    Pin(Errno),
}

impl Fault {
    /// The errno a demand-paging driver reports in a PAGE_FAULT exit's `attempt` for this
    /// fault; `None` where the guest crashes instead (what such a driver does with an access
    /// that straddles a region's end is not known; both mocks crash the guest).
    pub fn page_fault_errno(self) -> Option<Errno> {
        match self {
            Fault::Straddle => None,
            Fault::ReadOnly => Some(Errno::EPERM),
            Fault::Pin(errno) => Some(errno),
        }
    }
}

/// Demand paging: which guest pages are pinned, each charged to the mock's memlock budget
/// (the real driver's `account_locked_vm` against RLIMIT_MEMLOCK) until the VM is freed.
#[derive(Debug)]
pub(super) struct Pager {
    counters: Arc<Counters>,
    memlock_limit: u64,
    /// The modelled kernel's page size: the unit pinned and charged.
    page: u64,
    /// Page numbers (guest address / `page`) pinned.
    pinned: Mutex<BTreeSet<u64>>,
}

impl Pager {
    pub fn new(counters: Arc<Counters>, memlock_limit: u64, page: u64) -> Self {
        Self {
            counters,
            memlock_limit,
            page,
            pinned: Mutex::default(),
        }
    }

    /// Pins every page of `[gpa, gpa + len)` not pinned yet, charging each; ENOMEM when the
    /// budget cannot take one more page (the pages pinned before it stay pinned).
    fn pin(&self, gpa: u64, len: u64) -> Result<(), Fault> {
        let mut pinned = self.pinned.lock().ignore_poison();
        let last = gpa + len.max(1) - 1;
        for number in gpa / self.page..=last / self.page {
            if pinned.contains(&number) {
                continue;
            }
            if !self.counters.charge_locked(self.page, self.memlock_limit) {
                return Err(Fault::Pin(Errno::ENOMEM));
            }
            pinned.insert(number);
        }
        Ok(())
    }
}

impl Drop for Pager {
    fn drop(&mut self) {
        let pages = self.pinned.get_mut().ignore_poison().len() as u64;
        self.counters
            .locked_bytes
            .fetch_sub(pages * self.page, Ordering::SeqCst);
    }
}

/// Where guest physical addresses live in this process.
#[derive(Debug, Default)]
pub(super) struct GuestMemory {
    regions: Vec<UserMemoryRegion>,
    /// Demand paging; `None` where the driver pinned every region at its ioctl (a14).
    pager: Option<Pager>,
}

impl GuestMemory {
    pub fn new(regions: Vec<UserMemoryRegion>, pager: Option<Pager>) -> Self {
        Self { regions, pager }
    }

    /// The host address of `[gpa, gpa + len)`, if one region holds all of it.
    fn host_addr(&self, gpa: u64, len: u64, write: bool) -> Option<Result<usize, Fault>> {
        let access = GuestRange {
            guest_phys_addr: gpa,
            size: len,
        };
        let region = self.regions.iter().find(|r| r.range().overlaps(&access))?;
        let whole = region.range();
        if !whole.contains(&access) {
            return Some(Err(Fault::Straddle));
        }
        if write && !region.access.write {
            return Some(Err(Fault::ReadOnly));
        }
        if let Some(pager) = &self.pager {
            if let Err(fault) = pager.pin(gpa, len) {
                return Some(Err(fault));
            }
        }
        // Inside the region, so inside the VMM's mapping of it: no overflow.
        Some(Ok(
            (region.memory.addr() + (gpa - region.guest_phys_addr)) as usize
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
            Err(Fault::Pin(Errno::EFAULT))
        })
    }

    /// Writes guest memory; `None` when the range is not memory (an MMIO access).
    ///
    /// This writes this process's own memory through `process_vm_writev`, a memory access the
    /// `forbid(unsafe_code)` audit cannot see. It is bounded: `host_addr` takes only an access
    /// that lies wholly inside one region the VMM registered, and the registered mapping
    /// outlives every vCPU of the VM (the service unmaps guest memory only after the VM's last
    /// fd is gone, as the driver keeps its pins until then). An address no longer mapped fails
    /// with EFAULT, as the driver's pin would.
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
            Err(Fault::Pin(Errno::EFAULT))
        })
    }
}
