//! Sample configs: the smallest valid VM config, with a scripted-guest program in its RAM. Used
//! by `gunyahctl run` (its defaults) and the tests as the smallest thing the service accepts.

use std::io;

use gunyah_binder::aidl::{
    GuestRange::GuestRange, MemoryRegion::MemoryRegion, VmAuthType::VmAuthType, VmConfig::VmConfig,
};
use gunyah_contract::memfd::sealed_ram_region;
use gunyah_guest::asm::assemble;

/// Guest physical address of the demo RAM region.
pub const DEMO_RAM_BASE: i64 = 0x8000_0000;

/// A memory region of `size` bytes at `guest_phys_addr`, label `label`, backed by a new sealed
/// memfd, readable and writable by the guest.
pub fn ram_region(label: i32, guest_phys_addr: i64, size: u64) -> io::Result<MemoryRegion> {
    sealed_ram_region(label, guest_phys_addr, size, &[])
}

/// The demo guest: waits quietly until it is stopped.
pub const IDLE_PROGRAM: &str = "idle\n";

/// `name` with `memory` bytes of RAM at [`DEMO_RAM_BASE`], `vcpus` vCPUs, the DTB in the last
/// page of RAM, and the idle guest program at the start of RAM (the entry point).
pub fn demo_config(name: &str, memory: u64, vcpus: i32) -> io::Result<VmConfig> {
    demo_config_with_program(name, memory, vcpus, IDLE_PROGRAM)
}

/// As [`demo_config`], running the scripted-guest program `source` (docs/GUEST_ISA.md),
/// assembled for the start of RAM.
pub fn demo_config_with_program(
    name: &str,
    memory: u64,
    vcpus: i32,
    source: &str,
) -> io::Result<VmConfig> {
    let image = assemble(source, DEMO_RAM_BASE as u64)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("guest program: {e}")))?;
    let region = sealed_ram_region(0, DEMO_RAM_BASE, memory, &image)?;
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
