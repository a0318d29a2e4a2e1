//! The upstream Gunyah driver ABI (`GUNYAH_*`, guest_memfd memory). Numbers 0x0 and 0x2..=0x7
//! equal the a14 ones; there is no 0x1 (memory comes from guest_memfd + MAP_MEM). Map flags
//! are this generation's own and never shared with other generations.

#![forbid(unsafe_code)]
#![allow(non_camel_case_types)]

use std::mem::{offset_of, size_of};

use nix::{request_code_none, request_code_write};

use super::a14::{gh_fn_desc, gh_vm_dtb_config, GH_IOCTL_TYPE};
use super::android::gh_vm_boot_context;
use super::Ioctl;

/// `GUNYAH_CREATE_VM`.
pub const GUNYAH_CREATE_VM: Ioctl = request_code_none!(GH_IOCTL_TYPE, 0x0);
/// `GUNYAH_VM_SET_DTB_CONFIG`.
pub const GUNYAH_VM_SET_DTB_CONFIG: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0x2, size_of::<gh_vm_dtb_config>());
/// `GUNYAH_VM_START`.
pub const GUNYAH_VM_START: Ioctl = request_code_none!(GH_IOCTL_TYPE, 0x3);
/// `GUNYAH_VM_ADD_FUNCTION`.
pub const GUNYAH_VM_ADD_FUNCTION: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0x4, size_of::<gh_fn_desc>());
/// `GUNYAH_VCPU_RUN`.
pub const GUNYAH_VCPU_RUN: Ioctl = request_code_none!(GH_IOCTL_TYPE, 0x5);
/// `GUNYAH_VCPU_MMAP_SIZE`.
pub const GUNYAH_VCPU_MMAP_SIZE: Ioctl = request_code_none!(GH_IOCTL_TYPE, 0x6);
/// `GUNYAH_VM_REMOVE_FUNCTION`.
pub const GUNYAH_VM_REMOVE_FUNCTION: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0x7, size_of::<gh_fn_desc>());
/// `GUNYAH_CREATE_GUEST_MEM` on /dev/gunyah: returns a guest_memfd.
pub const GUNYAH_CREATE_GUEST_MEM: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0x8, size_of::<gunyah_create_mem_args>());
/// `GUNYAH_VM_MAP_MEM` on the VM fd.
pub const GUNYAH_VM_MAP_MEM: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0x9, size_of::<gunyah_map_mem_args>());
/// `GUNYAH_VM_SET_BOOT_CONTEXT`.
pub const GUNYAH_VM_SET_BOOT_CONTEXT: Ioctl =
    request_code_write!(GH_IOCTL_TYPE, 0xa, size_of::<gh_vm_boot_context>());

/// `GUNYAH_MEM_FORCE_LEND`.
pub const GUNYAH_MEM_FORCE_LEND: u32 = 1 << 0;
/// `GUNYAH_MEM_FORCE_SHARE`.
pub const GUNYAH_MEM_FORCE_SHARE: u32 = 1 << 1;
/// `GUNYAH_MEM_ALLOW_READ`.
pub const GUNYAH_MEM_ALLOW_READ: u32 = 1 << 4;
/// `GUNYAH_MEM_ALLOW_WRITE`.
pub const GUNYAH_MEM_ALLOW_WRITE: u32 = 1 << 5;
/// `GUNYAH_MEM_ALLOW_EXEC`.
pub const GUNYAH_MEM_ALLOW_EXEC: u32 = 1 << 6;

/// `struct gunyah_create_mem_args`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gunyah_create_mem_args {
    /// Flags.
    pub flags: u64,
    /// Size.
    pub size: u64,
    /// Must be 0.
    pub reserved: [u64; 6],
}

/// `struct gunyah_map_mem_args`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct gunyah_map_mem_args {
    /// Guest address.
    pub guest_addr: u64,
    /// `GUNYAH_MEM_*`.
    pub flags: u32,
    /// The guest_memfd.
    pub guest_mem_fd: u32,
    /// Offset in it.
    pub offset: u64,
    /// Size.
    pub size: u64,
}

const _: () = {
    assert!(size_of::<gunyah_create_mem_args>() == 64);
    assert!(offset_of!(gunyah_create_mem_args, size) == 8);
    assert!(offset_of!(gunyah_create_mem_args, reserved) == 16);
    assert!(size_of::<gunyah_map_mem_args>() == 32);
    assert!(offset_of!(gunyah_map_mem_args, flags) == 8);
    assert!(offset_of!(gunyah_map_mem_args, guest_mem_fd) == 12);
    assert!(offset_of!(gunyah_map_mem_args, offset) == 16);
    assert!(offset_of!(gunyah_map_mem_args, size) == 24);
};
