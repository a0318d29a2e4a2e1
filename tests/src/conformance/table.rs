//! The a14 semantics table: checks in the driver's order, errno for errno.

use std::os::fd::AsFd;
use std::sync::Arc;

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::{ensure, expect, expect_errno, expect_ok, ioeventfd_at, irqfd_on, Case, Outcome};
use gunyah_hypervisor::{
    BootReg, BootRegSet, Extension, Function, GuestRange, Hypervisor, MemAccess, ShareMode,
    UserMemory, UserMemoryRegion, VcpuExit, VmBackend, VmStatus,
};
use gunyah_sys::mman::SharedMapping;

const PAGE: u64 = 4096;
const RW: MemAccess = MemAccess::READ_WRITE;

/// A region of real memory (a fresh anonymous memfd mapping), so a device can pin it.
pub(super) struct Backing {
    file: std::fs::File,
    mapping: Arc<SharedMapping>,
}

impl Backing {
    pub fn new(size: u64) -> Result<Backing, String> {
        let (file, mapping) =
            gunyah_sys::memfd::mapped("conformance", size).map_err(|e| e.to_string())?;
        Ok(Backing {
            file,
            mapping: Arc::new(mapping),
        })
    }

    /// Writes `bytes` at `offset` (seen through the mapping).
    pub fn write(&self, offset: u64, bytes: &[u8]) -> Result<(), String> {
        gunyah_sys::memfd::write_at(&self.file, offset, bytes).map_err(|e| e.to_string())
    }

    /// All of the memory, as a region at `gpa` the guest may read and write.
    pub fn region(&self, label: u32, gpa: u64) -> UserMemoryRegion {
        UserMemoryRegion {
            label,
            access: RW,
            guest_phys_addr: gpa,
            memory: UserMemory::of(self.mapping.clone()),
        }
    }

    /// `len` bytes at `offset` of the memory.
    pub fn part(&self, offset: u64, len: u64) -> Result<UserMemory, String> {
        UserMemory::within(self.mapping.clone(), offset, len)
            .ok_or_else(|| format!("{len} bytes at {offset} do not fit the mapping"))
    }
}

fn memory_checks(hyp: &dyn Hypervisor, mode: ShareMode) -> Outcome {
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let mem = Backing::new(16 * PAGE)?;
    let base = mem.region(0, 0x8000_0000);
    let with = |f: &dyn Fn(&mut UserMemoryRegion)| {
        let mut r = base.clone();
        f(&mut r);
        r
    };
    let memory = |offset: u64, len: u64| -> Result<UserMemoryRegion, String> {
        Ok(UserMemoryRegion {
            memory: mem.part(offset, len)?,
            ..base.clone()
        })
    };
    expect_errno(
        "size 0",
        vm.set_user_memory(&memory(0, 0)?, mode),
        Errno::EINVAL,
    )?;
    expect_errno(
        "unaligned size",
        vm.set_user_memory(&memory(0, PAGE + 1)?, mode),
        Errno::EINVAL,
    )?;
    expect_errno(
        "unaligned gpa",
        vm.set_user_memory(&with(&|r| r.guest_phys_addr += 8), mode),
        Errno::EINVAL,
    )?;
    expect_errno(
        "unaligned userspace_addr",
        vm.set_user_memory(&memory(8, PAGE)?, mode),
        Errno::EINVAL,
    )?;
    expect_errno(
        "gpa + size overflows",
        vm.set_user_memory(&with(&|r| r.guest_phys_addr = u64::MAX - PAGE + 1), mode),
        Errno::EOVERFLOW,
    )?;
    expect_ok("a valid region", vm.set_user_memory(&base, mode))?;
    let other = Backing::new(PAGE)?;
    let generation = hyp.capabilities().generation;
    // Labels are unique in a14 only; the later drivers check overlap alone.
    expect::call(
        "memory/duplicate-label",
        generation,
        vm.set_user_memory(&other.region(0, 0x9000_0000), mode),
    )?;
    expect_errno(
        "overlapping range",
        vm.set_user_memory(&other.region(1, 0x8000_0000 + 15 * PAGE), mode),
        Errno::EEXIST,
    )?;
    expect_ok(
        "an adjacent range",
        vm.set_user_memory(&other.region(1, 0x8000_0000 + 16 * PAGE), mode),
    )?;
    // Valid in every field, but nothing can be mapped there (the kernel's half of the address
    // space): pinning fails. (A mapping made and dropped here could be reused at once by
    // another test thread's mmap.)
    let gone = UserMemoryRegion {
        memory: UserMemory::unmappable(0xffff_ffff_fff0_0000, PAGE).ok_or("a kernel address")?,
        ..Backing::new(PAGE)?.region(2, 0xa000_0000)
    };
    // a14 pins at the ioctl, so memory the caller has not mapped fails there; the later
    // drivers record a binding only and pin when the guest touches a page (see the guest case
    // "guest/unmapped-memory-faults-at-first-touch").
    expect::call(
        "memory/not-mapped-by-the-caller",
        generation,
        vm.set_user_memory(&gone, mode),
    )
}

/// A new VM with four pages of RAM at 0x8000_0000 (keep the `Backing` while the VM lives).
fn vm_with_ram(hyp: &dyn Hypervisor) -> Result<(Box<dyn VmBackend>, Backing), String> {
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let mem = Backing::new(4 * PAGE)?;
    expect_ok(
        "region",
        vm.set_user_memory(&mem.region(0, 0x8000_0000), ShareMode::Share),
    )?;
    Ok((vm, mem))
}

/// The DTB in the last page of `vm_with_ram`'s RAM.
fn dtb_in_ram(vm: &dyn VmBackend) -> Outcome {
    expect_ok(
        "dtb",
        vm.set_dtb_config(GuestRange {
            guest_phys_addr: 0x8000_0000 + 3 * PAGE,
            size: PAGE,
        }),
    )
}

fn start_checks(hyp: &dyn Hypervisor) -> Outcome {
    // DTB outside every region: START fails (a14 EINVAL, later drivers ENOENT), and the VM is
    // INIT_FAILED for good.
    let (vm, _mem) = vm_with_ram(hyp)?;
    expect_ok(
        "dtb",
        vm.set_dtb_config(GuestRange {
            guest_phys_addr: 0x9000_0000,
            size: PAGE,
        }),
    )?;
    let mut vcpu = expect_ok("add vCPU 0", vm.add_vcpu(0))?;
    let generation = hyp.capabilities().generation;
    expect::call("start/dtb-in-no-region", generation, vm.start())?;
    expect_errno("START after a failed START", vm.start(), Errno::ENODEV)?;
    // RUN once START failed: a14 reports the failed load; the later drivers have no
    // hypervisor resource for the vCPU.
    let seen = match vcpu.run() {
        Ok(VcpuExit::Status(VmStatus::LoadFailed)) => "status:load-failed".to_string(),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("{:?}", e.errno),
    };
    expect::observed("run/after-a-failed-start", generation, &seen)
}

fn start_idempotent(hyp: &dyn Hypervisor) -> Outcome {
    let (vm, _mem) = vm_with_ram(hyp)?;
    let generation = hyp.capabilities().generation;
    dtb_in_ram(vm.as_ref())?;
    // a14 has no SET_BOOT_CONTEXT at all: ENOTTY before and after START.
    expect::call(
        "boot-context/before-start",
        generation,
        vm.set_boot_context(BootReg::PC, 0x8000_0000),
    )?;
    expect_ok("START", vm.start())?;
    expect_ok("START again while running", vm.start())?;
    expect::call(
        "boot-context/after-start",
        generation,
        vm.set_boot_context(
            BootReg {
                set: BootRegSet::X,
                index: 0,
            },
            1,
        ),
    )
}

/// A DTB of 100 bytes: a14 rounds it up to a page and starts; the later drivers share
/// `size >> PAGE_SHIFT` pages, zero, and START fails with EINVAL.
fn dtb_under_a_page(hyp: &dyn Hypervisor) -> Outcome {
    let (vm, _mem) = vm_with_ram(hyp)?;
    expect_ok(
        "dtb of 100 bytes",
        vm.set_dtb_config(GuestRange {
            guest_phys_addr: 0x8000_0000,
            size: 100,
        }),
    )?;
    expect::call(
        "start/dtb-under-a-page",
        hyp.capabilities().generation,
        vm.start(),
    )
}

/// GH_VM_CHECK_EXTENSION: the newest driver answers 1 for GH_CAP_VCPU_TIMER_WAKEUP; every
/// other generation has no such ioctl (ENOTTY).
fn check_extension(hyp: &dyn Hypervisor) -> Outcome {
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let case = "check-extension/vcpu-timer-wakeup";
    let seen = match vm.check_extension(Extension::VcpuTimerWakeup) {
        Ok(has) => u8::from(has).to_string(),
        Err(e) => format!("{:?}", e.errno),
    };
    expect::observed(case, hyp.capabilities().generation, &seen)
}

fn dtb_overflow(hyp: &dyn Hypervisor) -> Outcome {
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    expect_errno(
        "dtb gpa + size overflows",
        vm.set_dtb_config(GuestRange {
            guest_phys_addr: u64::MAX,
            size: 2,
        }),
        Errno::EOVERFLOW,
    )
}

fn vcpu_checks(hyp: &dyn Hypervisor) -> Outcome {
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let mut vcpu = expect_ok("add vCPU 0", vm.add_vcpu(0))?;
    expect_errno("duplicate vCPU id", vm.add_vcpu(0).map(drop), Errno::EEXIST)?;
    expect_errno("RUN before START", vcpu.run(), Errno::ENODEV)?;
    ensure!(vcpu.id() == 0, "vCPU id");
    Ok(())
}

fn eventfd() -> Result<std::os::fd::OwnedFd, String> {
    EventFd::from_flags(EfdFlags::EFD_CLOEXEC)
        .map(Into::into)
        .map_err(|e| e.to_string())
}

fn irqfd_checks(hyp: &dyn Hypervisor) -> Outcome {
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let fd = eventfd()?;
    let not_eventfd = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
    expect_errno(
        "irqfd on a non-eventfd",
        vm.add_irqfd(not_eventfd.as_fd(), irqfd_on(1, false)),
        Errno::EINVAL,
    )?;
    expect_ok("irqfd", vm.add_irqfd(fd.as_fd(), irqfd_on(1, false)))?;
    expect_errno(
        "duplicate irqfd label",
        vm.add_irqfd(eventfd()?.as_fd(), irqfd_on(1, true)),
        Errno::EEXIST,
    )?;
    expect_ok(
        "level-triggered irqfd",
        vm.add_irqfd(eventfd()?.as_fd(), irqfd_on(2, true)),
    )?;
    Ok(())
}

fn ioeventfd_checks(hyp: &dyn Hypervisor) -> Outcome {
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let fd = eventfd()?;
    let addr = 0x9000_0000;
    expect_errno(
        "ioeventfd len 3",
        vm.add_ioeventfd(fd.as_fd(), ioeventfd_at(addr, 3, None)),
        Errno::EINVAL,
    )?;
    expect_errno(
        "len 0 with DATAMATCH",
        vm.add_ioeventfd(fd.as_fd(), ioeventfd_at(addr, 0, Some(7))),
        Errno::EINVAL,
    )?;
    expect_errno(
        "addr + len overflows",
        vm.add_ioeventfd(fd.as_fd(), ioeventfd_at(u64::MAX - 1, 4, None)),
        Errno::EINVAL,
    )?;
    let not_eventfd = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
    expect_errno(
        "ioeventfd on a non-eventfd",
        vm.add_ioeventfd(not_eventfd.as_fd(), ioeventfd_at(addr, 4, None)),
        Errno::EINVAL,
    )?;
    expect_ok(
        "ioeventfd",
        vm.add_ioeventfd(fd.as_fd(), ioeventfd_at(addr, 4, Some(7))),
    )?;
    expect_errno(
        "same addr, len and datamatch",
        vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(addr, 4, Some(7))),
        Errno::EEXIST,
    )?;
    expect_ok(
        "same addr, other datamatch",
        vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(addr, 4, Some(8))),
    )?;
    // Without datamatch, an ioeventfd keeps no length and equals every other at its address
    // (the driver's rb-tree compare, in every generation).
    let generation = hyp.capabilities().generation;
    expect::call(
        "ioeventfd/no-datamatch-where-datamatch-is",
        generation,
        vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(addr, 0, None)),
    )?;
    expect_ok(
        "no datamatch at a free address",
        vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(addr + 8, 4, None)),
    )?;
    expect::call(
        "ioeventfd/datamatch-where-no-datamatch-is",
        generation,
        vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(addr + 8, 4, Some(1))),
    )?;
    expect::call(
        "ioeventfd/no-datamatch-other-length",
        generation,
        vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(addr + 8, 2, None)),
    )
}

/// Whether `label` is free (a new irqfd on it binds) or still bound (EEXIST); a new binding
/// made to find out is removed again with the arguments it was added with.
fn irqfd_label_state(vm: &dyn VmBackend, label: u32) -> Result<&'static str, String> {
    let probe = eventfd()?;
    match vm.add_irqfd(probe.as_fd(), irqfd_on(label, false)) {
        Ok(()) => {
            expect_ok(
                "unbind the probe irqfd",
                vm.remove_function(probe.as_fd(), Function::Irqfd(irqfd_on(label, false))),
            )?;
            Ok("removed")
        }
        Err(e) if e.errno == Errno::EEXIST => Ok("kept"),
        Err(e) => Err(format!("irqfd on label {label}: {e}")),
    }
}

/// What a REMOVE_FUNCTION did, as the table words it: its errno, or (answering 0) whether the
/// function it named is gone, as `is_gone` finds out.
fn removal(
    result: gunyah_hypervisor::HypResult<()>,
    is_gone: impl FnOnce() -> Result<bool, String>,
) -> Result<String, String> {
    match result {
        Err(e) => Ok(format!("{:?}", e.errno)),
        Ok(()) => Ok(if is_gone()? { "removed" } else { "kept" }.to_string()),
    }
}

/// REMOVE_FUNCTION of irqfds and ioeventfds: which compare finds a function (the whole
/// argument on early a14; a key per type later, the fd ignored), and what no match answers.
fn remove_function(hyp: &dyn Hypervisor) -> Outcome {
    let generation = hyp.capabilities().generation;
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let fd = eventfd()?;
    expect_ok("irqfd", vm.add_irqfd(fd.as_fd(), irqfd_on(3, false)))?;
    expect::call(
        "remove/irqfd-other-label",
        generation,
        vm.remove_function(fd.as_fd(), Function::Irqfd(irqfd_on(4, false))),
    )?;
    ensure!(
        irqfd_label_state(vm.as_ref(), 3)? == "kept",
        "label 3 was unbound by a REMOVE_FUNCTION of label 4"
    );
    let other = eventfd()?;
    // The result is the table's word for what happened; a14-late answers either way.
    let _ = vm.remove_function(other.as_fd(), Function::Irqfd(irqfd_on(3, false)));
    let state = irqfd_label_state(vm.as_ref(), 3)?;
    expect::observed("remove/irqfd-by-label-from-another-fd", generation, state)?;
    if state == "kept" {
        expect_ok(
            "REMOVE_FUNCTION with the fd it was added with",
            vm.remove_function(fd.as_fd(), Function::Irqfd(irqfd_on(3, false))),
        )?;
        ensure!(
            irqfd_label_state(vm.as_ref(), 3)? == "removed",
            "REMOVE_FUNCTION with the irqfd's own arguments left it bound"
        );
    }

    let ioe = eventfd()?;
    let added = ioeventfd_at(0x9000_0000, 4, None);
    expect_ok("ioeventfd", vm.add_ioeventfd(ioe.as_fd(), added))?;
    let other_length = vm.remove_function(
        ioe.as_fd(),
        Function::Ioeventfd(ioeventfd_at(0x9000_0000, 0, None)),
    );
    let seen = removal(other_length, || {
        match vm.add_ioeventfd(ioe.as_fd(), added) {
            Ok(()) => Ok(true),
            Err(e) if e.errno == Errno::EEXIST => Ok(false),
            Err(e) => Err(format!("ioeventfd again: {e}")),
        }
    })?;
    expect::observed("remove/ioeventfd-other-length", generation, &seen)?;

    // Two ioeventfds at one address, told apart by their data: removing one.
    let (seven, eight) = (eventfd()?, eventfd()?);
    let at = 0x9000_1000;
    expect_ok(
        "ioeventfd datamatch 7",
        vm.add_ioeventfd(seven.as_fd(), ioeventfd_at(at, 4, Some(7))),
    )?;
    expect_ok(
        "ioeventfd datamatch 8",
        vm.add_ioeventfd(eight.as_fd(), ioeventfd_at(at, 4, Some(8))),
    )?;
    expect_ok(
        "REMOVE_FUNCTION(datamatch 7)",
        vm.remove_function(
            seven.as_fd(),
            Function::Ioeventfd(ioeventfd_at(at, 4, Some(7))),
        ),
    )?;
    let took = match vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(at, 4, Some(8))) {
        Ok(()) => "both",
        Err(e) if e.errno == Errno::EEXIST => "one",
        Err(e) => return Err(format!("ioeventfd datamatch 8 again: {e}")),
    };
    expect::observed("remove/ioeventfd-one-of-two-datamatches", generation, took)
}

/// REMOVE_FUNCTION of a vCPU of a running VM: found by id; its fd stays open, but RUN on it
/// answers ENODEV (where it would otherwise run: this VM has no guest program, so a RUN would
/// report the failed load). A vCPU the VM does not have: what no match answers.
fn remove_vcpu(hyp: &dyn Hypervisor) -> Outcome {
    let generation = hyp.capabilities().generation;
    let (vm, _mem) = vm_with_ram(hyp)?;
    let mut vcpu = expect_ok("add vCPU 0", vm.add_vcpu(0))?;
    dtb_in_ram(vm.as_ref())?;
    expect_ok("START", vm.start())?;
    let any_fd = eventfd()?;
    expect::call(
        "remove/absent-vcpu",
        generation,
        vm.remove_function(any_fd.as_fd(), Function::Vcpu(7)),
    )?;
    expect::call(
        "remove/vcpu",
        generation,
        vm.remove_function(any_fd.as_fd(), Function::Vcpu(0)),
    )?;
    expect::call("remove/vcpu-then-run", generation, vcpu.run())
}

pub(super) fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "table/check-extension-per-generation",
            run: check_extension,
        },
        Case {
            name: "table/dtb-under-a-page-per-generation",
            run: dtb_under_a_page,
        },
        Case {
            name: "table/memory-share-checks",
            run: |h| memory_checks(h, ShareMode::Share),
        },
        Case {
            name: "table/memory-lend-checks",
            run: |h| memory_checks(h, ShareMode::Lend),
        },
        Case {
            name: "table/start-dtb-outside-is-init-failed-then-run",
            run: start_checks,
        },
        Case {
            name: "table/start-idempotent-boot-context-closed",
            run: start_idempotent,
        },
        Case {
            name: "table/dtb-overflow",
            run: dtb_overflow,
        },
        Case {
            name: "table/vcpu-duplicate-and-run-before-start",
            run: vcpu_checks,
        },
        Case {
            name: "table/irqfd-checks",
            run: irqfd_checks,
        },
        Case {
            name: "table/ioeventfd-checks",
            run: ioeventfd_checks,
        },
        Case {
            name: "table/remove-function-per-generation",
            run: remove_function,
        },
        Case {
            name: "table/remove-vcpu-per-generation",
            run: remove_vcpu,
        },
    ]
}
