//! The android14-6.1 Gunyah driver ABI (`include/uapi/linux/gunyah.h`, ioctl type `'G'`).
//! Kernel names are kept so the code reads against the header.

#![forbid(unsafe_code)]
#![allow(non_camel_case_types)]

use std::mem::{offset_of, size_of};

use nix::{request_code_none, request_code_write};

use super::Ioctl;

/// The ioctl type of the `GH_*` calls.
pub const GH_IOCTL_TYPE: u8 = b'G';

/// `GH_CREATE_VM` on /dev/gunyah: the argument must be 0; returns the VM fd.
pub const GH_CREATE_VM: Ioctl = request_code_none!(GH_IOCTL_TYPE, 0x0);
/// `GH_VM_SET_USER_MEM_REGION` on the VM fd.
pub const GH_VM_SET_USER_MEM_REGION: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0x1, size_of::<gh_userspace_memory_region>());
/// `GH_VM_SET_DTB_CONFIG` on the VM fd.
pub const GH_VM_SET_DTB_CONFIG: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0x2, size_of::<gh_vm_dtb_config>());
/// `GH_VM_START` on the VM fd.
pub const GH_VM_START: Ioctl = request_code_none!(GH_IOCTL_TYPE, 0x3);
/// `GH_VM_ADD_FUNCTION` on the VM fd; returns a vCPU fd for `GH_FN_VCPU`.
pub const GH_VM_ADD_FUNCTION: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0x4, size_of::<gh_fn_desc>());
/// `GH_VCPU_RUN` on a vCPU fd.
pub const GH_VCPU_RUN: Ioctl = request_code_none!(GH_IOCTL_TYPE, 0x5);
/// `GH_VCPU_MMAP_SIZE` on a vCPU fd; returns the size of the run page mapping.
pub const GH_VCPU_MMAP_SIZE: Ioctl = request_code_none!(GH_IOCTL_TYPE, 0x6);
/// `GH_VM_REMOVE_FUNCTION` on the VM fd.
pub const GH_VM_REMOVE_FUNCTION: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0x7, size_of::<gh_fn_desc>());

/// `GH_MEM_ALLOW_READ`.
pub const GH_MEM_ALLOW_READ: u32 = 1 << 0;
/// `GH_MEM_ALLOW_WRITE`.
pub const GH_MEM_ALLOW_WRITE: u32 = 1 << 1;
/// `GH_MEM_ALLOW_EXEC`.
pub const GH_MEM_ALLOW_EXEC: u32 = 1 << 2;

/// `GH_FN_VCPU`.
pub const GH_FN_VCPU: u32 = 1;
/// `GH_FN_IRQFD`.
pub const GH_FN_IRQFD: u32 = 2;
/// `GH_FN_IOEVENTFD`.
pub const GH_FN_IOEVENTFD: u32 = 3;
/// `GH_FN_MAX_ARG_SIZE`.
pub const GH_FN_MAX_ARG_SIZE: u32 = 256;
/// `GH_IRQFD_FLAGS_LEVEL`.
pub const GH_IRQFD_FLAGS_LEVEL: u32 = 1 << 0;
/// `GH_IOEVENTFD_FLAGS_DATAMATCH` (the value is 1, not `1 << 1`).
pub const GH_IOEVENTFD_FLAGS_DATAMATCH: u32 = 1 << 0;

/// `GH_VCPU_EXIT_UNKNOWN`.
pub const GH_VCPU_EXIT_UNKNOWN: u32 = 0;
/// `GH_VCPU_EXIT_MMIO`.
pub const GH_VCPU_EXIT_MMIO: u32 = 1;
/// `GH_VCPU_EXIT_STATUS`.
pub const GH_VCPU_EXIT_STATUS: u32 = 2;
/// `GH_VM_STATUS_LOAD_FAILED`.
pub const GH_VM_STATUS_LOAD_FAILED: u32 = 1;
/// `GH_VM_STATUS_EXITED`.
pub const GH_VM_STATUS_EXITED: u32 = 2;
/// `GH_VM_STATUS_CRASHED`.
pub const GH_VM_STATUS_CRASHED: u32 = 3;
/// `GH_VM_MAX_EXIT_REASON_SIZE`.
pub const GH_VM_MAX_EXIT_REASON_SIZE: u32 = 8;
/// `GH_VCPU_MMAP_SIZE` answer of the a14 driver.
pub const GH_VCPU_RUN_PAGE_SIZE: usize = 4096;

/// `struct gh_userspace_memory_region`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_userspace_memory_region {
    /// Unique label.
    pub label: u32,
    /// `GH_MEM_ALLOW_*`.
    pub flags: u32,
    /// Guest physical address.
    pub guest_phys_addr: u64,
    /// Size in bytes.
    pub memory_size: u64,
    /// Address of the memory in the caller.
    pub userspace_addr: u64,
}

/// `struct gh_vm_dtb_config`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_vm_dtb_config {
    /// Guest physical address of the DTB.
    pub guest_phys_addr: u64,
    /// Its size.
    pub size: u64,
}

/// `struct gh_fn_desc`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_fn_desc {
    /// `GH_FN_*` (the kernel field is `type`).
    pub type_: u32,
    /// Size of `*arg`.
    pub arg_size: u32,
    /// User pointer to the per-type argument.
    pub arg: u64,
}

/// `struct gh_fn_vcpu_arg`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_fn_vcpu_arg {
    /// vCPU id.
    pub id: u32,
}

/// `struct gh_fn_irqfd_arg`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_fn_irqfd_arg {
    /// The eventfd.
    pub fd: u32,
    /// Doorbell label.
    pub label: u32,
    /// `GH_IRQFD_FLAGS_*`.
    pub flags: u32,
    /// Must be 0.
    pub padding: u32,
}

/// `struct gh_fn_ioeventfd_arg`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_fn_ioeventfd_arg {
    /// Value to match with `GH_IOEVENTFD_FLAGS_DATAMATCH`.
    pub datamatch: u64,
    /// Guest physical address.
    pub addr: u64,
    /// Access length: 0, 1, 2, 4 or 8.
    pub len: u32,
    /// The eventfd.
    pub fd: i32,
    /// `GH_IOEVENTFD_FLAGS_*`.
    pub flags: u32,
    /// Must be 0.
    pub padding: u32,
}

/// `struct gh_vm_exit_info`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_vm_exit_info {
    /// Exit type (the kernel field is `type`).
    pub type_: u16,
    /// Padding.
    pub padding: u16,
    /// Valid bytes of `reason`.
    pub reason_size: u32,
    /// Reason bytes.
    pub reason: [u8; GH_VM_MAX_EXIT_REASON_SIZE as usize],
}

/// The `mmio` member of `gh_vcpu_run`'s union.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_vcpu_run_mmio {
    /// Guest physical address.
    pub phys_addr: u64,
    /// Data written, or to be read by the guest on the next RUN.
    pub data: [u8; 8],
    /// Access length.
    pub len: u32,
    /// 1 for a write.
    pub is_write: u8,
}

/// The `status` member of `gh_vcpu_run`'s union.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_vcpu_run_status {
    /// `GH_VM_STATUS_*`.
    pub status: u32,
    /// Exit details for `GH_VM_STATUS_EXITED`.
    pub exit_info: gh_vm_exit_info,
}

/// The union of `struct gh_vcpu_run`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union gh_vcpu_run_exit {
    /// For `GH_VCPU_EXIT_MMIO`.
    pub mmio: gh_vcpu_run_mmio,
    /// For `GH_VCPU_EXIT_STATUS`.
    pub status: gh_vcpu_run_status,
    /// For `GUNYAH_VCPU_EXIT_PAGE_FAULT` (ack66-early and later; the a14 page is a prefix of
    /// theirs).
    pub page_fault: super::android::gunyah_vcpu_run_page_fault,
    /// `mmio` as the later generations have it, with `resume_action` (the a14 `mmio` is a
    /// prefix of it).
    pub mmio_resumable: super::android::gunyah_vcpu_run_mmio,
}

/// `struct gh_vcpu_run`: the page a vCPU fd maps.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gh_vcpu_run {
    /// Non-zero: the next RUN returns EINTR at once.
    pub immediate_exit: u8,
    /// Padding.
    pub padding: [u8; 7],
    /// `GH_VCPU_EXIT_*`.
    pub exit_reason: u32,
    /// Exit details.
    pub exit: gh_vcpu_run_exit,
}

// Layouts measured from the kernel header (docs/DRIVER_ABI.md §4); identical on x86_64 and arm64.
const _: () = {
    assert!(size_of::<gh_userspace_memory_region>() == 32);
    assert!(offset_of!(gh_userspace_memory_region, label) == 0);
    assert!(offset_of!(gh_userspace_memory_region, flags) == 4);
    assert!(offset_of!(gh_userspace_memory_region, guest_phys_addr) == 8);
    assert!(offset_of!(gh_userspace_memory_region, memory_size) == 16);
    assert!(offset_of!(gh_userspace_memory_region, userspace_addr) == 24);
    assert!(size_of::<gh_vm_dtb_config>() == 16);
    assert!(offset_of!(gh_vm_dtb_config, size) == 8);
    assert!(size_of::<gh_fn_desc>() == 16);
    assert!(offset_of!(gh_fn_desc, arg_size) == 4);
    assert!(offset_of!(gh_fn_desc, arg) == 8);
    assert!(size_of::<gh_fn_vcpu_arg>() == 4);
    assert!(size_of::<gh_fn_irqfd_arg>() == 16);
    assert!(offset_of!(gh_fn_irqfd_arg, label) == 4);
    assert!(offset_of!(gh_fn_irqfd_arg, flags) == 8);
    assert!(offset_of!(gh_fn_irqfd_arg, padding) == 12);
    assert!(size_of::<gh_fn_ioeventfd_arg>() == 32);
    assert!(offset_of!(gh_fn_ioeventfd_arg, addr) == 8);
    assert!(offset_of!(gh_fn_ioeventfd_arg, len) == 16);
    assert!(offset_of!(gh_fn_ioeventfd_arg, fd) == 20);
    assert!(offset_of!(gh_fn_ioeventfd_arg, flags) == 24);
    assert!(offset_of!(gh_fn_ioeventfd_arg, padding) == 28);
    assert!(size_of::<gh_vm_exit_info>() == 16);
    assert!(offset_of!(gh_vm_exit_info, padding) == 2);
    assert!(offset_of!(gh_vm_exit_info, reason_size) == 4);
    assert!(offset_of!(gh_vm_exit_info, reason) == 8);
    assert!(size_of::<gh_vcpu_run>() == 40);
    assert!(offset_of!(gh_vcpu_run, padding) == 1);
    assert!(offset_of!(gh_vcpu_run, exit_reason) == 8);
    assert!(offset_of!(gh_vcpu_run, exit) == 16);
    assert!(offset_of!(gh_vcpu_run_mmio, data) == 8);
    assert!(offset_of!(gh_vcpu_run_mmio, len) == 16);
    assert!(offset_of!(gh_vcpu_run_mmio, is_write) == 20);
    assert!(offset_of!(gh_vcpu_run_status, exit_info) == 4);
};
