//! The a14 semantics table: checks in the driver's order, errno for errno.

use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::{
    ensure, expect_errno, expect_ok, has_boot_context, ioeventfd_at, irqfd_on, later, Case, Outcome,
};
use gunyah_hypervisor::{
    BootReg, BootRegSet, Extension, Function, Generation, GuestRange, Hypervisor, MemAccess,
    ShareMode, UserMemoryRegion, VmBackend,
};

const PAGE: u64 = 4096;
const RW: MemAccess = MemAccess::READ_WRITE;

/// A region of real memory (a fresh anonymous memfd mapping), so a device can pin it.
pub(super) struct Backing {
    file: std::fs::File,
    mapping: gunyah_sys::mman::SharedMapping,
}

impl Backing {
    pub fn new(size: u64) -> Result<Backing, String> {
        let (file, mapping) =
            gunyah_sys::memfd::mapped("conformance", size).map_err(|e| e.to_string())?;
        Ok(Backing { file, mapping })
    }

    /// Writes `bytes` at `offset` (seen through the mapping).
    pub fn write(&self, offset: u64, bytes: &[u8]) -> Result<(), String> {
        gunyah_sys::memfd::write_at(&self.file, offset, bytes).map_err(|e| e.to_string())
    }

    pub fn region(&self, label: u32, gpa: u64) -> UserMemoryRegion {
        UserMemoryRegion {
            label,
            access: RW,
            guest_phys_addr: gpa,
            size: self.mapping.len() as u64,
            userspace_addr: self.mapping.addr(),
        }
    }
}

fn memory_checks(hyp: &dyn Hypervisor, mode: ShareMode) -> Outcome {
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let mem = Backing::new(16 * PAGE)?;
    let base = mem.region(0, 0x8000_0000);
    let with = |f: &dyn Fn(&mut UserMemoryRegion)| {
        let mut r = base;
        f(&mut r);
        r
    };
    expect_errno(
        "size 0",
        vm.set_user_memory(&with(&|r| r.size = 0), mode),
        Errno::EINVAL,
    )?;
    expect_errno(
        "unaligned size",
        vm.set_user_memory(&with(&|r| r.size = PAGE + 1), mode),
        Errno::EINVAL,
    )?;
    expect_errno(
        "unaligned gpa",
        vm.set_user_memory(&with(&|r| r.guest_phys_addr += 8), mode),
        Errno::EINVAL,
    )?;
    expect_errno(
        "unaligned userspace_addr",
        vm.set_user_memory(&with(&|r| r.userspace_addr += 8), mode),
        Errno::EINVAL,
    )?;
    expect_errno(
        "gpa + size overflows",
        vm.set_user_memory(&with(&|r| r.guest_phys_addr = u64::MAX - PAGE + 1), mode),
        Errno::EOVERFLOW,
    )?;
    expect_ok("a valid region", vm.set_user_memory(&base, mode))?;
    let other = Backing::new(PAGE)?;
    // Labels are unique in a14 only; the later drivers check overlap alone.
    let duplicate_label = vm.set_user_memory(&other.region(0, 0x9000_0000), mode);
    if later(hyp) {
        expect_ok("duplicate label, other range", duplicate_label)?;
    } else {
        expect_errno("duplicate label", duplicate_label, Errno::EEXIST)?;
    }
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
        userspace_addr: 0xffff_ffff_fff0_0000,
        ..Backing::new(PAGE)?.region(2, 0xa000_0000)
    };
    // a14 pins at the ioctl, so memory the caller has not mapped fails there; the later
    // drivers record a binding only and pin when the guest touches a page (see the guest case
    // "guest/unmapped-memory-faults-at-first-touch").
    let unmapped = vm.set_user_memory(&gone, mode);
    if later(hyp) {
        expect_ok(
            "memory the caller has not mapped (pinned at first touch)",
            unmapped,
        )?;
    } else {
        expect_errno("memory the caller has not mapped", unmapped, Errno::EFAULT)?;
    }
    Ok(())
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
    expect_errno(
        "START with the DTB outside every region",
        vm.start(),
        if later(hyp) {
            Errno::ENOENT
        } else {
            Errno::EINVAL
        },
    )?;
    expect_errno("START after a failed START", vm.start(), Errno::ENODEV)?;
    Ok(())
}

fn start_idempotent(hyp: &dyn Hypervisor) -> Outcome {
    let (vm, _mem) = vm_with_ram(hyp)?;
    // a14 rounds a DTB of 100 bytes up to a page, which still fits (the later drivers would
    // make it zero pages: see dtb_under_a_page).
    expect_ok(
        "dtb",
        vm.set_dtb_config(GuestRange {
            guest_phys_addr: 0x8000_0000 + 3 * PAGE,
            size: if later(hyp) { PAGE } else { 100 },
        }),
    )?;
    // a14 has no SET_BOOT_CONTEXT at all: ENOTTY before and after START.
    let boot = has_boot_context(hyp);
    let before = vm.set_boot_context(BootReg::PC, 0x8000_0000);
    if boot {
        expect_ok("boot context before START", before)?;
    } else {
        expect_errno("boot context (a14: none)", before, Errno::ENOTTY)?;
    }
    expect_ok("START", vm.start())?;
    expect_ok("START again while running", vm.start())?;
    expect_errno(
        "boot context after START",
        vm.set_boot_context(
            BootReg {
                set: BootRegSet::X,
                index: 0,
            },
            1,
        ),
        if boot { Errno::EINVAL } else { Errno::ENOTTY },
    )?;
    Ok(())
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
    if later(hyp) {
        expect_errno("START with zero DTB pages", vm.start(), Errno::EINVAL)
    } else {
        expect_ok("START", vm.start())
    }
}

/// GH_VM_CHECK_EXTENSION: the newest driver answers 1 for GH_CAP_VCPU_TIMER_WAKEUP; every
/// other generation has no such ioctl (ENOTTY).
fn check_extension(hyp: &dyn Hypervisor) -> Outcome {
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let answer = vm.check_extension(Extension::VcpuTimerWakeup);
    if hyp.capabilities().generation == Generation::AckNewest {
        let has = expect_ok("CHECK_EXTENSION(VCPU_TIMER_WAKEUP)", answer)?;
        ensure!(has, "the newest driver has GH_CAP_VCPU_TIMER_WAKEUP");
        Ok(())
    } else {
        expect_errno(
            "CHECK_EXTENSION (not this generation)",
            answer,
            Errno::ENOTTY,
        )
    }
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
    // Without datamatch at an address that has handlers: a14 takes it (only exact duplicates
    // collide); the later drivers refuse it, as any handler without datamatch collides.
    let any_size = vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(addr, 0, None));
    if later(hyp) {
        expect_errno("same addr, any size", any_size, Errno::EEXIST)?;
        expect_ok(
            "any size at a free address",
            vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(addr + 8, 4, None)),
        )?;
        expect_errno(
            "datamatch where one without is",
            vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(addr + 8, 4, Some(1))),
            Errno::EEXIST,
        )?;
    } else {
        expect_ok("same addr, any size", any_size)?;
    }
    Ok(())
}

/// REMOVE_FUNCTION (GUNYAH_LATER_GENERATIONS §4.2). Early a14 compares the whole argument,
/// the fd number included, and answers 0 whether or not anything matched. The later drivers
/// compare a key per type (an irqfd's label; an ioeventfd's address, length and datamatch),
/// ignore the fd, and answer ENOENT when nothing matched. Late a14 answers ENOENT too and finds
/// an ioeventfd by its address alone; how it compares irqfds is not known, so only what holds
/// either way is checked there (removing with the very arguments it was added with).
fn remove_function(hyp: &dyn Hypervisor) -> Outcome {
    let generation = hyp.capabilities().generation;
    let expect_miss = |what: &str, result| {
        if generation == Generation::A14Early {
            expect_ok(what, result)
        } else {
            expect_errno(what, result, Errno::ENOENT)
        }
    };
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let fd = eventfd()?;
    expect_ok("irqfd", vm.add_irqfd(fd.as_fd(), irqfd_on(3, false)))?;
    expect_miss(
        "REMOVE_FUNCTION of another label",
        vm.remove_function(fd.as_fd(), Function::Irqfd(irqfd_on(4, false))),
    )?;
    expect_errno(
        "label still bound",
        vm.add_irqfd(eventfd()?.as_fd(), irqfd_on(3, false)),
        Errno::EEXIST,
    )?;
    if generation == Generation::A14Early {
        let other = eventfd()?;
        expect_ok(
            "REMOVE_FUNCTION from another fd (no match)",
            vm.remove_function(other.as_fd(), Function::Irqfd(irqfd_on(3, false))),
        )?;
        expect_errno(
            "early a14 compares the fd: label still bound",
            vm.add_irqfd(eventfd()?.as_fd(), irqfd_on(3, false)),
            Errno::EEXIST,
        )?;
    }
    if later(hyp) {
        let other = eventfd()?;
        expect_ok(
            "REMOVE_FUNCTION by label, from another fd",
            vm.remove_function(other.as_fd(), Function::Irqfd(irqfd_on(3, false))),
        )?;
    } else {
        expect_ok(
            "REMOVE_FUNCTION with the fd it was added with",
            vm.remove_function(fd.as_fd(), Function::Irqfd(irqfd_on(3, false))),
        )?;
    }
    expect_ok(
        "label free again",
        vm.add_irqfd(eventfd()?.as_fd(), irqfd_on(3, false)),
    )?;
    let ioe = eventfd()?;
    let added = ioeventfd_at(0x9000_0000, 4, None);
    expect_ok("ioeventfd", vm.add_ioeventfd(ioe.as_fd(), added))?;
    let other_length = vm.remove_function(
        ioe.as_fd(),
        Function::Ioeventfd(ioeventfd_at(0x9000_0000, 0, None)),
    );
    if generation == Generation::A14Late {
        expect_ok(
            "late a14: REMOVE_FUNCTION(ioeventfd) by address",
            other_length,
        )?;
    } else {
        expect_miss("REMOVE_FUNCTION(ioeventfd) of another length", other_length)?;
        expect_ok(
            "REMOVE_FUNCTION(ioeventfd)",
            vm.remove_function(ioe.as_fd(), Function::Ioeventfd(added)),
        )?;
    }
    expect_ok("ioeventfd again", vm.add_ioeventfd(ioe.as_fd(), added))?;
    // Two ioeventfds at one address, told apart by their data: removing one removes exactly
    // it, except on late a14, whose address-only compare takes both.
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
    let eight_again = vm.add_ioeventfd(eventfd()?.as_fd(), ioeventfd_at(at, 4, Some(8)));
    if generation == Generation::A14Late {
        expect_ok("late a14: datamatch 8 went too", eight_again)?;
    } else {
        expect_errno("datamatch 8 still bound", eight_again, Errno::EEXIST)?;
    }
    Ok(())
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
            name: "table/start-dtb-outside-is-init-failed",
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
    ]
}
