//! End-to-end guest scenarios: scripted-guest programs (docs/GUEST_ISA.md) run on the driver,
//! and their exits checked exactly.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::expect::Expect;
use super::table::Backing;
use super::{ensure, expect, expect_ok, ioeventfd_at, irqfd_on, Case, Outcome};
use gunyah_guest::asm::assemble;
use gunyah_hypervisor::{
    GuestRange, Hypervisor, MemAccess, MmioResumeAction, ShareMode, UserMemory, UserMemoryRegion,
    VcpuBackend, VcpuExit, VmBackend, VmStatus,
};

const RAM: u64 = 0x8000_0000;
const RAM_SIZE: u64 = 1 << 20;

pub(super) struct Booted {
    pub vm: Box<dyn VmBackend>,
    pub vcpus: Vec<Box<dyn VcpuBackend>>,
    _ram: Backing,
}

/// A VM with 1 MiB of RAM at `RAM` holding `program` at its start (the entry point), the DTB
/// in the last page, `vcpus` vCPUs, `setup` applied, then started.
pub(super) fn boot(
    hyp: &dyn Hypervisor,
    program: &str,
    vcpus: u32,
    setup: impl FnOnce(&dyn VmBackend, &Backing) -> Outcome,
) -> Result<Booted, String> {
    let vm = expect_ok("create_vm", hyp.create_vm())?;
    let ram = Backing::new(RAM_SIZE)?;
    ram.write(0, &assemble(program, RAM).map_err(|e| e.to_string())?)?;
    expect_ok(
        "region",
        vm.set_user_memory(&ram.region(0, RAM), ShareMode::Share),
    )?;
    let vcpus = (0..vcpus)
        .map(|id| expect_ok("add_vcpu", vm.add_vcpu(id)))
        .collect::<Result<Vec<_>, _>>()?;
    setup(vm.as_ref(), &ram)?;
    expect_ok(
        "dtb",
        vm.set_dtb_config(GuestRange {
            guest_phys_addr: RAM + RAM_SIZE - 4096,
            size: 4096,
        }),
    )?;
    expect_ok("START", vm.start())?;
    Ok(Booted {
        vm,
        vcpus,
        _ram: ram,
    })
}

fn run(vcpu: &mut Box<dyn VcpuBackend>) -> Result<VcpuExit, String> {
    expect_ok("RUN", vcpu.run())
}

fn expect_exit(got: VcpuExit, want: VcpuExit) -> Outcome {
    ensure!(got == want, "expected {want:?}, got {got:?}");
    Ok(())
}

fn hello(hyp: &dyn Hypervisor) -> Outcome {
    let src = "mov r1, msg\nnext: load1 r0, [r1]\njz r0, done\nstore1 [0x90000000], r0\nadd r1, 1\njmp next\n\
               done: exit PSCI_POWER_OFF, \"ok\"\nmsg: .asciz \"Hi\"";
    let mut b = boot(hyp, src, 1, |_, _| Ok(()))?;
    for byte in b"Hi" {
        expect_exit(
            run(&mut b.vcpus[0])?,
            VcpuExit::Mmio {
                phys_addr: 0x9000_0000,
                len: 1,
                write: Some(u64::from(*byte)),
            },
        )?;
    }
    let stopped = VcpuExit::Status(VmStatus::Exited {
        exit_type: 1,
        reason: b"ok".to_vec(),
    });
    expect_exit(run(&mut b.vcpus[0])?, stopped.clone())?;
    // Every later RUN returns the same status at once.
    expect_exit(run(&mut b.vcpus[0])?, stopped)
}

fn mmio_read(hyp: &dyn Hypervisor) -> Outcome {
    let mut b = at_mmio_read(hyp)?;
    // Bytes beyond the access size do not reach the guest.
    b.vcpus[0].set_mmio_read_data(0x1111_2222_0000_abcd);
    expect_exit(
        run(&mut b.vcpus[0])?,
        VcpuExit::Status(VmStatus::Exited {
            exit_type: 0,
            reason: b"good".to_vec(),
        }),
    )
}

fn eventfd() -> Result<OwnedFd, String> {
    EventFd::from_flags(EfdFlags::EFD_CLOEXEC)
        .map(Into::into)
        .map_err(|e| e.to_string())
}

fn doorbell(hyp: &dyn Hypervisor) -> Outcome {
    let irq = eventfd()?;
    let ioe = eventfd()?;
    let mut b = boot(
        hyp,
        "wait 1\nstore4 [0x90001000], 9\nstore4 [0x90001000], 10\nexit VM_EXIT",
        1,
        |vm, _| {
            expect_ok("irqfd", vm.add_irqfd(irq.as_fd(), irqfd_on(1, false)))?;
            // Matches only the value 9: the second write is an ordinary MMIO exit.
            expect_ok(
                "ioeventfd",
                vm.add_ioeventfd(ioe.as_fd(), ioeventfd_at(0x9000_1000, 4, Some(9))),
            )
        },
    )?;
    let mut vcpu = b.vcpus.remove(0);
    let runner = std::thread::spawn(move || vcpu.run().map(|exit| (exit, vcpu)));
    std::thread::sleep(Duration::from_millis(50));
    nix::unistd::write(&irq, &1u64.to_ne_bytes()).map_err(|e| e.to_string())?;
    let mut fds = [PollFd::new(ioe.as_fd(), PollFlags::POLLIN)];
    let ready = poll(&mut fds, PollTimeout::from(5000u16)).map_err(|e| e.to_string())?;
    ensure!(ready == 1, "the guest's write did not signal the ioeventfd");
    let mut count = [0u8; 8];
    gunyah_sys::fd::read(ioe.as_fd(), &mut count).map_err(|e| e.to_string())?;
    let (exit, mut vcpu) = runner
        .join()
        .map_err(|_| "vCPU thread panicked")?
        .map_err(|e| e.to_string())?;
    expect_exit(
        exit,
        VcpuExit::Mmio {
            phys_addr: 0x9000_1000,
            len: 4,
            write: Some(10),
        },
    )?;
    expect_exit(
        run(&mut vcpu)?,
        VcpuExit::Status(VmStatus::Exited {
            exit_type: 0,
            reason: vec![],
        }),
    )
}

fn stops_with(
    hyp: &dyn Hypervisor,
    program: &str,
    boot_pc: Option<u64>,
    status: VmStatus,
) -> Outcome {
    let generation = hyp.capabilities().generation;
    if boot_pc.is_some() && expect::of("boot-context/before-start", generation) != Expect::Ok {
        // a14: no boot registers, so there is no entry point to get wrong.
        let vm = expect_ok("create_vm", hyp.create_vm())?;
        return expect::call(
            "boot-context/before-start",
            generation,
            vm.set_boot_context(gunyah_hypervisor::BootReg::PC, RAM),
        );
    }
    let mut b = boot(hyp, program, 1, |vm, _| match boot_pc {
        Some(pc) => expect_ok(
            "boot PC",
            vm.set_boot_context(gunyah_hypervisor::BootReg::PC, pc),
        ),
        None => Ok(()),
    })?;
    expect_exit(run(&mut b.vcpus[0])?, VcpuExit::Status(status))
}

fn kick(hyp: &dyn Hypervisor) -> Outcome {
    let mut b = boot(hyp, "idle", 1, |_, _| Ok(()))?;
    let mut vcpu = b.vcpus.remove(0);
    let kicker = vcpu.kicker();
    let runner = std::thread::spawn(move || vcpu.run().map_err(|e| e.errno));
    std::thread::sleep(Duration::from_millis(50));
    kicker.kick();
    let start = std::time::Instant::now();
    while !runner.is_finished() {
        ensure!(
            start.elapsed() < Duration::from_secs(2),
            "a kicked vCPU did not return within 2 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    match runner.join() {
        Ok(Err(Errno::EINTR)) => Ok(()),
        Ok(other) => Err(format!("a kicked RUN returned {other:?}, expected EINTR")),
        Err(_) => Err("vCPU thread panicked".into()),
    }
}

fn region_after_start(hyp: &dyn Hypervisor) -> Outcome {
    let mut b = boot(
        hyp,
        "load8 r0, [0xa0000000]\nexit VM_EXIT",
        1,
        |_, _| Ok(()),
    )?;
    let late = Backing::new(4096)?;
    // Recorded (no state check), but the guest never sees it: the load is an MMIO exit.
    expect_ok(
        "region after START",
        b.vm.set_user_memory(&late.region(1, 0xa000_0000), ShareMode::Share),
    )?;
    expect_exit(
        run(&mut b.vcpus[0])?,
        VcpuExit::Mmio {
            phys_addr: 0xa000_0000,
            len: 8,
            write: None,
        },
    )
}

fn secondary_sees_stop(hyp: &dyn Hypervisor) -> Outcome {
    let mut b = boot(hyp, "sleep 50\nexit WDT_BITE, \"wd\"", 2, |_, _| Ok(()))?;
    let mut second = b.vcpus.remove(1);
    let waiter = std::thread::spawn(move || second.run());
    let stopped = VcpuExit::Status(VmStatus::Exited {
        exit_type: 4,
        reason: b"wd".to_vec(),
    });
    expect_exit(run(&mut b.vcpus[0])?, stopped.clone())?;
    let got = waiter
        .join()
        .map_err(|_| "vCPU thread panicked")?
        .map_err(|e| e.to_string())?;
    expect_exit(got, stopped)
}

fn vcpu_keeps_vm(hyp: &dyn Hypervisor) -> Outcome {
    // Closing the VM fd while a vCPU fd is open keeps the VM: the vCPU still runs it.
    let mut b = boot(hyp, "sleep 20\nexit VM_EXIT, \"alive\"", 1, |_, _| Ok(()))?;
    let mut vcpu = b.vcpus.remove(0);
    drop(b.vm);
    expect_exit(
        run(&mut vcpu)?,
        VcpuExit::Status(VmStatus::Exited {
            exit_type: 0,
            reason: b"alive".to_vec(),
        }),
    )
}

fn boot_pc_selects_entry(hyp: &dyn Hypervisor) -> Outcome {
    // The program at the start of RAM crashes; the one the PC points at exits cleanly. a14 has
    // no boot registers: the call is ENOTTY and the guest starts at the start of RAM.
    let second = RAM + 0x1000;
    let image = assemble("exit VM_EXIT, \"second\"", second).map_err(|e| e.to_string())?;
    let generation = hyp.capabilities().generation;
    let with_pc = expect::of("boot-context/before-start", generation) == Expect::Ok;
    let mut b = boot(hyp, "crash", 1, |vm, ram| {
        ram.write(0x1000, &image)?;
        expect::call(
            "boot-context/before-start",
            generation,
            vm.set_boot_context(gunyah_hypervisor::BootReg::PC, second),
        )
    })?;
    let expected = if with_pc {
        VmStatus::Exited {
            exit_type: 0,
            reason: b"second".to_vec(),
        }
    } else {
        VmStatus::Crashed
    };
    expect_exit(run(&mut b.vcpus[0])?, VcpuExit::Status(expected))
}

/// A guest write to a region without write access: a14 crashes the guest; a demand-paging
/// driver (ack66-early and later) exits with PAGE_FAULT (EPERM), and the next run retries the
/// same access and faults again.
fn write_to_read_only_region(hyp: &dyn Hypervisor) -> Outcome {
    const ROM: u64 = 0x8100_0000;
    let rom = Backing::new(4096)?;
    let mut b = boot(hyp, "store4 [0x81000000], 7\nexit VM_EXIT", 1, |vm, _| {
        let region = UserMemoryRegion {
            access: MemAccess {
                read: true,
                ..MemAccess::default()
            },
            ..rom.region(1, ROM)
        };
        expect_ok(
            "read-only region",
            vm.set_user_memory(&region, ShareMode::Share),
        )
    })?;
    let case = "guest/write-to-read-only-region";
    let generation = hyp.capabilities().generation;
    let first = run(&mut b.vcpus[0])?;
    expect::observed(case, generation, &exit_word(&first))?;
    if let VcpuExit::PageFault { .. } = first {
        // Nothing changed, so the next run retries the access and faults again.
        expect_exit(run(&mut b.vcpus[0])?, first)?;
    }
    Ok(())
}

/// An exit in the table's words: `crashed`, `page-fault:ERRNO`, or its debug form.
fn exit_word(exit: &VcpuExit) -> String {
    match exit {
        VcpuExit::Status(VmStatus::Crashed) => "crashed".into(),
        VcpuExit::PageFault { errno, .. } => format!("page-fault:{errno:?}"),
        other => format!("{other:?}"),
    }
}

/// A region whose memory the VMM has not mapped: a14 refuses it at the ioctl (it pins there);
/// a demand-paging driver takes it and pins each page when the guest first touches it, so the
/// guest's load exits with PAGE_FAULT (EFAULT) — again on the next run, as nothing changed.
fn unmapped_memory_faults_at_first_touch(hyp: &dyn Hypervisor) -> Outcome {
    const HOLE: u64 = 0x8100_0000;
    let region = UserMemoryRegion {
        memory: UserMemory::unmappable(0xffff_ffff_fff0_0000, 4096).ok_or("a kernel address")?,
        ..Backing::new(4096)?.region(1, HOLE)
    };
    let generation = hyp.capabilities().generation;
    let mut refused = false;
    let mut b = boot(
        hyp,
        "load4 r1, [0x81000000]
exit VM_EXIT",
        1,
        |vm, _| {
            let set = vm.set_user_memory(&region, ShareMode::Share);
            refused = set.is_err();
            expect::call("memory/not-mapped-by-the-caller", generation, set)
        },
    )?;
    if refused {
        return Ok(());
    }
    let first = run(&mut b.vcpus[0])?;
    expect::observed(
        "guest/first-touch-of-unmapped-memory",
        generation,
        &exit_word(&first),
    )?;
    ensure!(
        matches!(
            first,
            VcpuExit::PageFault {
                phys_addr: HOLE,
                ..
            }
        ),
        "the fault names {HOLE:#x}: {first:?}"
    );
    expect_exit(run(&mut b.vcpus[0])?, first)
}

/// An ioeventfd without datamatch registered for 4-byte writes, and a 1-byte write to it: it
/// keeps no length, so the write signals it, with no exit, in every generation.
fn ioeventfd_width(hyp: &dyn Hypervisor) -> Outcome {
    let ioe = eventfd()?;
    let mut b = boot(hyp, "store1 [0x90002000], 1\nexit VM_EXIT", 1, |vm, _| {
        expect_ok(
            "ioeventfd",
            vm.add_ioeventfd(ioe.as_fd(), ioeventfd_at(0x9000_2000, 4, None)),
        )
    })?;
    let exited = VcpuExit::Status(VmStatus::Exited {
        exit_type: 0,
        reason: vec![],
    });
    let exit = run(&mut b.vcpus[0])?;
    let mut fds = [PollFd::new(ioe.as_fd(), PollFlags::POLLIN)];
    let signalled = poll(&mut fds, PollTimeout::ZERO).map_err(|e| e.to_string())? == 1;
    let seen = match exit {
        e if e == exited && signalled => "signals".to_string(),
        e => format!("{e:?} (eventfd signalled: {signalled})"),
    };
    expect::observed(
        "ioeventfd/no-datamatch-any-width-signals",
        hyp.capabilities().generation,
        &seen,
    )
}

/// A guest that reads 4 bytes at 0x9000_0010 over MMIO and exits "good" when it read 0xabcd.
const MMIO_READ_GUEST: &str =
    "load4 r2, [0x90000010]\njeq r2, 0xabcd, good\ncrash\ngood: exit VM_EXIT, \"good\"";

/// `MMIO_READ_GUEST` booted and run to its MMIO read exit.
fn at_mmio_read(hyp: &dyn Hypervisor) -> Result<Booted, String> {
    let mut b = boot(hyp, MMIO_READ_GUEST, 1, |_, _| Ok(()))?;
    expect_exit(
        run(&mut b.vcpus[0])?,
        VcpuExit::Mmio {
            phys_addr: 0x9000_0010,
            len: 4,
            write: None,
        },
    )?;
    Ok(b)
}

/// What the next RUN after the MMIO read did, in the table's words.
fn after_mmio_read(vcpu: &mut Box<dyn VcpuBackend>) -> String {
    match vcpu.run() {
        Ok(VcpuExit::Status(VmStatus::Exited { reason, .. })) if reason == b"good" => {
            "completes".into()
        }
        Ok(VcpuExit::Status(VmStatus::Crashed)) => "crashed".into(),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("{:?}", e.errno),
    }
}

/// A `resume_action` left in the page before the exit (an a14 VMM never writes it): the driver
/// presets HANDLED at the exit, so the read completes.
fn resume_stale(hyp: &dyn Hypervisor) -> Outcome {
    let mut b = boot(hyp, MMIO_READ_GUEST, 1, |_, _| Ok(()))?;
    b.vcpus[0].set_mmio_resume_action(MmioResumeAction::RETRY);
    ensure!(
        matches!(run(&mut b.vcpus[0])?, VcpuExit::Mmio { .. }),
        "expected the MMIO read exit"
    );
    b.vcpus[0].set_mmio_read_data(0xabcd);
    let seen = after_mmio_read(&mut b.vcpus[0]);
    expect::observed(
        "mmio/stale-resume-action-before-the-exit",
        hyp.capabilities().generation,
        &seen,
    )
}

/// An answer the later drivers refuse (RETRY, or a value they do not define): EINVAL, and the
/// access stays pending, so a HANDLED answer then completes it.
fn resume_refused(hyp: &dyn Hypervisor, case: &str, action: MmioResumeAction) -> Outcome {
    let generation = hyp.capabilities().generation;
    let mut b = at_mmio_read(hyp)?;
    b.vcpus[0].set_mmio_read_data(0xabcd);
    b.vcpus[0].set_mmio_resume_action(action);
    let seen = after_mmio_read(&mut b.vcpus[0]);
    expect::observed(case, generation, &seen)?;
    if seen == "completes" {
        return Ok(());
    }
    b.vcpus[0].set_mmio_resume_action(MmioResumeAction::HANDLED);
    let seen = after_mmio_read(&mut b.vcpus[0]);
    expect::observed("mmio/resume-corrected-after-einval", generation, &seen)
}

/// FAULT: the driver injects a fault into the guest for the access (the scripted guest has no
/// vectors, so it crashes); a14 has no resume_action and completes the read.
fn resume_fault(hyp: &dyn Hypervisor) -> Outcome {
    let mut b = at_mmio_read(hyp)?;
    b.vcpus[0].set_mmio_read_data(0xabcd);
    b.vcpus[0].set_mmio_resume_action(MmioResumeAction::FAULT);
    let seen = after_mmio_read(&mut b.vcpus[0]);
    expect::observed("mmio/resume-fault", hyp.capabilities().generation, &seen)
}

/// A read-only region whose memory this process mapped read-only (as a VMM maps a read-only
/// file): the driver pins it for reading only, so it registers and the guest's read is served.
fn read_only_mapping(hyp: &dyn Hypervisor) -> Outcome {
    const ROM: u64 = 0x8100_0000;
    let page = 4096;
    let file = gunyah_sys::memfd::create("conformance-rom", page).map_err(|e| e.to_string())?;
    gunyah_sys::memfd::write_at(&file, 0, &0x1234u32.to_le_bytes()).map_err(|e| e.to_string())?;
    let len = std::num::NonZeroUsize::new(page as usize).ok_or("page size")?;
    let mapping = gunyah_sys::mman::SharedMapping::map(file.as_fd(), 0, len, false)
        .map_err(|e| e.to_string())?;
    let memory = UserMemory::of(std::sync::Arc::new(mapping));
    let program = "load4 r1, [0x81000000]\njeq r1, 0x1234, good\ncrash\ngood: exit VM_EXIT, \"ro\"";
    let mut b = boot(hyp, program, 1, |vm, _| {
        let region = UserMemoryRegion {
            label: 1,
            access: MemAccess {
                read: true,
                ..MemAccess::default()
            },
            guest_phys_addr: ROM,
            memory: memory.clone(),
        };
        expect_ok(
            "a read-only region mapped read-only",
            vm.set_user_memory(&region, ShareMode::Share),
        )
    })?;
    let seen = match run(&mut b.vcpus[0])? {
        VcpuExit::Status(VmStatus::Exited { reason, .. }) if reason == b"ro" => "served".into(),
        other => format!("{other:?}"),
    };
    expect::observed(
        "memory/read-only-file-backed-read",
        hyp.capabilities().generation,
        &seen,
    )
}

pub(super) fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "guest/hello-mmio-writes-then-exit",
            run: hello,
        },
        Case {
            name: "guest/mmio-read-completes-on-next-run",
            run: mmio_read,
        },
        Case {
            name: "guest/doorbell-ioeventfd-datamatch",
            run: doorbell,
        },
        Case {
            name: "guest/mmio-stale-resume-action-per-generation",
            run: resume_stale,
        },
        Case {
            name: "guest/mmio-resume-retry-per-generation",
            run: |h| resume_refused(h, "mmio/resume-retry", MmioResumeAction::RETRY),
        },
        Case {
            name: "guest/mmio-resume-other-value-per-generation",
            run: |h| resume_refused(h, "mmio/resume-other-value", MmioResumeAction(7)),
        },
        Case {
            name: "guest/mmio-resume-fault-per-generation",
            run: resume_fault,
        },
        Case {
            name: "guest/read-only-mapping-is-served",
            run: read_only_mapping,
        },
        Case {
            name: "guest/ioeventfd-width-per-generation",
            run: ioeventfd_width,
        },
        Case {
            name: "guest/write-to-read-only-region",
            run: write_to_read_only_region,
        },
        Case {
            name: "guest/unmapped-memory-faults-at-first-touch",
            run: unmapped_memory_faults_at_first_touch,
        },
        Case {
            name: "guest/crash",
            run: |h| stops_with(h, "crash", None, VmStatus::Crashed),
        },
        Case {
            name: "guest/fetch-fault-crashes",
            run: |h| stops_with(h, "jmp 0x1000", None, VmStatus::Crashed),
        },
        Case {
            name: "guest/no-program-is-load-failed",
            run: |h| stops_with(h, "crash", Some(RAM + 0x8000), VmStatus::LoadFailed),
        },
        Case {
            name: "guest/boot-pc-selects-the-entry",
            run: boot_pc_selects_entry,
        },
        Case {
            name: "guest/kick-interrupts-run",
            run: kick,
        },
        Case {
            name: "guest/region-after-start-never-reaches-guest",
            run: region_after_start,
        },
        Case {
            name: "guest/secondary-vcpu-sees-the-stop",
            run: secondary_sees_stop,
        },
        Case {
            name: "guest/vcpu-fd-keeps-the-vm",
            run: vcpu_keeps_vm,
        },
    ]
}
