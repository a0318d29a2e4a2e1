//! Safe wrappers of the Gunyah ioctls. Each is the same four beats: an `unsafe` block with its
//! SAFETY line, the return-code check (nix turns -1 into the errno), and an owning type for a
//! returned fd on the next line.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

use super::a14::*;
use super::android::*;
use super::driver_call::DriverIoctl;
use super::generation::{Probe, ProbeAnswer};

/// The ioctls as nix declares them: `unsafe fn`s, private to this module, which wraps each.
mod raw {
    use nix::{ioctl_none_bad, ioctl_write_int_bad, ioctl_write_ptr_bad};

    use crate::a14::*;
    use crate::android::*;
    use crate::upstream::{gunyah_create_mem_args, GUNYAH_CREATE_GUEST_MEM};

    ioctl_write_int_bad!(raw_create_vm, GH_CREATE_VM);
    ioctl_write_ptr_bad!(
        raw_set_user_mem_region,
        GH_VM_SET_USER_MEM_REGION,
        gh_userspace_memory_region
    );
    ioctl_write_ptr_bad!(
        raw_lend_user_mem,
        GH_VM_ANDROID_LEND_USER_MEM,
        gh_userspace_memory_region
    );
    ioctl_write_ptr_bad!(raw_set_dtb_config, GH_VM_SET_DTB_CONFIG, gh_vm_dtb_config);
    ioctl_write_ptr_bad!(
        raw_set_fw_config,
        GH_VM_ANDROID_SET_FW_CONFIG,
        gh_vm_firmware_config
    );
    ioctl_write_ptr_bad!(
        raw_set_auth_type,
        GH_VM_ANDROID_SET_AUTH_TYPE,
        gunyah_auth_desc
    );
    ioctl_write_ptr_bad!(
        raw_set_boot_context,
        GH_VM_SET_BOOT_CONTEXT,
        gh_vm_boot_context
    );
    ioctl_none_bad!(raw_start, GH_VM_START);
    ioctl_write_ptr_bad!(raw_add_function, GH_VM_ADD_FUNCTION, gh_fn_desc);
    ioctl_write_ptr_bad!(raw_remove_function, GH_VM_REMOVE_FUNCTION, gh_fn_desc);
    ioctl_none_bad!(raw_vcpu_run, GH_VCPU_RUN);
    ioctl_none_bad!(raw_vcpu_mmap_size, GH_VCPU_MMAP_SIZE);
    ioctl_none_bad!(raw_tentative_uapi, GH_ANDROID_TENTATIVE_UAPI);
    ioctl_write_int_bad!(raw_check_extension, GH_VM_CHECK_EXTENSION);
    ioctl_write_ptr_bad!(
        raw_create_guest_mem,
        GUNYAH_CREATE_GUEST_MEM,
        gunyah_create_mem_args
    );
    ioctl_write_ptr_bad!(
        raw_reclaim_region,
        GH_VM_RECLAIM_REGION,
        gunyah_address_range
    );
    ioctl_write_ptr_bad!(
        raw_map_cma_mem,
        GH_VM_ANDROID_MAP_CMA_MEM,
        gunyah_map_cma_mem_args
    );
}

/// Which fd an ioctl is issued on: `/dev/gunyah` itself, or the anon-inode VM and vCPU fds
/// it hands out (the sepolicy allowlists them separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `/dev/gunyah`.
    Device,
    /// A VM fd.
    Vm,
    /// A vCPU fd.
    Vcpu,
}

/// Every ioctl this module issues, with the fd it is issued on: the single source of truth
/// that `sepolicy/vendor/ioctl_defines` and its allowlists are checked against in CI.
pub const ISSUED: &[(DriverIoctl, Target)] = &[
    (DriverIoctl::CreateVm, Target::Device),
    (DriverIoctl::TentativeUapi, Target::Device),
    (DriverIoctl::SetUserMemRegion, Target::Vm),
    (DriverIoctl::LendUserMem, Target::Vm),
    (DriverIoctl::SetDtbConfig, Target::Vm),
    (DriverIoctl::SetFwConfig, Target::Vm),
    (DriverIoctl::SetAuthType, Target::Vm),
    (DriverIoctl::SetBootContext, Target::Vm),
    (DriverIoctl::Start, Target::Vm),
    (DriverIoctl::AddFunction, Target::Vm),
    (DriverIoctl::RemoveFunction, Target::Vm),
    (DriverIoctl::VcpuRun, Target::Vcpu),
    (DriverIoctl::VcpuMmapSize, Target::Vcpu),
    // The generation probes (`probe`) beyond the ioctls above.
    (DriverIoctl::CreateGuestMem, Target::Device),
    (DriverIoctl::CheckExtension, Target::Vm),
    (DriverIoctl::ReclaimRegion, Target::Vm),
];

/// The ioctls only the conformance suite issues, never the service: the suite's test runs in a
/// domain of its own, so they are not in the HAL's SELinux allowlist (`ISSUED` is).
pub const CONFORMANCE_ONLY: &[(DriverIoctl, Target)] = &[(DriverIoctl::MapCmaMem, Target::Vm)];

/// `GH_CREATE_VM`: a new VM fd.
pub fn create_vm(dev: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    // SAFETY: GH_CREATE_VM takes an integer argument (0) and no pointer.
    let fd = unsafe { raw::raw_create_vm(dev.as_raw_fd(), 0) }?;
    // SAFETY: on success the driver returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `GH_ANDROID_TENTATIVE_UAPI`: Ok where the Android additions exist (ENOTTY otherwise).
pub fn android_tentative_uapi(dev: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: no argument; the driver only answers.
    unsafe { raw::raw_tentative_uapi(dev.as_raw_fd()) }.map(drop)
}

/// Issues one generation probe: `dev` is `/dev/gunyah`, `vm` a VM fd this process created
/// (the owner-mm checks of later drivers come before the copy). Pointer probes pass NULL, so
/// a driver that handles the ioctl fails its copy with EFAULT and changes nothing; the
/// REMOVE_FUNCTION probe names a vCPU the VM does not have, so nothing matches.
pub fn probe(probe: Probe, dev: BorrowedFd<'_>, vm: BorrowedFd<'_>) -> ProbeAnswer {
    let fd = if probe.on_vm() { vm } else { dev }.as_raw_fd();
    let result = match probe {
        // SAFETY: no argument; the driver only answers.
        Probe::TentativeUapi => unsafe { raw::raw_tentative_uapi(fd) },
        // SAFETY: an integer argument (the capability id), no pointer.
        Probe::CheckExtension => unsafe {
            raw::raw_check_extension(fd, GH_CAP_VCPU_TIMER_WAKEUP as nix::libc::c_int)
        },
        // SAFETY: a NULL argument: the driver's copy_from_user fails (EFAULT) before anything
        // happens, and nothing is ever written through it (the ioctl is write-only, _IOW).
        Probe::CreateGuestMem => unsafe { raw::raw_create_guest_mem(fd, std::ptr::null()) },
        // SAFETY: as above: NULL into a write-only (_IOW) ioctl.
        Probe::SetBootContext => unsafe { raw::raw_set_boot_context(fd, std::ptr::null()) },
        // SAFETY: as above: NULL into a write-only (_IOW) ioctl.
        Probe::ReclaimRegion => unsafe { raw::raw_reclaim_region(fd, std::ptr::null()) },
        // SAFETY: as above: NULL into a write-only (_IOW) ioctl.
        Probe::SetUserMemRegion => unsafe { raw::raw_set_user_mem_region(fd, std::ptr::null()) },
        Probe::RemoveFunction => {
            let absent = gh_fn_vcpu_arg {
                id: Probe::ABSENT_VCPU,
            };
            return match remove_function(vm, GH_FN_VCPU, &absent) {
                Ok(()) => ProbeAnswer::Value(0),
                Err(errno) => ProbeAnswer::Errno(errno),
            };
        }
    };
    match result {
        Ok(value) => ProbeAnswer::Value(value),
        Err(errno) => ProbeAnswer::Errno(errno),
    }
}

/// `GH_VM_SET_USER_MEM_REGION`, or `GH_VM_ANDROID_LEND_USER_MEM` when `lend`. Safe code gives a
/// VM memory through [`crate::vm_fd::VmFd::set_user_memory`], which keeps it mapped.
///
/// # Safety
///
/// `[region.userspace_addr, + region.memory_size)` must stay mapped to this process's memory
/// meant for the guest (never reused for anything else) until `vm` and every vCPU fd of its VM
/// are closed: the driver pins and writes it while the VM lives. A range no mapping of this
/// process can hold (in the kernel's half of the address space) is sound too.
pub(crate) unsafe fn set_user_memory(
    vm: BorrowedFd<'_>,
    region: &gh_userspace_memory_region,
    lend: bool,
) -> Result<(), Errno> {
    let result = if lend {
        // SAFETY: `region` is a valid, initialized struct of the size encoded in the ioctl
        // number, only read by the driver; the memory it names is the caller's promise.
        unsafe { raw::raw_lend_user_mem(vm.as_raw_fd(), region) }
    } else {
        // SAFETY: as above.
        unsafe { raw::raw_set_user_mem_region(vm.as_raw_fd(), region) }
    };
    result.map(drop)
}

/// `GH_VM_SET_DTB_CONFIG`.
pub fn set_dtb_config(vm: BorrowedFd<'_>, config: &gh_vm_dtb_config) -> Result<(), Errno> {
    // SAFETY: a valid struct of the encoded size, only read by the driver.
    unsafe { raw::raw_set_dtb_config(vm.as_raw_fd(), config) }.map(drop)
}

/// `GH_VM_ANDROID_SET_FW_CONFIG`.
pub fn set_fw_config(vm: BorrowedFd<'_>, config: &gh_vm_firmware_config) -> Result<(), Errno> {
    // SAFETY: a valid struct of the encoded size, only read by the driver.
    unsafe { raw::raw_set_fw_config(vm.as_raw_fd(), config) }.map(drop)
}

/// `GH_VM_ANDROID_SET_AUTH_TYPE` for a QTVM.
pub fn set_qtvm_auth(vm: BorrowedFd<'_>, arg: &gunyah_qtvm_auth_arg) -> Result<(), Errno> {
    let desc = gunyah_auth_desc {
        type_: GUNYAH_AUTH_TYPE_QCOM_TRUSTED_VM,
        arg_size: std::mem::size_of::<gunyah_qtvm_auth_arg>() as u32,
        arg: arg as *const gunyah_qtvm_auth_arg as u64,
    };
    // SAFETY: `desc` is valid and points at `arg`, which outlives the call; the driver copies
    // both in and keeps no pointer.
    unsafe { raw::raw_set_auth_type(vm.as_raw_fd(), &desc) }.map(drop)
}

/// `GH_VM_SET_BOOT_CONTEXT`.
pub fn set_boot_context(vm: BorrowedFd<'_>, context: &gh_vm_boot_context) -> Result<(), Errno> {
    // SAFETY: a valid struct of the encoded size, only read by the driver.
    unsafe { raw::raw_set_boot_context(vm.as_raw_fd(), context) }.map(drop)
}

/// `GH_VM_START`.
pub fn start(vm: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: no argument.
    unsafe { raw::raw_start(vm.as_raw_fd()) }.map(drop)
}

/// `GH_VM_CHECK_EXTENSION(cap)` (the newest ACK): 1 where the capability exists, 0 where it
/// does not; ENOTTY on drivers without the ioctl.
pub fn check_extension(vm: BorrowedFd<'_>, cap: u32) -> Result<i32, Errno> {
    // SAFETY: an integer argument (the capability id), no pointer.
    unsafe { raw::raw_check_extension(vm.as_raw_fd(), cap as nix::libc::c_int) }
}

/// `GH_VM_ANDROID_MAP_CMA_MEM` (ack66-late and later): binds CMA memory, a `[gunyah-cma]` fd's
/// pages, to the guest. No process memory is named: the driver takes the file's pages.
pub fn map_cma_mem(vm: BorrowedFd<'_>, args: &gunyah_map_cma_mem_args) -> Result<(), Errno> {
    // SAFETY: a valid struct of the encoded size, only read by the driver.
    unsafe { raw::raw_map_cma_mem(vm.as_raw_fd(), args) }.map(drop)
}

/// `GH_VM_ADD_FUNCTION` with a per-type argument `T`; returns the driver's non-negative
/// answer (a vCPU fd for `GH_FN_VCPU`, 0 otherwise).
pub fn add_function<T: Copy>(vm: BorrowedFd<'_>, fn_type: u32, arg: &T) -> Result<i32, Errno> {
    let desc = gh_fn_desc {
        type_: fn_type,
        arg_size: std::mem::size_of::<T>() as u32,
        arg: arg as *const T as u64,
    };
    // SAFETY: `desc` points at `arg` (of `arg_size` bytes), which outlives the call; the driver
    // copies both in.
    unsafe { raw::raw_add_function(vm.as_raw_fd(), &desc) }
}

/// `GH_VM_ADD_FUNCTION(GH_FN_VCPU)`: the new vCPU fd (safe code: [`crate::vm_fd::VmFd::add_vcpu`],
/// whose vCPU fd keeps the VM's memory).
pub(crate) fn add_vcpu(vm: BorrowedFd<'_>, id: u32) -> Result<OwnedFd, Errno> {
    let fd = add_function(vm, GH_FN_VCPU, &gh_fn_vcpu_arg { id })?;
    // SAFETY: for GH_FN_VCPU the driver returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `GH_VM_REMOVE_FUNCTION` with the same type and argument bytes as when added.
pub fn remove_function<T: Copy>(vm: BorrowedFd<'_>, fn_type: u32, arg: &T) -> Result<(), Errno> {
    let desc = gh_fn_desc {
        type_: fn_type,
        arg_size: std::mem::size_of::<T>() as u32,
        arg: arg as *const T as u64,
    };
    // SAFETY: as in `add_function`.
    unsafe { raw::raw_remove_function(vm.as_raw_fd(), &desc) }.map(drop)
}

/// `GH_VCPU_MMAP_SIZE`.
pub fn vcpu_mmap_size(vcpu: BorrowedFd<'_>) -> Result<usize, Errno> {
    // SAFETY: no argument; the driver returns a size.
    let size = unsafe { raw::raw_vcpu_mmap_size(vcpu.as_raw_fd()) }?;
    usize::try_from(size).map_err(|_| Errno::EINVAL)
}

/// `GH_VCPU_RUN`: runs until an exit described in the vCPU's run page.
pub fn vcpu_run(vcpu: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: no argument; the driver writes only the run page it owns the mapping of.
    unsafe { raw::raw_vcpu_run(vcpu.as_raw_fd()) }.map(drop)
}
