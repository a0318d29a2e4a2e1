//! The mmap'ed `gh_vcpu_run` page of a vCPU fd, shared with the driver. Accessed with
//! volatile reads and writes: the driver changes it during `GH_VCPU_RUN`, and another thread
//! sets `immediate_exit` to kick the vCPU.

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::{addr_of, addr_of_mut, NonNull};

use nix::errno::Errno;
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

use super::a14::{gh_vcpu_run, gh_vcpu_run_mmio, gh_vcpu_run_status};
use super::android::gunyah_vcpu_run_page_fault;

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

    /// Sets `immediate_exit`.
    pub fn set_immediate_exit(&self, value: bool) {
        // SAFETY: the page is mapped for the life of `self`; the field is a byte.
        unsafe {
            addr_of_mut!((*self.page.as_ptr()).immediate_exit).write_volatile(u8::from(value))
        }
    }

    /// `exit_reason` after a RUN.
    pub fn exit_reason(&self) -> u32 {
        // SAFETY: mapped for the life of `self`; a plain integer read.
        unsafe { addr_of!((*self.page.as_ptr()).exit_reason).read_volatile() }
    }

    /// The `mmio` member (valid when `exit_reason` is MMIO).
    pub fn mmio(&self) -> gh_vcpu_run_mmio {
        // SAFETY: mapped for the life of `self`; the union member is plain old data, so any bit
        // pattern is a valid value.
        unsafe { addr_of!((*self.page.as_ptr()).exit.mmio).read_volatile() }
    }

    /// Sets `mmio.data` (the value a pending guest read receives on the next RUN).
    pub fn set_mmio_data(&self, data: [u8; 8]) {
        // SAFETY: mapped for the life of `self`; writing plain bytes into the union member.
        unsafe { addr_of_mut!((*self.page.as_ptr()).exit.mmio.data).write_volatile(data) }
    }

    /// Sets `mmio.resume_action` (ack66-early and later; padding to an a14 driver).
    pub fn set_mmio_resume_action(&self, action: u8) {
        // SAFETY: mapped for the life of `self`; writing one byte into the union member.
        unsafe {
            addr_of_mut!((*self.page.as_ptr()).exit.mmio_resumable.resume_action)
                .write_volatile(action)
        }
    }

    /// The `status` member (valid when `exit_reason` is STATUS).
    pub fn status(&self) -> gh_vcpu_run_status {
        // SAFETY: as in `mmio`.
        unsafe { addr_of!((*self.page.as_ptr()).exit.status).read_volatile() }
    }

    /// The `page_fault` member (valid when `exit_reason` is PAGE_FAULT).
    pub fn page_fault(&self) -> gunyah_vcpu_run_page_fault {
        // SAFETY: as in `mmio`.
        unsafe { addr_of!((*self.page.as_ptr()).exit.page_fault).read_volatile() }
    }
}

impl Drop for RunPage {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `map` and is unmapped only here.
        if let Err(e) = unsafe { munmap(self.page.cast(), self.len.get()) } {
            log::error!("munmap of a vCPU run page failed: {e}");
        }
    }
}
