//! A mock vCPU: runs the scripted guest from guest memory. vCPU 0 boots at the entry point;
//! the others idle until the VM stops (secondary CPU bring-up is not modelled).

use gunyah_sys::eventfd::Shared;
use gunyah_sys::sync::IgnorePoison;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::interp::{Bus, Cpu, Step};
use super::memory::{Fault, GuestMemory};
use super::vm::{MockStatus, VcpuSlot, VmShared};
use super::{check_fault, Counters, Faults};
use gunyah_hypervisor::{
    DriverIoctl, HypError, HypResult, MmioResumeAction, VcpuBackend, VcpuExit, VcpuKicker, VmStatus,
};

/// Instructions executed between checks for kicks.
const SLICE: usize = 4096;

/// The run page's `immediate_exit` byte plus the wake-up a signal would give.
struct Kick {
    immediate_exit: AtomicBool,
    vm: std::sync::Weak<VmShared>,
}

/// Where RUN stands between two calls (the driver's vCPU state machine, for what differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// Nothing pending.
    Fresh,
    /// The last exit was MMIO: the next RUN reads `resume_action` (ack66-early and later).
    Mmio,
}

impl VcpuKicker for Kick {
    fn kick(&self) {
        self.immediate_exit.store(true, Ordering::SeqCst);
        if let Some(vm) = self.vm.upgrade() {
            // Under the lock, so the wake-up cannot fall between the vCPU's check and its wait.
            let state = vm.lock();
            vm.notify(&state);
        }
    }
}

struct MockBus<'a> {
    memory: &'a GuestMemory,
    vm: &'a VmShared,
}

impl Bus for MockBus<'_> {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Option<Result<(), Fault>> {
        self.memory.read(gpa, buf)
    }
    fn write(&self, gpa: u64, bytes: &[u8]) -> Option<Result<(), Fault>> {
        self.memory.write(gpa, bytes)
    }
    fn signal_ioeventfd(&self, addr: u64, len: u32, value: u64) -> bool {
        let signalled = self.vm.functions().signal_write(addr, len, value);
        if signalled {
            self.vm
                .ioeventfd_signals
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        signalled
    }
    fn fault_exits(&self) -> bool {
        // Demand paging (ack66-early and later) reports what it cannot back as PAGE_FAULT.
        self.vm.generation.is_later()
    }
}

enum Boot {
    NotYet,
    Running(Cpu),
}

/// A vCPU fd; holds a reference to its VM.
pub(super) struct MockVcpu {
    id: u32,
    vm: Arc<VmShared>,
    kick: Arc<Kick>,
    /// The vCPU's fd, an eventfd (anon inode, as the driver's vCPU fd is): polled beside a
    /// doorbell, written by `VmShared::notify` (non-blocking, close-on-exec).
    wake: Arc<OwnedFd>,
    counters: Arc<Counters>,
    boot: Boot,
    mmio_read_data: u64,
    /// The run page's `mmio.resume_action` (the later generations read it).
    mmio_resume_action: MmioResumeAction,
    resume: Resume,
    /// Set when REMOVE_FUNCTION took this vCPU's function (shared with its `VcpuSlot`).
    removed: Arc<AtomicBool>,
    /// The errors `--mock-fault` injects (GH_VCPU_RUN among them).
    faults: Arc<Faults>,
}

impl MockVcpu {
    pub fn new(
        id: u32,
        vm: Arc<VmShared>,
        counters: Arc<Counters>,
        faults: Arc<Faults>,
    ) -> Result<Self, Errno> {
        let wake = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        counters.live_vcpus.fetch_add(1, Ordering::SeqCst);
        let kick = Arc::new(Kick {
            immediate_exit: AtomicBool::new(false),
            vm: Arc::downgrade(&vm),
        });
        Ok(Self {
            id,
            vm,
            kick,
            wake: Arc::new(OwnedFd::from(wake)),
            counters,
            boot: Boot::NotYet,
            mmio_read_data: 0,
            mmio_resume_action: MmioResumeAction::HANDLED,
            resume: Resume::Fresh,
            removed: Arc::new(AtomicBool::new(false)),
            faults,
        })
    }

    /// What the VM keeps of this vCPU: the eventfd that wakes it from a doorbell wait, and the
    /// flag REMOVE_FUNCTION sets.
    pub fn slot(&self) -> VcpuSlot {
        VcpuSlot {
            wake: self.wake.clone(),
            removed: self.removed.clone(),
        }
    }

    /// Kicked, or its function removed (the driver's unbind sets immediate_exit).
    fn kicked(&self) -> bool {
        self.kick.immediate_exit.load(Ordering::SeqCst) || self.removed.load(Ordering::SeqCst)
    }

    fn run_error(errno: Errno) -> HypError {
        HypError {
            call: DriverIoctl::VcpuRun.into(),
            errno,
        }
    }

    /// The VM's status as RUN reports it, or `None` while it runs.
    fn status_exit(&self) -> HypResult<Option<VcpuExit>> {
        let state = self.vm.lock();
        match &state.status {
            // No hypervisor resource yet: before START, or (later drivers) after a failed one.
            MockStatus::Load => Err(Self::run_error(Errno::ENODEV)),
            MockStatus::InitFailed if self.vm.generation.is_later() => {
                Err(Self::run_error(Errno::ENODEV))
            }
            MockStatus::InitFailed => Ok(Some(VcpuExit::Status(VmStatus::LoadFailed))),
            MockStatus::Stopped(status) => Ok(Some(VcpuExit::Status(status.clone()))),
            MockStatus::Running if self.kicked() => Err(Self::run_error(Errno::EINTR)),
            MockStatus::Running => Ok(None),
        }
    }

    /// Waits on the VM's condition until `deadline` (or forever), a kick or a status change.
    fn block(&self, deadline: Option<Instant>) -> HypResult<()> {
        let mut state = self.vm.lock();
        while state.status == MockStatus::Running && !self.kicked() {
            match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(());
                    }
                    state = self.vm.wake.wait_timeout(state, d - now).ignore_poison().0;
                }
                None => state = self.vm.wake.wait(state).ignore_poison(),
            }
        }
        if self.kicked() {
            return Err(Self::run_error(Errno::EINTR));
        }
        Ok(())
    }

    /// Waits for doorbell `label`; Ok(true) when it rang, Ok(false) when the VM stopped. Sleeps
    /// in poll on the doorbell's eventfd and this vCPU's wake eventfd, so a ring, a kick, a stop
    /// or the doorbell's binding wakes it at once, as the driver's wait queues do.
    fn wait_doorbell(&self, label: u32) -> HypResult<bool> {
        loop {
            // Earlier wake-ups are consumed first: what they announced is checked just below.
            let mut drain = [0u8; 8];
            let _ = gunyah_sys::fd::read(self.wake.as_fd(), &mut drain);
            if self.status_exit()?.is_some() {
                return Ok(false);
            }
            // Not bound yet: only a wake-up (the binding among them) can end the wait.
            let doorbell = self.vm.functions().irqfd(label);
            let mut fds = vec![PollFd::new(self.wake.as_fd(), PollFlags::POLLIN)];
            if let Some(eventfd) = &doorbell {
                fds.push(PollFd::new(eventfd.as_fd(), PollFlags::POLLIN));
            }
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) if fds.get(1).is_some_and(ready) => {
                    // A level-triggered or edge-triggered ring is consumed the same way here.
                    // `take` never sleeps: the VMM holds the description too and may have
                    // made it blocking, or taken the count between the poll and here — then
                    // the doorbell did not ring for this vCPU, and it waits on.
                    match doorbell.as_deref().map(Shared::take) {
                        Some(Ok(0)) => {
                            self.counters.idle_wakeups.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(Ok(_)) => return Ok(true),
                        Some(Err(e)) => return Err(Self::run_error(e)),
                        None => {}
                    }
                }
                Ok(_) if ready(&fds[0]) => {}
                Ok(_) | Err(Errno::EINTR) => {
                    self.counters.idle_wakeups.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => return Err(Self::run_error(e)),
            }
        }
    }

    /// Completes the access of the last MMIO exit as the VMM answered it. a14 has no
    /// `resume_action`: the access completes. The later drivers read it: HANDLED completes,
    /// FAULT injects a fault into the guest, anything else (RETRY among them) is EINVAL and
    /// leaves the access pending, so a corrected answer can follow.
    fn resume_mmio(&mut self) -> HypResult<()> {
        let Boot::Running(cpu) = &mut self.boot else {
            return Ok(());
        };
        let action = if self.vm.generation.is_later() && self.resume == Resume::Mmio {
            self.mmio_resume_action
        } else {
            MmioResumeAction::HANDLED
        };
        match action {
            MmioResumeAction::HANDLED => cpu.complete_mmio_read(self.mmio_read_data),
            MmioResumeAction::FAULT => {
                if let Step::Stop(status) = cpu.inject_fault() {
                    self.vm.stop(status);
                }
            }
            _ => return Err(Self::run_error(Errno::EINVAL)),
        }
        self.resume = Resume::Fresh;
        Ok(())
    }

    /// Runs the boot vCPU's program until an exit, a stop or a kick.
    fn run_guest(&mut self) -> HypResult<VcpuExit> {
        let memory = self.vm.guest_memory();
        loop {
            if let Some(exit) = self.status_exit()? {
                return Ok(exit);
            }
            let bus = MockBus {
                memory: &memory,
                vm: &self.vm,
            };
            let cpu = match &mut self.boot {
                Boot::Running(cpu) => cpu,
                Boot::NotYet => match Cpu::load(&bus, self.vm.entry_point()) {
                    Some(cpu) => {
                        self.boot = Boot::Running(cpu);
                        continue;
                    }
                    None => {
                        log::info!("mock vcpu {}: no guest program at the entry point", self.id);
                        self.vm.stop(VmStatus::LoadFailed);
                        continue;
                    }
                },
            };
            let mut outcome = Step::Next;
            for _ in 0..SLICE {
                outcome = cpu.step(&bus);
                if outcome != Step::Next {
                    break;
                }
            }
            match outcome {
                Step::Next => {}
                Step::Exit(exit) => return Ok(exit),
                Step::Stop(status) => self.vm.stop(status),
                Step::Wait(label) => {
                    if self.wait_doorbell(label)? {
                        if let Boot::Running(cpu) = &mut self.boot {
                            cpu.complete_wait();
                        }
                    }
                }
                Step::Sleep => {
                    let until = cpu.sleep_until;
                    self.block(until)?;
                }
                Step::Idle => self.block(None)?,
            }
        }
    }
}

impl Drop for MockVcpu {
    fn drop(&mut self) {
        let mut state = self.vm.lock();
        // Unless REMOVE_FUNCTION took it already (and the id may be another vCPU's now).
        if state
            .vcpus
            .get(&self.id)
            .is_some_and(|slot| Arc::ptr_eq(&slot.removed, &self.removed))
        {
            state.vcpus.remove(&self.id);
        }
        drop(state);
        self.counters.live_vcpus.fetch_sub(1, Ordering::SeqCst);
    }
}

impl VcpuBackend for MockVcpu {
    fn id(&self) -> u32 {
        self.id
    }

    fn run(&mut self) -> HypResult<VcpuExit> {
        check_fault(&self.faults, DriverIoctl::VcpuRun)?;
        // The vCPU function was removed: ENODEV (docs/GENERATIONS.md, "vCPU RUN", step 1).
        if self.removed.load(Ordering::SeqCst) {
            return Err(Self::run_error(Errno::ENODEV));
        }
        if let Some(exit) = self.status_exit()? {
            return Ok(exit);
        }
        self.resume_mmio()?;
        if self.id != 0 {
            // Secondary vCPUs wait for the VM to stop.
            self.block(None)?;
            return self
                .status_exit()?
                .ok_or_else(|| Self::run_error(Errno::EINTR));
        }
        let exit = self.run_guest()?;
        if let VcpuExit::Mmio { .. } = exit {
            // The driver presets HANDLED at every MMIO exit.
            self.resume = Resume::Mmio;
            self.mmio_resume_action = MmioResumeAction::HANDLED;
        }
        Ok(exit)
    }

    fn set_mmio_read_data(&mut self, data: u64) {
        self.mmio_read_data = data;
    }

    fn set_mmio_resume_action(&mut self, action: MmioResumeAction) {
        self.mmio_resume_action = action;
    }

    fn kicker(&self) -> Arc<dyn VcpuKicker> {
        self.kick.clone()
    }
}
