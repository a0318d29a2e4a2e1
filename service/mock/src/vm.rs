//! A mock VM: the a14 state machine for memory, DTB/firmware, auth, boot context, vCPUs and
//! START, errno for errno.

use gunyah_sys::sync::IgnorePoison;
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use nix::errno::Errno;

use super::functions::{Functions, IoeventfdKey as Key};
use super::memory::{GuestMemory, Pager};
use super::vcpu::MockVcpu;
use super::{anon_fd, check_fault, Counters, Model};
use gunyah_hypervisor::{
    BootReg, DriverIoctl, Extension, Function, Generation, GuestRange, HypError, HypResult,
    IoEventfd, Irqfd, QtvmAuthArg, ShareMode, UserMemoryRegion, VcpuBackend, VmBackend, VmStatus,
};
use gunyah_sys::mman;

/// The driver's VM status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MockStatus {
    /// Created, not started (GH_RM_VM_STATUS_LOAD).
    Load,
    /// START succeeded.
    Running,
    /// START failed (GH_RM_VM_STATUS_INIT_FAILED).
    InitFailed,
    /// The guest stopped.
    Stopped(VmStatus),
}

#[derive(Debug, Clone)]
pub(super) struct MockRegion {
    /// The region; lent and shared regions alike (the mock does not model lending:
    /// docs/GENERATIONS.md, "The mocks").
    pub region: UserMemoryRegion,
}

/// Driver-side state of one VM.
#[derive(Debug)]
pub(super) struct VmDriverState {
    pub status: MockStatus,
    pub regions: Vec<MockRegion>,
    pub dtb: Option<GuestRange>,
    pub firmware: Option<GuestRange>,
    pub qtvm: Option<QtvmAuthArg>,
    pub boot_context: BTreeMap<BootReg, u64>,
    /// The vCPU functions bound, by id.
    pub vcpus: BTreeMap<u32, VcpuSlot>,
    /// Bytes of the regions registered.
    pub registered: u64,
    /// Of those, bytes pinned and charged to the memlock budget at the ioctl (a14).
    pub locked: u64,
}

/// A bound vCPU function, as the VM sees it.
#[derive(Debug, Clone)]
pub(super) struct VcpuSlot {
    /// The eventfd the vCPU polls beside a doorbell (see `VmShared::notify`).
    pub wake: Arc<OwnedFd>,
    /// Set by REMOVE_FUNCTION: the vCPU function is gone (RUN answers ENODEV), while its fd
    /// stays open. The vCPU holds the same flag.
    pub removed: Arc<AtomicBool>,
}

/// What the VM fd and every vCPU fd reference; dropped with the last of them.
#[derive(Debug)]
pub(super) struct VmShared {
    _fd: OwnedFd,
    pub state: Mutex<VmDriverState>,
    /// irqfds and ioeventfds (bound before or after START).
    functions: Mutex<Functions>,
    /// Guest writes that signalled an ioeventfd.
    pub ioeventfd_signals: AtomicU64,
    /// The regions that reached the guest, fixed at START, and the boot PC.
    boot: OnceLock<(Arc<GuestMemory>, u64)>,
    /// Signalled on every status change, kick and new binding (see `notify`).
    pub wake: Condvar,
    counters: Arc<Counters>,
    /// The modelled driver generation.
    pub generation: Generation,
    /// How long the hypervisor takes to reset the VM after its last fd is closed.
    reset_delay: Option<Duration>,
}

impl VmShared {
    pub fn lock(&self) -> MutexGuard<'_, VmDriverState> {
        // A poisoned lock means a panic mid-update of plain data; the data is still coherent
        // enough for teardown, so keep going.
        self.state.lock().ignore_poison()
    }

    pub fn functions(&self) -> MutexGuard<'_, Functions> {
        self.functions.lock().ignore_poison()
    }

    /// Guest memory as of START (empty before).
    pub fn guest_memory(&self) -> Arc<GuestMemory> {
        self.boot.get().map(|(m, _)| m.clone()).unwrap_or_default()
    }

    /// The boot PC: the PC boot register, else offset 0 of the region holding the DTB.
    pub fn entry_point(&self) -> u64 {
        self.boot.get().map_or(0, |(_, pc)| *pc)
    }

    /// The guest stopped (first report wins); every vCPU sees it.
    pub fn stop(&self, status: VmStatus) {
        let mut state = self.lock();
        if state.status == MockStatus::Running {
            state.status = MockStatus::Stopped(status);
        }
        self.notify(&state);
    }

    /// Wakes every vCPU to look at the VM again (its status, its kick, its doorbell's binding):
    /// those blocked on `wake`, and those polling a doorbell, through their wake eventfd —
    /// at once, as the driver's wait queues do. Call with `state` locked, so a vCPU cannot
    /// miss it between its check and its wait.
    pub fn notify(&self, state: &VmDriverState) {
        self.wake.notify_all();
        for slot in state.vcpus.values() {
            // A full counter (never, in practice) still wakes the poller.
            let _ = nix::unistd::write(slot.wake.as_ref(), &1u64.to_ne_bytes());
        }
    }
}

impl Drop for VmShared {
    /// The driver's last put: the VM is freed, now or once the modelled reset is over.
    fn drop(&mut self) {
        let state = self.state.get_mut().ignore_poison();
        let freed = Freed {
            counters: self.counters.clone(),
            registered: state.registered,
            locked: state.locked,
        };
        let Some(delay) = self.reset_delay else {
            return drop(freed);
        };
        if self.generation.is_a14() {
            // a14: `schedule_work(gh_vm_free)`; the close returns at once. Should no thread be
            // had, the closure (and `freed` with it) is dropped: freed now.
            let _ = std::thread::Builder::new()
                .name("mock-vm-free".into())
                .spawn(move || {
                    std::thread::sleep(delay);
                    drop(freed);
                });
        } else {
            // The later drivers: the closing thread waits for the reset.
            std::thread::sleep(delay);
            drop(freed);
        }
    }
}

/// A freed VM's share of the counters, given back when dropped.
struct Freed {
    counters: Arc<Counters>,
    registered: u64,
    locked: u64,
}

impl Drop for Freed {
    fn drop(&mut self) {
        let c = &self.counters;
        c.registered_bytes
            .fetch_sub(self.registered, Ordering::SeqCst);
        c.locked_bytes.fetch_sub(self.locked, Ordering::SeqCst);
        c.live_vms.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The VM fd of the mock.
#[derive(Debug)]
pub struct MockVm {
    shared: Arc<VmShared>,
    counters: Arc<Counters>,
    model: Model,
}

impl MockVm {
    pub(super) fn new(counters: Arc<Counters>, model: Model) -> Result<Self, Errno> {
        let fd = anon_fd("gunyah-vm")?;
        counters.live_vms.fetch_add(1, Ordering::SeqCst);
        let shared = Arc::new(VmShared {
            _fd: fd,
            state: Mutex::new(VmDriverState {
                status: MockStatus::Load,
                regions: Vec::new(),
                dtb: None,
                firmware: None,
                qtvm: None,
                boot_context: BTreeMap::new(),
                vcpus: BTreeMap::new(),
                registered: 0,
                locked: 0,
            }),
            functions: Mutex::new(Functions::default()),
            ioeventfd_signals: AtomicU64::new(0),
            boot: OnceLock::new(),
            wake: Condvar::new(),
            counters: counters.clone(),
            generation: model.generation,
            reset_delay: model.reset_delay,
        });
        Ok(Self {
            shared,
            counters,
            model,
        })
    }

    /// ENOTTY where the modelled generation has no such ioctl, as its driver answers.
    fn check_handled(&self, ioctl: DriverIoctl) -> HypResult<()> {
        if self.model.generation.handles(ioctl) {
            Ok(())
        } else {
            Err(Self::err(ioctl, Errno::ENOTTY))
        }
    }

    fn err(ioctl: DriverIoctl, errno: Errno) -> HypError {
        HypError::new(ioctl, errno)
    }

    /// REMOVE_FUNCTION of a vCPU: every generation finds it by id (early a14 compares the
    /// argument bytes, which are the id alone; late a14 is not known and modelled as the later
    /// drivers: docs/GENERATIONS.md). The function goes, the fd stays: a RUN inside the driver
    /// returns (immediate_exit is set) and every later RUN answers ENODEV. Nothing matched:
    /// ENOENT, but 0 on early a14.
    fn remove_vcpu(&self, id: u32) -> HypResult<()> {
        let mut state = self.shared.lock();
        match state.vcpus.remove(&id) {
            Some(slot) => {
                slot.removed.store(true, Ordering::SeqCst);
                self.shared.notify(&state);
                let _ = nix::unistd::write(slot.wake.as_ref(), &1u64.to_ne_bytes());
                Ok(())
            }
            None if self.model.generation == Generation::A14Early => Ok(()),
            None => Err(Self::err(DriverIoctl::RemoveFunction, Errno::ENOENT)),
        }
    }
}

impl Drop for MockVm {
    fn drop(&mut self) {
        // Closing the VM fd drops one reference. When it was the last (no vCPU fd open), the
        // a14 driver stops the VM and reclaims everything; `VmShared::drop` does that. vCPUs
        // still open keep the VM alive; wake them so they see it is going away.
        let state = self.shared.lock();
        self.shared.notify(&state);
    }
}

/// The checks of SET_USER_MEM_REGION / LEND_USER_MEM (`page` is the modelled kernel's), in the
/// driver's order (the flags check,
/// `flags & ~RWX`, cannot fail: `MemAccess` has no other bits). Labels are unique in a14 only;
/// the later drivers check overlap alone.
fn check_region(
    state: &VmDriverState,
    r: &UserMemoryRegion,
    generation: Generation,
    page: u64,
) -> Result<(), Errno> {
    // The process address is held to this kernel's page, not the modelled one: on a kernel
    // with bigger pages every mmap is aligned to them, here the service's are aligned to this
    // kernel's only.
    if r.size() == 0
        || r.size() % page != 0
        || r.memory.addr() % mman::page_size() != 0
        || r.guest_phys_addr % page != 0
    {
        return Err(Errno::EINVAL);
    }
    let range = r.range();
    if range.end().is_none() {
        return Err(Errno::EOVERFLOW);
    }
    for existing in &state.regions {
        if generation.is_a14() && existing.region.label == r.label {
            return Err(Errno::EEXIST);
        }
        let other = existing.region.range();
        if other.overlaps(&range) {
            return Err(Errno::EEXIST);
        }
    }
    Ok(())
}

impl VmBackend for MockVm {
    fn set_user_memory(&self, region: &UserMemoryRegion, mode: ShareMode) -> HypResult<()> {
        let ioctl = match mode {
            ShareMode::Share => DriverIoctl::SetUserMemRegion,
            ShareMode::Lend => DriverIoctl::LendUserMem,
        };
        check_fault(&self.model.faults, ioctl)?;
        let mut state = self.shared.lock();
        check_region(&state, region, self.model.generation, self.model.page_size)
            .map_err(|e| Self::err(ioctl, e))?;
        if self.model.generation.is_a14() {
            // a14 pins the pages and charges them to the memlock budget here. (The later
            // drivers record a binding only: see `Pager`.)
            if !self
                .counters
                .charge_locked(region.size(), self.model.memlock_limit)
            {
                return Err(Self::err(ioctl, Errno::ENOMEM));
            }
            // Pinning fails on memory the caller has not mapped.
            if !mman::is_mapped(region.memory.addr(), region.size()) {
                self.counters
                    .locked_bytes
                    .fetch_sub(region.size(), Ordering::SeqCst);
                return Err(Self::err(ioctl, Errno::EFAULT));
            }
            state.locked += region.size();
        }
        self.counters
            .registered_bytes
            .fetch_add(region.size(), Ordering::SeqCst);
        state.registered += region.size();
        // No state check: a region added after START is recorded but never reaches the guest.
        state.regions.push(MockRegion {
            region: region.clone(),
        });
        Ok(())
    }

    fn set_dtb_config(&self, range: GuestRange) -> HypResult<()> {
        check_fault(&self.model.faults, DriverIoctl::SetDtbConfig)?;
        if range.end().is_none() {
            return Err(Self::err(DriverIoctl::SetDtbConfig, Errno::EOVERFLOW));
        }
        // a14 rounds the size up to a page; the later drivers share `size >> PAGE_SHIFT` pages
        // (truncated). Checked against the regions at START.
        let page = self.model.page_size;
        let size = if self.model.generation.is_a14() {
            range.size.div_ceil(page) * page
        } else {
            range.size / page * page
        };
        self.shared.lock().dtb = Some(GuestRange {
            guest_phys_addr: range.guest_phys_addr,
            size,
        });
        Ok(())
    }

    fn set_firmware_config(&self, range: GuestRange) -> HypResult<()> {
        check_fault(&self.model.faults, DriverIoctl::SetFwConfig)?;
        if range.end().is_none() {
            return Err(Self::err(DriverIoctl::SetFwConfig, Errno::EOVERFLOW));
        }
        self.shared.lock().firmware = Some(range);
        Ok(())
    }

    fn set_qtvm_auth(&self, arg: &QtvmAuthArg) -> HypResult<()> {
        self.check_handled(DriverIoctl::SetAuthType)?;
        check_fault(&self.model.faults, DriverIoctl::SetAuthType)?;
        if arg.image.end().is_none() {
            return Err(Self::err(DriverIoctl::SetAuthType, Errno::EOVERFLOW));
        }
        self.shared.lock().qtvm = Some(*arg);
        Ok(())
    }

    fn set_boot_context(&self, reg: BootReg, value: u64) -> HypResult<()> {
        let ioctl = DriverIoctl::SetBootContext;
        self.check_handled(ioctl)?;
        check_fault(&self.model.faults, ioctl)?;
        // The driver decodes the raw encoding; a BootReg built by the service always decodes.
        let reg = BootReg::decode(reg.encode()).ok_or(Self::err(ioctl, Errno::EINVAL))?;
        let mut state = self.shared.lock();
        if state.status != MockStatus::Load {
            return Err(Self::err(ioctl, Errno::EINVAL));
        }
        state.boot_context.insert(reg, value);
        Ok(())
    }

    fn add_vcpu(&self, id: u32) -> HypResult<Box<dyn VcpuBackend>> {
        let ioctl = DriverIoctl::AddFunction;
        check_fault(&self.model.faults, ioctl)?;
        let mut state = self.shared.lock();
        if state.vcpus.contains_key(&id) {
            return Err(Self::err(ioctl, Errno::EEXIST));
        }
        let vcpu = MockVcpu::new(
            id,
            self.shared.clone(),
            self.counters.clone(),
            self.model.faults.clone(),
        )
        .map_err(|errno| Self::err(ioctl, errno))?;
        state.vcpus.insert(id, vcpu.slot());
        Ok(Box::new(vcpu))
    }

    fn start(&self) -> HypResult<()> {
        let ioctl = DriverIoctl::Start;
        let mut state = self.shared.lock();
        match state.status {
            MockStatus::Running => return Ok(()),
            MockStatus::InitFailed | MockStatus::Stopped(_) => {
                return Err(Self::err(ioctl, Errno::ENODEV))
            }
            MockStatus::Load => {}
        }
        if let Err(e) = check_fault(&self.model.faults, ioctl) {
            // Any START failure leaves the VM in INIT_FAILED.
            state.status = MockStatus::InitFailed;
            self.shared.notify(&state);
            return Err(e);
        }
        let dtb_inside = state.dtb.is_some_and(|dtb| {
            state
                .regions
                .iter()
                .any(|r| r.region.range().contains(&dtb))
        });
        let no_pages = state.dtb.map_or(true, |dtb| dtb.size == 0);
        if !dtb_inside || no_pages {
            state.status = MockStatus::InitFailed;
            self.shared.notify(&state);
            // Later drivers: zero DTB pages is EINVAL, a DTB in no binding ENOENT.
            let errno = if self.model.generation.is_a14() || no_pages {
                Errno::EINVAL
            } else {
                Errno::ENOENT
            };
            return Err(Self::err(ioctl, errno));
        }
        let dtb = state.dtb.unwrap_or(GuestRange {
            guest_phys_addr: 0,
            size: 0,
        });
        let entry = state
            .boot_context
            .get(&BootReg::PC)
            .copied()
            .unwrap_or_else(|| {
                state
                    .regions
                    .iter()
                    .map(|r| &r.region)
                    .find(|r| r.range().contains(&dtb))
                    .map_or(0, |r| r.guest_phys_addr)
            });
        // The later drivers pin (and charge) each page when the guest first touches it.
        let pager = self.model.generation.is_later().then(|| {
            Pager::new(
                self.counters.clone(),
                self.model.memlock_limit,
                self.model.page_size,
            )
        });
        let memory = GuestMemory::new(
            state.regions.iter().map(|r| r.region.clone()).collect(),
            pager,
        );
        // Regions added after START are recorded but never reach the guest: the guest keeps
        // this snapshot.
        let _ = self.shared.boot.set((Arc::new(memory), entry));
        state.status = MockStatus::Running;
        self.shared.notify(&state);
        Ok(())
    }

    fn check_extension(&self, extension: Extension) -> HypResult<bool> {
        self.check_handled(DriverIoctl::CheckExtension)?;
        // The newest driver knows one capability, and has it.
        Ok(match extension {
            Extension::VcpuTimerWakeup => true,
        })
    }

    fn add_irqfd(&self, eventfd: BorrowedFd<'_>, irqfd: Irqfd) -> HypResult<()> {
        let ioctl = DriverIoctl::AddFunction;
        check_fault(&self.model.faults, ioctl)?;
        self.shared
            .functions()
            .add_irqfd(eventfd, irqfd)
            .map_err(|e| Self::err(ioctl, e))?;
        // A vCPU waiting for this doorbell before it was bound now has one to poll.
        let state = self.shared.lock();
        self.shared.notify(&state);
        Ok(())
    }

    fn add_ioeventfd(&self, eventfd: BorrowedFd<'_>, ioeventfd: IoEventfd) -> HypResult<()> {
        let ioctl = DriverIoctl::AddFunction;
        check_fault(&self.model.faults, ioctl)?;
        self.shared
            .functions()
            .add_ioeventfd(eventfd, ioeventfd)
            .map_err(|e| Self::err(ioctl, e))
    }

    fn ioeventfd_signals(&self) -> Option<u64> {
        Some(self.shared.ioeventfd_signals.load(Ordering::Relaxed))
    }

    fn remove_function(&self, eventfd: BorrowedFd<'_>, arg: Function) -> HypResult<()> {
        if let Function::Vcpu(id) = arg {
            return self.remove_vcpu(id);
        }
        let mut functions = self.shared.functions();
        match self.model.generation {
            Generation::A14Early => functions.remove_exact(eventfd.as_raw_fd(), arg),
            Generation::A14Late => functions.remove_by_key(arg, Key::Address),
            _ => functions.remove_by_key(arg, Key::Full),
        }
        .map_err(|e| Self::err(DriverIoctl::RemoveFunction, e))?;
        drop(functions);
        // A vCPU waiting on a doorbell that was just unbound stops polling its eventfd.
        let state = self.shared.lock();
        self.shared.notify(&state);
        Ok(())
    }
}
