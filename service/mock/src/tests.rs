//! The mock against the a14 semantics table of docs/DRIVER_ABI.md §6, errno for errno.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nix::errno::Errno;

use super::MockHypervisor;
use gunyah_hypervisor::{
    BootReg, BootRegSet, DriverIoctl, Generation, GuestRange, Hypervisor, MemAccess, ShareMode,
    UserMemory, UserMemoryRegion, VcpuExit, VmStatus,
};
use gunyah_sys::mman::SharedMapping;

const PAGE: u64 = 4096;

/// Memory the regions of these tests live in: mapped, as the driver pins it (untouched pages
/// of a sparse memfd cost nothing). Region `label` starts at 1 MiB × `label`.
fn backing() -> Arc<SharedMapping> {
    static BACKING: OnceLock<(std::fs::File, Arc<SharedMapping>)> = OnceLock::new();
    let (_, mapping) = BACKING.get_or_init(|| {
        let (file, mapping) = gunyah_sys::memfd::mapped("mock-tests", 16 << 20).unwrap();
        (file, Arc::new(mapping))
    });
    mapping.clone()
}

/// `size` bytes at `offset` into the backing memory.
fn memory_at(offset: u64, size: u64) -> UserMemory {
    UserMemory::within(backing(), offset, size).expect("inside the backing")
}

fn region(label: u32, gpa: u64, size: u64) -> UserMemoryRegion {
    UserMemoryRegion {
        label,
        access: MemAccess::READ_WRITE,
        guest_phys_addr: gpa,
        memory: memory_at(u64::from(label) * 0x10_0000, size),
    }
}

/// A region of all of `mapping` at guest address 0.
fn ram(mapping: &Arc<SharedMapping>) -> UserMemoryRegion {
    UserMemoryRegion {
        memory: UserMemory::of(mapping.clone()),
        ..region(0, 0, 0)
    }
}

fn errno<T: std::fmt::Debug>(r: gunyah_hypervisor::HypResult<T>) -> Errno {
    r.expect_err("the call should fail").errno
}

/// A mock of the a14 driver.
fn a14() -> MockHypervisor {
    MockHypervisor::new()
        .with_generation(Generation::A14Early)
        .expect("a14 is modelled")
}

#[test]
fn test_memory_region_checks_in_driver_order() {
    // The a14 table (docs/DRIVER_ABI.md §6); the conformance suite covers every generation.
    let hyp = a14();
    let vm = hyp.create_vm().unwrap();
    let share = ShareMode::Share;
    assert_eq!(
        errno(vm.set_user_memory(&region(0, 0, 0), share)),
        Errno::EINVAL
    );
    assert_eq!(
        errno(vm.set_user_memory(&region(0, 0, 100), share)),
        Errno::EINVAL
    );
    assert_eq!(
        errno(vm.set_user_memory(&region(0, 0x800, PAGE), share)),
        Errno::EINVAL
    );
    let unaligned_uaddr = UserMemoryRegion {
        memory: memory_at(8, PAGE),
        ..region(0, 0, PAGE)
    };
    assert_eq!(
        errno(vm.set_user_memory(&unaligned_uaddr, share)),
        Errno::EINVAL
    );
    assert_eq!(
        errno(vm.set_user_memory(&region(0, u64::MAX - PAGE + 1, 2 * PAGE), share)),
        Errno::EOVERFLOW
    );

    vm.set_user_memory(&region(0, 0x10_0000, 4 * PAGE), share)
        .unwrap();
    assert_eq!(
        errno(vm.set_user_memory(&region(0, 0x20_0000, PAGE), share)),
        Errno::EEXIST,
        "label"
    );
    assert_eq!(
        errno(vm.set_user_memory(&region(1, 0x10_0000 + 3 * PAGE, PAGE), ShareMode::Lend)),
        Errno::EEXIST,
        "overlap"
    );
    // Adjacent ranges are fine (half-open).
    vm.set_user_memory(&region(1, 0x10_0000 + 4 * PAGE, PAGE), ShareMode::Lend)
        .unwrap();
    vm.set_user_memory(&region(2, 0x10_0000 - PAGE, PAGE), share)
        .unwrap();
    assert_eq!(hyp.stats().registered_bytes, 6 * PAGE);
    drop(vm);
    assert_eq!(hyp.stats().registered_bytes, 0);
    assert_eq!(hyp.stats().live_vms, 0);
}

#[test]
fn test_unmapped_memory_is_efault_at_the_ioctl_on_a14() {
    let hyp = a14();
    let vm = hyp.create_vm().unwrap();
    // Memory no mapping of this process can hold (the kernel's half of the address space).
    let r = UserMemoryRegion {
        memory: UserMemory::unmappable(0xffff_ffff_fff0_0000, PAGE).unwrap(),
        ..region(0, 0, PAGE)
    };
    assert_eq!(
        errno(vm.set_user_memory(&r, ShareMode::Share)),
        Errno::EFAULT
    );
    assert_eq!(hyp.stats().registered_bytes, 0, "nothing was pinned");
}

#[test]
fn test_memlock_limit_is_enomem_at_the_ioctl_on_a14() {
    let hyp = MockHypervisor::with_memlock_limit(2 * PAGE)
        .with_generation(Generation::A14Early)
        .unwrap();
    let vm = hyp.create_vm().unwrap();
    vm.set_user_memory(&region(0, 0, 2 * PAGE), ShareMode::Share)
        .unwrap();
    assert_eq!(
        errno(vm.set_user_memory(&region(1, 0x10_0000, PAGE), ShareMode::Share)),
        Errno::ENOMEM
    );
}

/// A VM of `pages` of the mock's pages of RAM at 0 running `program`, started, with its one
/// vCPU.
fn booted(
    hyp: &MockHypervisor,
    pages: u64,
    program: &str,
) -> (
    Box<dyn gunyah_hypervisor::VmBackend>,
    Box<dyn gunyah_hypervisor::VcpuBackend>,
    Arc<SharedMapping>,
) {
    use std::os::unix::fs::FileExt;
    let page = hyp.capabilities().page_size;
    // One page more than needed, so that a part aligned to the mock's page can be chosen
    // (the mapping is aligned to this kernel's page only).
    let (memory, mapping) = gunyah_sys::memfd::mapped("booted", (pages + 1) * page).unwrap();
    let mapping = Arc::new(mapping);
    let offset = (page - UserMemory::of(mapping.clone()).addr() % page) % page;
    let image = gunyah_guest::asm::assemble(program, 0).unwrap();
    memory.write_all_at(&image, offset).unwrap();
    let vm = hyp.create_vm().unwrap();
    let ram = UserMemoryRegion {
        memory: UserMemory::within(mapping.clone(), offset, pages * page).unwrap(),
        ..region(0, 0, 0)
    };
    vm.set_user_memory(&ram, ShareMode::Share).unwrap();
    vm.set_dtb_config(GuestRange {
        guest_phys_addr: (pages - 1) * page,
        size: page,
    })
    .unwrap();
    let vcpu = vm.add_vcpu(0).unwrap();
    vm.start().unwrap();
    (vm, vcpu, mapping)
}

/// The later drivers charge memlock per page at the guest's first touch: registering more
/// memory than the budget succeeds, and the first page past it is a PAGE_FAULT (ENOMEM),
/// again on the next run. The budget comes back when the VM is freed.
#[test]
fn test_memlock_is_charged_at_first_touch_on_later_generations() {
    let hyp = MockHypervisor::with_memlock_limit(2 * PAGE);
    let program = "store4 [0x5000], 1\nstore4 [0x5ffc], 2\nstore4 [0x9000], 3\nexit 1";
    let (vm, mut vcpu, _mapping) = booted(&hyp, 16, program);
    // Page 0 (the program) and page 5 fit the budget; page 9 does not.
    let fault = VcpuExit::PageFault {
        phys_addr: 0x9000,
        errno: Errno::ENOMEM,
    };
    assert_eq!(vcpu.run().unwrap(), fault);
    assert_eq!(
        vcpu.run().unwrap(),
        fault,
        "nothing changed: the same fault"
    );
    drop((vcpu, vm));
    assert_eq!(hyp.stats(), Default::default());
    // The budget is whole again: the same guest gets as far once more.
    let (_vm, mut vcpu, _mapping) = booted(&hyp, 16, program);
    assert_eq!(vcpu.run().unwrap(), fault);
}

/// A mock told to model a kernel with 4 × this kernel's pages (`--mock-page-size`) holds
/// regions to that alignment and, demand paging, pins and charges whole pages of that size.
#[test]
fn test_a_modelled_page_size_governs_alignment_and_pinning() {
    let big = 4 * PAGE;
    let hyp = MockHypervisor::with_memlock_limit(2 * big)
        .with_page_size(big)
        .unwrap();
    assert_eq!(hyp.capabilities().page_size, big);
    let vm = hyp.create_vm().unwrap();
    let share = ShareMode::Share;
    // `at(gpa, size)`: a region whose process memory is aligned to `big` (the backing is
    // aligned to this kernel's pages only).
    let aligned = (big - memory_at(0, big).addr() % big) % big;
    let at = |gpa, size| UserMemoryRegion {
        memory: memory_at(aligned, size),
        ..region(0, gpa, size)
    };
    assert_eq!(
        errno(vm.set_user_memory(&at(0, PAGE), share)),
        Errno::EINVAL,
        "one small page is not a whole big page"
    );
    assert_eq!(
        errno(vm.set_user_memory(&at(PAGE, big), share)),
        Errno::EINVAL,
        "a guest address aligned to small pages only"
    );
    // Process memory aligned to this kernel's page is enough: this kernel's mmaps promise
    // no more.
    let host_aligned = UserMemoryRegion {
        label: 1,
        memory: memory_at(aligned + PAGE, big),
        ..at(2 * big, big)
    };
    vm.set_user_memory(&host_aligned, share).unwrap();
    vm.set_user_memory(&at(big, big), share).unwrap();
    drop(vm);
    // The program's page (0) and page 1 spend the budget of two big pages.
    let program = format!("store4 [{big:#x}], 1\nstore4 [{:#x}], 2\nexit 1", 2 * big);
    let (_vm, mut vcpu, _mapping) = booted(&hyp, 16, &program);
    assert_eq!(
        vcpu.run().unwrap(),
        VcpuExit::PageFault {
            phys_addr: 2 * big,
            errno: Errno::ENOMEM
        },
        "pages 0 and 1 of {big} bytes spend the budget; page 2 does not fit"
    );
}

#[test]
fn test_start_needs_dtb_inside_a_region_then_is_final() {
    let hyp = MockHypervisor::new();
    let vm = hyp.create_vm().unwrap();
    vm.set_user_memory(&region(0, 0x8000_0000, 16 * PAGE), ShareMode::Share)
        .unwrap();
    vm.set_dtb_config(GuestRange {
        guest_phys_addr: 0x9000_0000,
        size: 100,
    })
    .unwrap();
    assert_eq!(errno(vm.start()), Errno::EINVAL);
    // INIT_FAILED: START again is ENODEV.
    assert_eq!(errno(vm.start()), Errno::ENODEV);
}

#[test]
fn test_start_is_idempotent_and_closes_boot_context() {
    // The default (ack66-late) mock: it has SET_BOOT_CONTEXT, and shares whole DTB pages.
    let hyp = MockHypervisor::new();
    let vm = hyp.create_vm().unwrap();
    vm.set_user_memory(&region(0, 0x8000_0000, 16 * PAGE), ShareMode::Share)
        .unwrap();
    vm.set_dtb_config(GuestRange {
        guest_phys_addr: 0x8000_0000 + 15 * PAGE,
        size: PAGE,
    })
    .unwrap();
    vm.set_boot_context(BootReg::PC, 0x8000_0000).unwrap();
    vm.start().unwrap();
    vm.start().unwrap();
    assert_eq!(
        errno(vm.set_boot_context(
            BootReg {
                set: BootRegSet::X,
                index: 0
            },
            1
        )),
        Errno::EINVAL
    );
    // A region added after START is recorded (no state check).
    vm.set_user_memory(&region(1, 0x1000_0000, PAGE), ShareMode::Share)
        .unwrap();
}

#[test]
fn test_set_dtb_overflow() {
    let hyp = MockHypervisor::new();
    let vm = hyp.create_vm().unwrap();
    let err = vm
        .set_dtb_config(GuestRange {
            guest_phys_addr: u64::MAX,
            size: 2,
        })
        .unwrap_err();
    assert_eq!(
        (err.call, err.errno),
        (DriverIoctl::SetDtbConfig.into(), Errno::EOVERFLOW)
    );
}

#[test]
fn test_boot_reg_encoding() {
    assert_eq!(BootReg::PC.encode(), 0x100);
    assert_eq!(
        BootReg {
            set: BootRegSet::Sp,
            index: 2
        }
        .encode(),
        0x202
    );
    assert_eq!(BootReg::decode(0x11f), None, "PC has only index 0");
    assert_eq!(
        BootReg::decode(0x01f),
        Some(BootReg {
            set: BootRegSet::X,
            index: 31
        })
    );
    assert_eq!(BootReg::decode(0x020), None, "X has 32 registers");
    assert_eq!(BootReg::decode(0x203), None, "SP has 3 registers");
    assert_eq!(BootReg::decode(0x300), None, "no set 3");
    assert_eq!(BootReg::decode(0x1_0000), None);
}

#[test]
fn test_vcpu_run_before_start_duplicate_id_and_kick() {
    let hyp = MockHypervisor::new();
    let vm = hyp.create_vm().unwrap();
    vm.set_user_memory(&region(0, 0, 4 * PAGE), ShareMode::Share)
        .unwrap();
    vm.set_dtb_config(GuestRange {
        guest_phys_addr: 0,
        size: PAGE,
    })
    .unwrap();
    let mut boot = vm.add_vcpu(0).unwrap();
    let mut vcpu = vm.add_vcpu(1).unwrap();
    assert_eq!(errno(vm.add_vcpu(1).map(|_| ())), Errno::EEXIST);
    assert_eq!(errno(vcpu.run()), Errno::ENODEV);
    vm.start().unwrap();

    // A running, idle (secondary) vCPU returns EINTR when kicked from another thread.
    let kicker = vcpu.kicker();
    let t = std::thread::spawn(move || vcpu.run().map_err(|e| e.errno));
    std::thread::sleep(Duration::from_millis(20));
    kicker.kick();
    assert_eq!(t.join().unwrap(), Err(Errno::EINTR));
    // The boot vCPU finds no program at the entry point (these regions are not real memory):
    // the VM fails to load, and every vCPU reports it.
    assert_eq!(boot.run(), Ok(VcpuExit::Status(VmStatus::LoadFailed)));
    let mut third = vm.add_vcpu(2).unwrap();
    assert_eq!(third.run(), Ok(VcpuExit::Status(VmStatus::LoadFailed)));
}

#[test]
fn test_vcpu_holds_a_vm_reference() {
    let hyp = Arc::new(MockHypervisor::new());
    let vm = hyp.create_vm().unwrap();
    let vcpu = vm.add_vcpu(3).unwrap();
    assert_eq!((hyp.stats().live_vms, hyp.stats().live_vcpus), (1, 1));
    drop(vm);
    assert_eq!(hyp.stats().live_vms, 1, "the vCPU fd keeps the VM");
    drop(vcpu);
    assert_eq!((hyp.stats().live_vms, hyp.stats().live_vcpus), (0, 0));
}

#[test]
fn test_run_after_a_failed_start_per_generation() {
    // a14 reports the failed load as a STATUS exit; the later drivers have no hypervisor
    // resource for the vCPU (it is taken after the point START failed at): ENODEV.
    for (generation, want) in [
        (
            Generation::A14Early,
            Ok(VcpuExit::Status(VmStatus::LoadFailed)),
        ),
        (
            Generation::A14Late,
            Ok(VcpuExit::Status(VmStatus::LoadFailed)),
        ),
        (Generation::Ack66Early, Err(Errno::ENODEV)),
        (Generation::Ack66Late, Err(Errno::ENODEV)),
        (Generation::AckNewest, Err(Errno::ENODEV)),
    ] {
        let hyp = MockHypervisor::new().with_generation(generation).unwrap();
        let vm = hyp.create_vm().unwrap();
        let mut vcpu = vm.add_vcpu(0).unwrap();
        assert_eq!(errno(vm.start()), Errno::EINVAL, "no DTB");
        assert_eq!(vcpu.run().map_err(|e| e.errno), want, "{generation}");
    }
}

#[test]
fn test_injected_start_fault_is_init_failed() {
    let mut hyp = MockHypervisor::new();
    hyp.inject_fault("GH_VM_START", Errno::EIO).unwrap();
    assert!(hyp.inject_fault("GH_NOT_AN_IOCTL", Errno::EIO).is_err());
    let vm = hyp.create_vm().unwrap();
    vm.set_user_memory(&region(0, 0, 4 * PAGE), ShareMode::Share)
        .unwrap();
    vm.set_dtb_config(GuestRange {
        guest_phys_addr: 0,
        size: PAGE,
    })
    .unwrap();
    let err = vm.start().unwrap_err();
    assert_eq!(
        (err.call, err.errno),
        (DriverIoctl::Start.into(), Errno::EIO)
    );
    assert_eq!(errno(vm.start()), Errno::ENODEV, "INIT_FAILED is final");
}

/// A vCPU waiting on a doorbell sleeps until something happens: no wake-up in 200 ms of
/// waiting (polling in 10 ms slices gave about 20), and a kick ends the wait (how fast is
/// gunyah-bench's teardown_waiting_ms).
#[test]
fn test_doorbell_wait_sleeps_until_kicked() {
    use std::os::unix::fs::FileExt;
    let hyp = MockHypervisor::new();
    let vm = hyp.create_vm().unwrap();
    let (memory, mapping) = gunyah_sys::memfd::mapped("doorbell", 4 * PAGE).unwrap();
    let mapping = Arc::new(mapping);
    let program = gunyah_guest::asm::assemble("again: wait 1\n jmp again\n", 0).unwrap();
    memory.write_all_at(&program, 0).unwrap();
    vm.set_user_memory(&ram(&mapping), ShareMode::Share)
        .unwrap();
    vm.set_dtb_config(GuestRange {
        guest_phys_addr: 3 * PAGE,
        size: PAGE,
    })
    .unwrap();
    let mut vcpu = vm.add_vcpu(0).unwrap();
    vm.start().unwrap();
    let kicker = vcpu.kicker();
    let t = std::thread::spawn(move || vcpu.run().map_err(|e| e.errno));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(hyp.idle_wakeups(), 0, "woke with nothing to do");
    kicker.kick();
    assert_eq!(t.join().unwrap(), Err(Errno::EINTR));
    assert_eq!(hyp.idle_wakeups(), 0, "the kick was an event");
}
