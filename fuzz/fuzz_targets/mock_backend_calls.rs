//! Arbitrary sequences of backend calls on the mock (its default generation): no panic, every
//! errno from the driver's table, and the live-object counters consistent with what the
//! sequence holds.
#![no_main]

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};

use gunyah_hypervisor::{
    BootReg, Datamatch, Function, GuestRange, Hypervisor, IoEventfd, Irqfd, MemAccess, ShareMode,
    TriggerMode, UserMemory, UserMemoryRegion, VcpuBackend, VmBackend,
};
use gunyah_mock::MockHypervisor;

fn irqfd(label: u8, level: bool) -> Irqfd {
    Irqfd {
        label: u32::from(label % 4),
        trigger: if level {
            TriggerMode::Level
        } else {
            TriggerMode::Edge
        },
    }
}
use gunyah_sys::mman::SharedMapping;

#[derive(Arbitrary, Debug)]
enum Op {
    CreateVm,
    DropVm(u8),
    Memory {
        vm: u8,
        label: u8,
        gpa_pages: u16,
        pages: u8,
        flags: u8,
        lend: bool,
        misalign: bool,
    },
    Dtb {
        vm: u8,
        gpa_pages: u16,
        size: u16,
    },
    Boot {
        vm: u8,
        reg: u16,
        value: u64,
    },
    AddVcpu {
        vm: u8,
        id: u8,
    },
    DropVcpu(u8),
    Start(u8),
    Irqfd {
        vm: u8,
        label: u8,
        flags: u8,
    },
    Ioeventfd {
        vm: u8,
        addr: u16,
        len: u8,
        datamatch: u8,
        flags: u8,
    },
    Remove {
        vm: u8,
        label: u8,
    },
    /// REMOVE_FUNCTION of a vCPU: its fd stays open, and its id may be bound again.
    RemoveVcpu {
        vm: u8,
        id: u8,
    },
}

const TABLE: &[Errno] = &[
    Errno::EINVAL,
    Errno::EEXIST,
    Errno::EOVERFLOW,
    Errno::ENODEV,
    Errno::ENOMEM,
    // REMOVE_FUNCTION without a match and a DTB in no region at START: the later generations'
    // answer (the mock models ack66-late by default).
    Errno::ENOENT,
];

fn pick<T>(items: &[T], i: u8) -> Option<&T> {
    (!items.is_empty()).then(|| &items[usize::from(i) % items.len()])
}

/// 1 MiB of mapped memory (a sparse memfd) every region points into, as the driver pins it;
/// `Memory` asks for at most 255 pages.
fn guest_ram(pages: u8) -> UserMemory {
    static RAM: std::sync::OnceLock<(std::fs::File, Arc<SharedMapping>)> =
        std::sync::OnceLock::new();
    let (_, mapping) = RAM.get_or_init(|| {
        let (file, mapping) = gunyah_sys::memfd::mapped("fuzz-ram", 1 << 20).expect("memory");
        (file, Arc::new(mapping))
    });
    UserMemory::within(mapping.clone(), 0, u64::from(pages) * 4096).expect("inside 1 MiB")
}

fn check(result: gunyah_hypervisor::HypResult<()>) {
    if let Err(e) = result {
        assert!(TABLE.contains(&e.errno), "{e}");
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let hyp = MockHypervisor::with_memlock_limit(64 << 20);
    let eventfd: OwnedFd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC)
        .expect("eventfd")
        .into();
    let mut vms: Vec<Box<dyn VmBackend>> = Vec::new();
    let mut vcpus: Vec<Box<dyn VcpuBackend>> = Vec::new();
    for op in ops.into_iter().take(64) {
        match op {
            Op::CreateVm => vms.push(hyp.create_vm().expect("create_vm")),
            Op::DropVm(i) => {
                if !vms.is_empty() {
                    vms.remove(usize::from(i) % vms.len());
                }
            }
            Op::Memory {
                vm,
                label,
                gpa_pages,
                pages,
                flags,
                lend,
                misalign,
            } => {
                if let Some(vm) = pick(&vms, vm) {
                    let region = UserMemoryRegion {
                        label: u32::from(label % 8),
                        access: MemAccess {
                            read: flags & 1 != 0,
                            write: flags & 2 != 0,
                            exec: flags & 4 != 0,
                        },
                        guest_phys_addr: u64::from(gpa_pages) * 4096 + u64::from(misalign),
                        memory: guest_ram(pages),
                    };
                    check(vm.set_user_memory(
                        &region,
                        if lend {
                            ShareMode::Lend
                        } else {
                            ShareMode::Share
                        },
                    ));
                }
            }
            Op::Dtb {
                vm,
                gpa_pages,
                size,
            } => {
                if let Some(vm) = pick(&vms, vm) {
                    check(vm.set_dtb_config(GuestRange {
                        guest_phys_addr: u64::from(gpa_pages) * 4096,
                        size: u64::from(size),
                    }));
                }
            }
            Op::Boot { vm, reg, value } => {
                if let (Some(vm), Some(reg)) = (pick(&vms, vm), BootReg::decode(u32::from(reg))) {
                    check(vm.set_boot_context(reg, value));
                }
            }
            Op::AddVcpu { vm, id } => {
                if let Some(vm) = pick(&vms, vm) {
                    match vm.add_vcpu(u32::from(id % 8)) {
                        Ok(vcpu) => vcpus.push(vcpu),
                        Err(e) => assert_eq!(e.errno, Errno::EEXIST),
                    }
                }
            }
            Op::DropVcpu(i) => {
                if !vcpus.is_empty() {
                    vcpus.remove(usize::from(i) % vcpus.len());
                }
            }
            Op::Start(vm) => {
                if let Some(vm) = pick(&vms, vm) {
                    check(vm.start());
                }
            }
            Op::Irqfd { vm, label, flags } => {
                if let Some(vm) = pick(&vms, vm) {
                    check(vm.add_irqfd(eventfd.as_fd(), irqfd(label, flags & 1 != 0)));
                }
            }
            Op::Ioeventfd {
                vm,
                addr,
                len,
                datamatch,
                flags,
            } => {
                if let Some(vm) = pick(&vms, vm) {
                    check(vm.add_ioeventfd(
                        eventfd.as_fd(),
                        IoEventfd {
                            addr: u64::from(addr),
                            len: u32::from(len % 10),
                            datamatch: if flags & 1 != 0 {
                                Datamatch::Value(u64::from(datamatch))
                            } else {
                                Datamatch::Any
                            },
                        },
                    ));
                }
            }
            Op::Remove { vm, label } => {
                if let Some(vm) = pick(&vms, vm) {
                    check(
                        vm.remove_function(eventfd.as_fd(), Function::Irqfd(irqfd(label, false))),
                    );
                }
            }
            Op::RemoveVcpu { vm, id } => {
                if let Some(vm) = pick(&vms, vm) {
                    check(vm.remove_function(eventfd.as_fd(), Function::Vcpu(u32::from(id % 8))));
                }
            }
        }
        let stats = hyp.stats();
        assert_eq!(stats.live_vcpus, vcpus.len());
        // A VM lives while its fd or any of its vCPU fds is open.
        assert!(stats.live_vms >= vms.len() && stats.live_vms <= vms.len() + vcpus.len());
    }
    drop(vcpus);
    drop(vms);
    assert_eq!(hyp.stats(), Default::default());
});
