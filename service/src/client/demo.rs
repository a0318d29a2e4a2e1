//! A minimal, valid VM config: one RAM region backed by a sealed memfd with the DTB inside it.
//! Used by `gunyahctl run` and the tests as the smallest thing the service accepts.

use std::io;

use crate::aidl::{
    GuestRange::GuestRange,
    MemoryRegion::{self as region, MemoryRegion},
    MemoryShareType::MemoryShareType,
    VmAuthType::VmAuthType,
    VmConfig::VmConfig,
};
use crate::binder;
use crate::client::memfd;

/// Guest physical address of the demo RAM region.
pub const DEMO_RAM_BASE: i64 = 0x8000_0000;

/// A memory region of `size` bytes at `guest_phys_addr`, label `label`, backed by a new sealed
/// memfd, readable and writable by the guest.
pub fn ram_region(label: i32, guest_phys_addr: i64, size: u64) -> io::Result<MemoryRegion> {
    let file = memfd::sealed(&format!("guest-ram-{label}"), size)?;
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

/// `name` with `memory` bytes of RAM at [`DEMO_RAM_BASE`], `vcpus` vCPUs, and the DTB in the
/// last page of RAM.
pub fn demo_config(name: &str, memory: u64, vcpus: i32) -> io::Result<VmConfig> {
    let region = ram_region(0, DEMO_RAM_BASE, memory)?;
    Ok(VmConfig {
        name: name.to_string(),
        authType: VmAuthType::UNAUTHENTICATED,
        memoryRegions: vec![region],
        dtb: GuestRange {
            guestPhysAddr: DEMO_RAM_BASE + memory as i64 - 4096,
            size: 4096,
        },
        firmware: None,
        bootContext: vec![],
        vcpuCount: vcpus,
        qtvmAuth: None,
    })
}
