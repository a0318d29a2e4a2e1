//! The mmap'ed `gh_vcpu_run` page of a vCPU fd, shared with the driver. Accessed with
//! volatile reads and writes: the driver changes it during `GH_VCPU_RUN`, and another thread
//! sets `immediate_exit` to kick the vCPU.

use std::mem::offset_of;
use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

use super::a14::{gh_vcpu_run, gh_vcpu_run_mmio, gh_vcpu_run_status};
use super::android::{gunyah_vcpu_run_mmio, gunyah_vcpu_run_page_fault};

/// A vCPU's run page.
#[derive(Debug)]
pub struct RunPage {
    page: NonNull<gh_vcpu_run>,
    len: NonZeroUsize,
}

// SAFETY: the page is plain shared memory; every access is a volatile read or write of a
// field, and the fields a second thread touches (`immediate_exit`) are single bytes.
unsafe impl Send for RunPage {}
// SAFETY: as above.
unsafe impl Sync for RunPage {}

impl RunPage {
    /// Maps `len` bytes (`GH_VCPU_MMAP_SIZE`) of the vCPU fd.
    pub fn map(vcpu: BorrowedFd<'_>, len: usize) -> Result<Self, Errno> {
        if len < std::mem::size_of::<gh_vcpu_run>() {
            return Err(Errno::EINVAL);
        }
        let len = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
        // SAFETY: a new shared mapping at a kernel-chosen address; it replaces nothing and is
        // owned (and unmapped once) by the returned value.
        let addr = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                vcpu,
                0,
            )?
        };
        Ok(Self {
            page: addr.cast(),
            len,
        })
    }

    /// A pointer to the page's bytes at `offset`, as `T`. Computing it dereferences nothing
    /// (wrapping arithmetic on the mapping's address); every use is one volatile access.
    fn field<T>(&self, offset: usize) -> *mut T {
        self.page
            .as_ptr()
            .cast::<u8>()
            .wrapping_add(offset)
            .cast::<T>()
    }

    /// Sets `immediate_exit`.
    pub fn set_immediate_exit(&self, value: bool) {
        let at = self.field::<u8>(offset_of!(gh_vcpu_run, immediate_exit));
        // SAFETY: a byte inside the page, which is mapped for the life of `self`.
        unsafe { at.write_volatile(u8::from(value)) }
    }

    /// `exit_reason` after a RUN.
    pub fn exit_reason(&self) -> u32 {
        let at = self.field::<u32>(offset_of!(gh_vcpu_run, exit_reason));
        // SAFETY: an aligned integer inside the mapped page.
        unsafe { at.read_volatile() }
    }

    /// The union member at `EXIT`, as `T` (valid when `exit_reason` says it is that member).
    fn read_exit<T>(&self) -> T {
        let at = self.field::<T>(EXIT);
        // SAFETY: `T` is one of the union's members: plain old data, for which any bit pattern
        // is a valid value, aligned at the union's offset, and inside the mapped page.
        unsafe { at.read_volatile() }
    }

    /// The `mmio` member (valid when `exit_reason` is MMIO).
    pub fn mmio(&self) -> gh_vcpu_run_mmio {
        self.read_exit()
    }

    /// Sets `mmio.data` (the value a pending guest read receives on the next RUN).
    pub fn set_mmio_data(&self, data: [u8; 8]) {
        let at = self.field::<[u8; 8]>(EXIT + offset_of!(gh_vcpu_run_mmio, data));
        // SAFETY: plain bytes inside the union member, inside the mapped page.
        unsafe { at.write_volatile(data) }
    }

    /// Sets `mmio.resume_action` (ack66-early and later; padding to an a14 driver).
    pub fn set_mmio_resume_action(&self, action: u8) {
        let at = self.field::<u8>(EXIT + offset_of!(gunyah_vcpu_run_mmio, resume_action));
        // SAFETY: one byte inside the union member, inside the mapped page.
        unsafe { at.write_volatile(action) }
    }

    /// The `status` member (valid when `exit_reason` is STATUS).
    pub fn status(&self) -> gh_vcpu_run_status {
        self.read_exit()
    }

    /// The `page_fault` member (valid when `exit_reason` is PAGE_FAULT).
    pub fn page_fault(&self) -> gunyah_vcpu_run_page_fault {
        self.read_exit()
    }
}

/// Where the exit union starts in the page.
const EXIT: usize = offset_of!(gh_vcpu_run, exit);

impl Drop for RunPage {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `map` and is unmapped only here.
        if let Err(e) = unsafe { munmap(self.page.cast(), self.len.get()) } {
            log::error!("munmap of a vCPU run page failed: {e}");
        }
    }
}
