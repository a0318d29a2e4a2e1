//! The scripted guest's CPU: one instruction per `step`, over a `Bus` that is guest memory
//! plus ioeventfds. Everything that is not memory is an MMIO exit.

use std::time::Instant;

use super::memory::Fault;
use gunyah_guest::isa::{valid_size, Insn, Op, INSN_SIZE, MAGIC, NO_REG, NUM_REGS};
use gunyah_hypervisor::{VcpuExit, VmStatus};

/// What the CPU sees of the machine.
pub(super) trait Bus {
    /// Reads memory; `None` when `gpa` is not memory.
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Option<Result<(), Fault>>;
    /// Writes memory; `None` when `gpa` is not memory.
    fn write(&self, gpa: u64, bytes: &[u8]) -> Option<Result<(), Fault>>;
    /// Signals a matching ioeventfd; whether one matched.
    fn signal_ioeventfd(&self, addr: u64, len: u32, value: u64) -> bool;
    /// Whether a faulting load or store is a PAGE_FAULT exit (a demand-paging driver: the next
    /// run retries the access) rather than a crash of the guest (a14).
    fn fault_exits(&self) -> bool {
        false
    }
}

/// What one step did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Executed; go on.
    Next,
    /// An MMIO exit to report.
    Exit(VcpuExit),
    /// The guest stopped the VM.
    Stop(VmStatus),
    /// Wait for doorbell `label`, then call `complete_wait`.
    Wait(u32),
    /// Sleep until `cpu.sleep_until`, then call `complete_sleep`.
    Sleep,
    /// Idle until the VM stops.
    Idle,
}

/// Registers and program counter of one vCPU.
#[derive(Debug, Default)]
pub(super) struct Cpu {
    pub pc: u64,
    pub regs: [u64; NUM_REGS as usize],
    /// A load waiting for its MMIO data: (register, size).
    pending_read: Option<(u8, u32)>,
    /// When the current SLEEP ends.
    pub sleep_until: Option<Instant>,
}

fn mask(size: u32) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    }
}

impl Cpu {
    /// A CPU about to run the program at `entry`, or `None` when there is no program there
    /// (the VM fails to load).
    pub fn load(bus: &dyn Bus, entry: u64) -> Option<Cpu> {
        let mut magic = [0u8; 8];
        match bus.read(entry, &mut magic) {
            Some(Ok(())) if magic == MAGIC => Some(Cpu {
                pc: entry + MAGIC.len() as u64,
                ..Default::default()
            }),
            _ => None,
        }
    }

    /// Completes a pending MMIO read with `data` (the run page's `mmio.data`).
    pub fn complete_mmio_read(&mut self, data: u64) {
        if let Some((reg, size)) = self.pending_read.take() {
            self.regs[reg as usize] = data & mask(size);
            self.pc = self.pc.wrapping_add(INSN_SIZE);
        }
    }

    /// The VMM answered the pending MMIO access with FAULT: the driver injects a fault into
    /// the guest for it. A scripted guest has no exception vectors, so it takes the fault as it
    /// takes its own (docs/GUEST_ISA.md): it crashes.
    pub fn inject_fault(&mut self) -> Step {
        self.pending_read = None;
        Self::crash()
    }

    /// Moves past a WAIT whose doorbell rang.
    pub fn complete_wait(&mut self) {
        self.pc = self.pc.wrapping_add(INSN_SIZE);
    }

    /// Moves past a finished SLEEP.
    pub fn complete_sleep(&mut self) {
        self.sleep_until = None;
        self.pc = self.pc.wrapping_add(INSN_SIZE);
    }

    fn crash() -> Step {
        Step::Stop(VmStatus::Crashed)
    }

    /// An access at `addr` (a fetch, load or store) faulted: where the driver has PAGE_FAULT
    /// exits, a write to a read-only region (EPERM) or a page that cannot be pinned (EFAULT,
    /// ENOMEM) is one, and the PC stays, so the next run retries; anything else, and every
    /// fault on a14, crashes the guest.
    fn faulted(bus: &dyn Bus, addr: u64, fault: Fault) -> Step {
        match fault.page_fault_errno() {
            Some(errno) if bus.fault_exits() => Step::Exit(VcpuExit::PageFault {
                phys_addr: addr,
                errno,
            }),
            _ => Self::crash(),
        }
    }

    fn address(&self, insn: &Insn) -> u64 {
        let base = if insn.b == NO_REG {
            0
        } else {
            self.regs[insn.b as usize]
        };
        base.wrapping_add(insn.imm64)
    }

    /// Executes one instruction.
    pub fn step(&mut self, bus: &dyn Bus) -> Step {
        let mut raw = [0u8; 16];
        // Fetching outside guest memory crashes the guest; a fetch can fault like a load.
        match bus.read(self.pc, &mut raw) {
            Some(Ok(())) => {}
            Some(Err(fault)) => return Self::faulted(bus, self.pc, fault),
            None => return Self::crash(),
        }
        let insn = Insn::decode(&raw);
        let Some(op) = Op::from_byte(insn.op) else {
            return Self::crash();
        };
        // Register fields must name a register: `a` everywhere but EXIT (where it is a length),
        // `b` wherever it is used (MOVR's source; an address's base unless NO_REG).
        if insn.a >= NUM_REGS && op != Op::Exit
            || insn.b != NO_REG && insn.b >= NUM_REGS
            || op == Op::MovR && insn.b == NO_REG
        {
            return Self::crash();
        }
        let next = self.pc.wrapping_add(INSN_SIZE);
        let a = insn.a as usize;
        match op {
            Op::Mov => self.regs[a] = insn.imm64,
            Op::Add => self.regs[a] = self.regs[a].wrapping_add(insn.imm64),
            Op::Sub => self.regs[a] = self.regs[a].wrapping_sub(insn.imm64),
            Op::MovR => self.regs[a] = self.regs[insn.b as usize],
            Op::Load => {
                if !valid_size(insn.c) {
                    return Self::crash();
                }
                let addr = self.address(&insn);
                let mut buf = [0u8; 8];
                match bus.read(addr, &mut buf[..insn.c as usize]) {
                    Some(Ok(())) => self.regs[a] = u64::from_le_bytes(buf),
                    Some(Err(fault)) => return Self::faulted(bus, addr, fault),
                    None => {
                        self.pending_read = Some((insn.a, u32::from(insn.c)));
                        return Step::Exit(VcpuExit::Mmio {
                            phys_addr: addr,
                            len: u32::from(insn.c),
                            write: None,
                        });
                    }
                }
            }
            Op::Store | Op::StoreI => {
                if !valid_size(insn.c) {
                    return Self::crash();
                }
                let size = u32::from(insn.c);
                let value = if op == Op::Store {
                    self.regs[a]
                } else {
                    u64::from(insn.imm32)
                } & mask(size);
                let addr = self.address(&insn);
                match bus.write(addr, &value.to_le_bytes()[..size as usize]) {
                    Some(Ok(())) => {}
                    Some(Err(fault)) => return Self::faulted(bus, addr, fault),
                    None => {
                        self.pc = next;
                        if bus.signal_ioeventfd(addr, size, value) {
                            return Step::Next;
                        }
                        return Step::Exit(VcpuExit::Mmio {
                            phys_addr: addr,
                            len: size,
                            write: Some(value),
                        });
                    }
                }
            }
            Op::Jmp => {
                self.pc = insn.imm64;
                return Step::Next;
            }
            Op::Jz | Op::Jnz | Op::Jeq | Op::Jne => {
                let v = self.regs[a];
                let taken = match op {
                    Op::Jz => v == 0,
                    Op::Jnz => v != 0,
                    Op::Jeq => v == u64::from(insn.imm32),
                    _ => v != u64::from(insn.imm32),
                };
                self.pc = if taken { insn.imm64 } else { next };
                return Step::Next;
            }
            Op::Wait => return Step::Wait(insn.imm32),
            Op::Sleep => {
                let until = *self.sleep_until.get_or_insert_with(|| {
                    Instant::now() + std::time::Duration::from_millis(u64::from(insn.imm32))
                });
                if Instant::now() >= until {
                    self.complete_sleep();
                    return Step::Next;
                }
                return Step::Sleep;
            }
            Op::Idle => return Step::Idle,
            Op::Exit => {
                let len = usize::from(insn.a.min(8));
                return Step::Stop(VmStatus::Exited {
                    exit_type: insn.imm32 as u16,
                    reason: insn.imm64.to_le_bytes()[..len].to_vec(),
                });
            }
            Op::Crash => return Self::crash(),
        }
        self.pc = next;
        Step::Next
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use gunyah_guest::asm::assemble;

    const BASE: u64 = 0x8000_0000;

    /// 64 KiB of memory at BASE; everything else is MMIO. Ioeventfd at 0x9000_0100.
    struct FakeBus {
        mem: RefCell<Vec<u8>>,
        signalled: RefCell<Vec<(u64, u64)>>,
    }

    impl FakeBus {
        fn with_program(src: &str) -> FakeBus {
            let mut mem = vec![0u8; 64 << 10];
            let prog = assemble(src, BASE).expect("assembles");
            mem[..prog.len()].copy_from_slice(&prog);
            FakeBus {
                mem: RefCell::new(mem),
                signalled: RefCell::default(),
            }
        }
    }

    impl Bus for FakeBus {
        fn read(&self, gpa: u64, buf: &mut [u8]) -> Option<Result<(), Fault>> {
            let off = gpa.checked_sub(BASE)? as usize;
            let mem = self.mem.borrow();
            if off >= mem.len() {
                return None;
            }
            buf.copy_from_slice(mem.get(off..off + buf.len()).ok_or(Fault::Straddle).ok()?);
            Some(Ok(()))
        }
        fn write(&self, gpa: u64, bytes: &[u8]) -> Option<Result<(), Fault>> {
            let off = gpa.checked_sub(BASE)? as usize;
            let mut mem = self.mem.borrow_mut();
            if off >= mem.len() {
                return None;
            }
            mem[off..off + bytes.len()].copy_from_slice(bytes);
            Some(Ok(()))
        }
        fn signal_ioeventfd(&self, addr: u64, _len: u32, value: u64) -> bool {
            if addr == 0x9000_0100 {
                self.signalled.borrow_mut().push((addr, value));
                return true;
            }
            false
        }
    }

    fn run_until_event(cpu: &mut Cpu, bus: &FakeBus) -> Step {
        for _ in 0..10_000 {
            match cpu.step(bus) {
                Step::Next => {}
                other => return other,
            }
        }
        panic!("no event within 10000 steps");
    }

    #[test]
    fn test_load_needs_magic() {
        let bus = FakeBus::with_program("crash");
        assert!(Cpu::load(&bus, BASE).is_some());
        assert!(Cpu::load(&bus, BASE + 16).is_none(), "no magic there");
        assert!(Cpu::load(&bus, 0x1000).is_none(), "not memory");
    }

    #[test]
    fn test_hello_writes_bytes_then_exits() {
        let bus = FakeBus::with_program(
            "mov r1, msg\nloop: load1 r0, [r1]\njz r0, done\nstore1 [0x9000000], r0\nadd r1, 1\njmp loop\n\
             done: exit PSCI_POWER_OFF, \"ok\"\nmsg: .asciz \"Hi\"",
        );
        let mut cpu = Cpu::load(&bus, BASE).unwrap();
        let mut out = Vec::new();
        loop {
            match run_until_event(&mut cpu, &bus) {
                Step::Exit(VcpuExit::Mmio {
                    phys_addr: 0x900_0000,
                    len: 1,
                    write: Some(v),
                }) => out.push(v as u8),
                Step::Stop(status) => {
                    assert_eq!(
                        status,
                        VmStatus::Exited {
                            exit_type: 1,
                            reason: b"ok".to_vec()
                        }
                    );
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(out, b"Hi");
    }

    #[test]
    fn test_mmio_read_completes_on_next_run() {
        let bus = FakeBus::with_program(
            "load4 r2, [0x9000010]\njeq r2, 0xabcd, good\ncrash\ngood: exit VM_EXIT",
        );
        let mut cpu = Cpu::load(&bus, BASE).unwrap();
        assert_eq!(
            run_until_event(&mut cpu, &bus),
            Step::Exit(VcpuExit::Mmio {
                phys_addr: 0x900_0010,
                len: 4,
                write: None
            })
        );
        // Bytes beyond the access size are dropped.
        cpu.complete_mmio_read(0xffff_0000_0000_abcd);
        assert_eq!(
            run_until_event(&mut cpu, &bus),
            Step::Stop(VmStatus::Exited {
                exit_type: 0,
                reason: vec![]
            })
        );
    }

    #[test]
    fn test_ioeventfd_write_does_not_exit() {
        let bus = FakeBus::with_program("store4 [0x90000100], 7\nstore4 [0x90000104], 8\nidle");
        let mut cpu = Cpu::load(&bus, BASE).unwrap();
        assert_eq!(
            run_until_event(&mut cpu, &bus),
            Step::Exit(VcpuExit::Mmio {
                phys_addr: 0x9000_0104,
                len: 4,
                write: Some(8)
            })
        );
        assert_eq!(*bus.signalled.borrow(), vec![(0x9000_0100, 7)]);
        assert_eq!(run_until_event(&mut cpu, &bus), Step::Idle);
    }

    #[test]
    fn test_faults_crash() {
        for src in [
            "jmp 0x1000",
            "crash",
            ".byte 0x77",
            ".byte 0x10, 0, 0xff, 3\n.zero 12",
            "jmp end\nend:",
        ] {
            let bus = FakeBus::with_program(src);
            let mut cpu = Cpu::load(&bus, BASE).unwrap();
            let step = run_until_event(&mut cpu, &bus);
            // "jmp end" at the end runs into zeroed memory: opcode 0 is undefined.
            assert_eq!(step, Step::Stop(VmStatus::Crashed), "{src}");
        }
    }

    #[test]
    fn test_movr_without_a_source_register_crashes() {
        // Found by fuzzing: b = NO_REG indexed regs[255] and panicked.
        let mut bus = FakeBus::with_program("crash");
        let mut raw = [0u8; 16];
        raw[..4].copy_from_slice(&[Op::MovR as u8, 0, NO_REG, 0]);
        bus.mem.get_mut()[8..24].copy_from_slice(&raw);
        let mut cpu = Cpu::load(&bus, BASE).unwrap();
        assert_eq!(cpu.step(&bus), Step::Stop(VmStatus::Crashed));
    }

    #[test]
    fn test_memory_and_wait() {
        let bus = FakeBus::with_program("mov r1, 0x80008000\nstore8 [r1 + 8], r1\nload8 r2, [0x80008008]\nwait 3\nsleep 0\nexit 7, \"\\x01\\x02\"");
        let mut cpu = Cpu::load(&bus, BASE).unwrap();
        assert_eq!(run_until_event(&mut cpu, &bus), Step::Wait(3));
        assert_eq!(cpu.regs[2], 0x8000_8000);
        cpu.complete_wait();
        assert_eq!(
            run_until_event(&mut cpu, &bus),
            Step::Stop(VmStatus::Exited {
                exit_type: 7,
                reason: vec![1, 2]
            })
        );
    }
}

/// Runs `program` (bytes placed right after the magic at 0x8000_0000, in 64 KiB of memory)
/// for at most `steps` instructions, completing MMIO reads with 0 and skipping waits: what the
/// fuzz target drives. Built only under `--cfg fuzzing`.
#[cfg(fuzzing)]
pub fn fuzz_run(program: &[u8], steps: usize) {
    use std::cell::RefCell;

    struct VecBus(RefCell<Vec<u8>>);
    const BASE: u64 = 0x8000_0000;
    impl Bus for VecBus {
        fn read(&self, gpa: u64, buf: &mut [u8]) -> Option<Result<(), Fault>> {
            let mem = self.0.borrow();
            let off = usize::try_from(gpa.checked_sub(BASE)?).ok()?;
            if off >= mem.len() {
                return None;
            }
            Some(
                mem.get(off..off.checked_add(buf.len())?)
                    .map(|s| buf.copy_from_slice(s))
                    .ok_or(Fault::Straddle),
            )
        }
        fn write(&self, gpa: u64, bytes: &[u8]) -> Option<Result<(), Fault>> {
            let mut mem = self.0.borrow_mut();
            let off = usize::try_from(gpa.checked_sub(BASE)?).ok()?;
            if off >= mem.len() {
                return None;
            }
            Some(
                mem.get_mut(off..off.checked_add(bytes.len())?)
                    .map(|s| s.copy_from_slice(bytes))
                    .ok_or(Fault::Straddle),
            )
        }
        fn signal_ioeventfd(&self, addr: u64, _len: u32, _value: u64) -> bool {
            addr % 2 == 0
        }
    }

    let mut mem = vec![0u8; 64 << 10];
    mem[..8].copy_from_slice(&MAGIC);
    let n = program.len().min(mem.len() - 8);
    mem[8..8 + n].copy_from_slice(&program[..n]);
    let bus = VecBus(RefCell::new(mem));
    let Some(mut cpu) = Cpu::load(&bus, BASE) else {
        return;
    };
    for _ in 0..steps {
        match cpu.step(&bus) {
            Step::Next | Step::Exit(VcpuExit::Mmio { write: Some(_), .. }) => {}
            Step::Exit(_) => cpu.complete_mmio_read(0),
            Step::Wait(_) => cpu.complete_wait(),
            Step::Sleep => cpu.complete_sleep(),
            Step::Stop(_) | Step::Idle => return,
        }
    }
}
