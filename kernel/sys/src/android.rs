//! The Android additions to the Gunyah driver (ack-ext): ioctl type `'A'`, plus the boot
//! context call on `'G'`. Layouts of RECLAIM / MAP_CMA / AUTH follow the published bindings.

#![forbid(unsafe_code)]
#![allow(non_camel_case_types)]

use std::mem::{offset_of, size_of};

use nix::{request_code_none, request_code_write};

use super::a14::{gh_userspace_memory_region, GH_IOCTL_TYPE};
use super::Ioctl;

/// The ioctl type of the Android additions.
pub const GH_ANDROID_IOCTL_TYPE: u8 = b'A';

/// `GH_VM_SET_BOOT_CONTEXT` on the VM fd (type `'G'`).
pub const GH_VM_SET_BOOT_CONTEXT: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0xa, size_of::<gh_vm_boot_context>());
/// `GH_ANDROID_TENTATIVE_UAPI` on /dev/gunyah: answers 0 where the Android additions exist.
pub const GH_ANDROID_TENTATIVE_UAPI: Ioctl = request_code_none!(GH_ANDROID_IOCTL_TYPE, 0x10);
/// `GH_VM_ANDROID_LEND_USER_MEM` on the VM fd.
pub const GH_VM_ANDROID_LEND_USER_MEM: Ioctl = request_code_write!(
    GH_ANDROID_IOCTL_TYPE,
    0x11,
    size_of::<gh_userspace_memory_region>()
);
/// `GH_VM_ANDROID_SET_FW_CONFIG` on the VM fd.
pub const GH_VM_ANDROID_SET_FW_CONFIG: Ioctl = request_code_write!(
    GH_ANDROID_IOCTL_TYPE,
    0x12,
    size_of::<gh_vm_firmware_config>()
);
/// `GH_VM_RECLAIM_REGION` on the VM fd.
pub const GH_VM_RECLAIM_REGION: Ioctl = request_code_write!(
    GH_ANDROID_IOCTL_TYPE,
    0x13,
    size_of::<gunyah_address_range>()
);
/// `GH_ANDROID_CREATE_CMA_MEM_FD` on the CMA device (not /dev/gunyah).
pub const GH_ANDROID_CREATE_CMA_MEM_FD: Ioctl = request_code_none!(GH_ANDROID_IOCTL_TYPE, 0x14);
/// `GH_VM_ANDROID_MAP_CMA_MEM` on the VM fd.
pub const GH_VM_ANDROID_MAP_CMA_MEM: Ioctl = request_code_write!(
    GH_ANDROID_IOCTL_TYPE,
    0x15,
    size_of::<gunyah_map_cma_mem_args>()
);
/// `GH_VM_ANDROID_SET_AUTH_TYPE` on the VM fd.
pub const GH_VM_ANDROID_SET_AUTH_TYPE: Ioctl =
    request_code_write!(GH_ANDROID_IOCTL_TYPE, 0x16, size_of::<gunyah_auth_desc>());

/// `GH_VM_CHECK_EXTENSION` on the VM fd (newest ACK): the argument is a capability id by
/// value; answers 1 where the capability exists, 0 where it does not.
pub const GH_VM_CHECK_EXTENSION: Ioctl = request_code_none!(GH_ANDROID_IOCTL_TYPE, 0x17);
/// `GH_CAP_VCPU_TIMER_WAKEUP`: the kernel wakes a vCPU at its timer deadline.
pub const GH_CAP_VCPU_TIMER_WAKEUP: u32 = 0;

/// `GUNYAH_VCPU_EXIT_PAGE_FAULT` (ack66-early and later): a guest access the driver could not
/// back with memory.
pub const GUNYAH_VCPU_EXIT_PAGE_FAULT: u32 = 3;

/// The `page_fault` member of the later generations' `gunyah_vcpu_run` union (offset 16 of the
/// run page).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gunyah_vcpu_run_page_fault {
    /// Guest physical address of the access.
    pub phys_addr: u64,
    /// Negative errno of the driver's attempt to back it.
    pub attempt: i32,
    /// Preset to FAULT (1) by the driver; the next RUN does not read it.
    pub resume_action: u8,
}

/// The `mmio` member of the later generations' `gunyah_vcpu_run` union: a14's plus
/// `resume_action` at offset 37 of the page (docs/GENERATIONS.md).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gunyah_vcpu_run_mmio {
    /// Guest physical address.
    pub phys_addr: u64,
    /// Data written, or to be read by the guest on the next RUN.
    pub data: [u8; 8],
    /// Access length.
    pub len: u32,
    /// 1 for a write.
    pub is_write: u8,
    /// `GUNYAH_VCPU_RESUME_*`: preset to HANDLED at every MMIO exit; read by the next RUN.
    pub resume_action: u8,
}

/// `GUNYAH_VCPU_RESUME_HANDLED`.
pub const GUNYAH_VCPU_RESUME_HANDLED: u8 = 0;
/// `GUNYAH_VCPU_RESUME_FAULT`.
pub const GUNYAH_VCPU_RESUME_FAULT: u8 = 1;
/// `GUNYAH_VCPU_RESUME_RETRY`.
pub const GUNYAH_VCPU_RESUME_RETRY: u8 = 2;

/// Boot context register set X (index 0..=31).
pub const GH_VM_BOOT_CONTEXT_REG_SET_X: u32 = 0;
/// Boot context register set PC (index 0).
pub const GH_VM_BOOT_CONTEXT_REG_SET_PC: u32 = 1;
/// Boot context register set SP (index 0..=2).
pub const GH_VM_BOOT_CONTEXT_REG_SET_SP: u32 = 2;

/// `GUNYAH_AUTH_TYPE_ANDROID_PVM`.
pub const GUNYAH_AUTH_TYPE_ANDROID_PVM: u32 = 0;
/// `GUNYAH_AUTH_TYPE_QCOM_TRUSTED_VM`.
pub const GUNYAH_AUTH_TYPE_QCOM_TRUSTED_VM: u32 = 1;

/// `struct gh_vm_boot_context`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_vm_boot_context {
    /// `(set & 0xff) << 8 | (index & 0xff)`.
    pub reg: u32,
    /// Must be 0.
    pub reserved: u32,
    /// The value.
    pub value: u64,
}

/// `struct gh_vm_firmware_config`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gh_vm_firmware_config {
    /// Guest physical address.
    pub guest_phys_addr: u64,
    /// Size.
    pub size: u64,
}

/// `struct gunyah_address_range`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gunyah_address_range {
    /// Guest physical address.
    pub guest_phys_addr: u64,
    /// Size.
    pub size: u64,
}

/// `struct gunyah_map_cma_mem_args` (a 4-byte hole after `label`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gunyah_map_cma_mem_args {
    /// Label.
    pub label: u32,
    /// Guest address.
    pub guest_addr: u64,
    /// Flags.
    pub flags: u32,
    /// The CMA memory fd.
    pub guest_mem_fd: u32,
    /// Offset in it.
    pub offset: u64,
    /// Size.
    pub size: u64,
}

/// `struct gunyah_auth_desc`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gunyah_auth_desc {
    /// `GUNYAH_AUTH_TYPE_*` (the kernel field is `type`).
    pub type_: u32,
    /// Size of `*arg`.
    pub arg_size: u32,
    /// User pointer to the per-type argument.
    pub arg: u64,
}

/// `struct gunyah_qtvm_auth_arg`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gunyah_qtvm_auth_arg {
    /// Trusted VM id.
    pub vm_id: u16,
    /// PAS id.
    pub pas_id: u32,
    /// Image address.
    pub guest_phys_addr: u64,
    /// Image size.
    pub size: u64,
}

const _: () = {
    assert!(size_of::<gh_vm_boot_context>() == 16);
    assert!(offset_of!(gh_vm_boot_context, reserved) == 4);
    assert!(offset_of!(gh_vm_boot_context, value) == 8);
    assert!(size_of::<gh_vm_firmware_config>() == 16);
    assert!(size_of::<gunyah_address_range>() == 16);
    assert!(size_of::<gunyah_map_cma_mem_args>() == 40);
    assert!(offset_of!(gunyah_map_cma_mem_args, guest_addr) == 8);
    assert!(offset_of!(gunyah_map_cma_mem_args, flags) == 16);
    assert!(offset_of!(gunyah_map_cma_mem_args, guest_mem_fd) == 20);
    assert!(offset_of!(gunyah_map_cma_mem_args, offset) == 24);
    assert!(offset_of!(gunyah_map_cma_mem_args, size) == 32);
    assert!(size_of::<gunyah_auth_desc>() == 16);
    assert!(offset_of!(gunyah_auth_desc, arg) == 8);
    assert!(size_of::<gunyah_qtvm_auth_arg>() == 24);
    assert!(offset_of!(gunyah_qtvm_auth_arg, pas_id) == 4);
    assert!(offset_of!(gunyah_qtvm_auth_arg, guest_phys_addr) == 8);
    assert!(offset_of!(gunyah_qtvm_auth_arg, size) == 16);
};
