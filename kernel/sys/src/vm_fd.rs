//! A VM fd and its vCPU fds, owning the memory given to the driver: the only way safe code gives
//! a VM memory. The driver pins and writes a region's memory while the VM lives, which is until
//! its fd and every vCPU fd are closed, so a [`VmFd`] keeps each [`UserMemory`] it registered,
//! and each [`VcpuFd`] keeps the VM's, until after its own fd is closed. (A duplicate of one of
//! these fds, made with `try_clone_to_owned`, would outlive that: the service never makes one.)

use crate::sync::IgnorePoison;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use crate::a14::gh_userspace_memory_region;
use crate::ioctl;
use crate::mman::UserMemory;

/// What a VM fd and its vCPU fds share. Fields drop in order: the fd is closed before the
/// memory can be unmapped.
#[derive(Debug)]
struct VmInner {
    fd: OwnedFd,
    memory: Mutex<Vec<UserMemory>>,
}

/// A Gunyah VM fd (`GH_CREATE_VM`).
#[derive(Debug)]
pub struct VmFd {
    inner: Arc<VmInner>,
}

impl VmFd {
    /// `GH_CREATE_VM` on the device `dev`.
    pub fn create(dev: BorrowedFd<'_>) -> Result<Self, Errno> {
        Ok(Self::adopt(ioctl::create_vm(dev)?))
    }

    /// A VM fd this process received (e.g. over `SCM_RIGHTS`).
    pub fn adopt(fd: OwnedFd) -> Self {
        Self {
            inner: Arc::new(VmInner {
                fd,
                memory: Mutex::new(Vec::new()),
            }),
        }
    }

    /// `GH_VM_SET_USER_MEM_REGION` (or `GH_VM_ANDROID_LEND_USER_MEM` when `lend`) of `memory`,
    /// which this VM keeps from now on, whatever the driver answers.
    pub fn set_user_memory(
        &self,
        label: u32,
        flags: u32,
        guest_phys_addr: u64,
        memory: UserMemory,
        lend: bool,
    ) -> Result<(), Errno> {
        let region = gh_userspace_memory_region {
            label,
            flags,
            guest_phys_addr,
            memory_size: memory.len(),
            userspace_addr: memory.addr(),
        };
        self.inner.memory.lock().ignore_poison().push(memory);
        // SAFETY: the range is `memory`'s, which the VM now keeps until its fd and every vCPU
        // fd made by `add_vcpu` are closed (`VmInner` drops `fd` first; each `VcpuFd` holds
        // `VmInner` past its own fd): a mapping it holds, or a range no mapping can hold.
        unsafe { ioctl::set_user_memory(self.inner.fd.as_fd(), &region, lend) }
    }

    /// `GH_VM_ADD_FUNCTION(GH_FN_VCPU)`: a vCPU fd that keeps the VM's memory.
    pub fn add_vcpu(&self, id: u32) -> Result<VcpuFd, Errno> {
        Ok(VcpuFd {
            fd: ioctl::add_vcpu(self.inner.fd.as_fd(), id)?,
            _vm: self.inner.clone(),
        })
    }
}

impl AsFd for VmFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }
}

/// A vCPU fd. Fields drop in order: its fd is closed before the VM's memory can go.
#[derive(Debug)]
pub struct VcpuFd {
    fd: OwnedFd,
    _vm: Arc<VmInner>,
}

impl AsFd for VcpuFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// The VM keeps the memory it was given until it is dropped, whatever the driver answered
    /// (here a plain memfd stands for the VM fd, so the ioctl fails with ENOTTY).
    #[test]
    fn test_the_vm_keeps_its_memory_until_dropped() {
        let (not_a_vm, mapping) = crate::memfd::mapped("vm-fd-test", 4096).unwrap();
        let mapping = Arc::new(mapping);
        let vm = VmFd::adopt(not_a_vm.into());
        let memory = UserMemory::of(mapping.clone());
        assert_eq!(
            vm.set_user_memory(0, 0, 0, memory, false),
            Err(Errno::ENOTTY)
        );
        assert_eq!(Arc::strong_count(&mapping), 2, "the VM holds the mapping");
        drop(vm);
        assert_eq!(Arc::strong_count(&mapping), 1, "released with the VM");
    }

    #[test]
    fn test_user_memory_lies_inside_its_mapping_or_where_none_can_be() {
        let (_file, mapping) = crate::memfd::mapped("user-memory-test", 2 * 4096).unwrap();
        let mapping = Arc::new(mapping);
        let part = UserMemory::within(mapping.clone(), 8, 4096).unwrap();
        assert_eq!((part.addr(), part.len()), (mapping.addr() + 8, 4096));
        assert!(UserMemory::within(mapping.clone(), 4096, 4097).is_none());
        assert!(UserMemory::within(mapping.clone(), u64::MAX, 2).is_none());
        assert!(UserMemory::unmappable(mapping.addr(), 4096).is_none());
        assert!(UserMemory::unmappable(u64::MAX - 10, 4096).is_none());
        assert!(UserMemory::unmappable(0xffff_ffff_fff0_0000, 4096).is_some());
    }
}
