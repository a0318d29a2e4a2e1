//! The hypervisor abstraction: a `Hypervisor` creates VMs, a `VmBackend` configures and starts
//! one, a `VcpuBackend` runs one vCPU. Shaped after crosvm's `hypervisor` crate and the a14
//! Gunyah driver: each call corresponds to one driver ioctl and fails with its errno. The real
//! backend, `gunyah` (`/dev/gunyah`: the driver on a device, or gunyah_mock.ko), lives here;
//! the userspace mock is a second implementation of the same traits in its own crate
//! (`gunyah-mock`). No `unsafe`: the ioctls are `gunyah-sys`'s.

#![forbid(unsafe_code)]

// The VM model the traits take (plain data, in the OS-facing crate; the contract validates
// configs into it).
pub use gunyah_sys::model::{
    BootReg, BootRegSet, Datamatch, GuestRange, IoEventfd, Irqfd, MemAccess, QtvmAuthArg,
    ShareMode, TriggerMode,
};

pub mod gunyah;

use std::os::fd::BorrowedFd;
use std::sync::Arc;

use nix::errno::Errno;

// Every driver call by name.
pub use gunyah_sys::driver_call::{DriverCall, DriverIoctl};
// Process memory a VM is given, kept mapped while the driver may use it.
pub use gunyah_sys::mman::UserMemory;

/// A failed driver call (usually an ioctl) and the errno it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{call} failed: {errno}")]
pub struct HypError {
    /// The call, e.g. `GH_VM_SET_USER_MEM_REGION`.
    pub call: DriverCall,
    /// The errno.
    pub errno: Errno,
}

impl HypError {
    /// `call` failed with `errno`.
    pub fn new(call: impl Into<DriverCall>, errno: Errno) -> Self {
        Self {
            call: call.into(),
            errno,
        }
    }
}

/// Result of a driver call.
pub type HypResult<T> = Result<T, HypError>;

// The driver generations (data from docs/DRIVER_ABI.md, in the OS-facing crate).
pub use gunyah_sys::generation::Generation;

/// VM kinds at the driver level (besides a plain VM, which needs no call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverAuth {
    /// Android protected VM (driver auth type 0), configured with SET_FW_CONFIG.
    AndroidPvm,
    /// Qualcomm trusted VM (driver auth type 1), configured with SET_AUTH_TYPE.
    QcomTrustedVm,
}

impl DriverAuth {
    /// The kinds a driver generation supports: Android pVMs through SET_FW_CONFIG everywhere;
    /// QTVMs through SET_AUTH_TYPE, which exists from ack66-late.
    pub fn of(generation: Generation) -> Vec<DriverAuth> {
        let mut kinds = vec![];
        if generation.handles(DriverIoctl::SetFwConfig) {
            kinds.push(DriverAuth::AndroidPvm);
        }
        if generation.handles(DriverIoctl::SetAuthType) {
            kinds.push(DriverAuth::QcomTrustedVm);
        }
        kinds
    }
}

/// Which implementation of the traits a backend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The userspace mock (`gunyah-mock`).
    Mock,
    /// A `/dev/gunyah` driver: a device's, or gunyah_mock.ko.
    Gunyah,
}

impl BackendKind {
    /// Its name in `Capabilities.backend` and the diagnostics: `mock` or `gunyah`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Mock => "mock",
            BackendKind::Gunyah => "gunyah",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a backend offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HypCapabilities {
    /// Which backend it is.
    pub backend: BackendKind,
    /// The driver generation: probed for `/dev/gunyah`, modelled by the mock.
    pub generation: Generation,
    /// Authenticated VM kinds the driver supports.
    pub auth: Vec<DriverAuth>,
    /// The page size the driver works in: every region's size, process address and guest
    /// address must be a multiple of it (the kernel's PAGE_SIZE; the mock's modelled one).
    pub page_size: u64,
}

/// Counters a backend keeps for diagnostics and leak tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendStats {
    /// VMs whose last reference is not yet gone.
    pub live_vms: usize,
    /// vCPUs whose fd is open.
    pub live_vcpus: usize,
    /// Bytes of guest memory registered with live VMs.
    pub registered_bytes: u64,
}

/// A memory region as the driver sees it (`gh_userspace_memory_region`): the guest's range and
/// the process memory behind it, which the backend keeps mapped while the driver may use it.
#[derive(Debug, Clone)]
pub struct UserMemoryRegion {
    /// Unique label.
    pub label: u32,
    /// What the guest may do.
    pub access: MemAccess,
    /// Guest physical address.
    pub guest_phys_addr: u64,
    /// The service's memory for it (`userspace_addr`, `memory_size`).
    pub memory: UserMemory,
}

impl UserMemoryRegion {
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.memory.len()
    }

    /// The guest physical range it covers.
    pub fn range(&self) -> GuestRange {
        GuestRange {
            guest_phys_addr: self.guest_phys_addr,
            size: self.size(),
        }
    }
}

/// How a guest stopped, as the driver reports it in a STATUS exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmStatus {
    /// GH_VM_STATUS_LOAD_FAILED.
    LoadFailed,
    /// GH_VM_STATUS_EXITED with `gh_vm_exit_info`.
    Exited {
        /// `exit_info.type`.
        exit_type: u16,
        /// `exit_info.reason[..reason_size]` (at most 8 bytes).
        reason: Vec<u8>,
    },
    /// GH_VM_STATUS_CRASHED.
    Crashed,
}

/// Why `VcpuBackend::run` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VcpuExit {
    /// The guest accessed unbacked memory. Reads complete on the next `run` with the data set
    /// by `set_mmio_read_data`.
    Mmio {
        /// Guest physical address.
        phys_addr: u64,
        /// Access size in bytes (1, 2, 4 or 8).
        len: u32,
        /// `Some(value)` for a write, `None` for a read.
        write: Option<u64>,
    },
    /// The VM stopped; every later `run` returns the same status.
    Status(VmStatus),
    /// A guest access the driver could not back with memory (PAGE_FAULT, ack66-early and
    /// later): no region covers `phys_addr`, a write hit a read-only region, or the page could
    /// not be pinned. The next `run` retries the same access.
    PageFault {
        /// Guest physical address.
        phys_addr: u64,
        /// Why (the driver's negative `attempt`, as a positive errno).
        errno: Errno,
    },
}

/// `mmio.resume_action` of the later generations' run page (docs/GENERATIONS.md, "vCPU RUN"):
/// the byte a VMM writes after an MMIO exit. Any byte can be written; the driver takes HANDLED
/// and FAULT and answers the next RUN with EINVAL for anything else, RETRY included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioResumeAction(pub u8);

impl MmioResumeAction {
    /// `GUNYAH_VCPU_RESUME_HANDLED` (0): the access was emulated (a read takes `mmio.data`).
    pub const HANDLED: Self = Self(0);
    /// `GUNYAH_VCPU_RESUME_FAULT` (1): inject a fault into the guest for the access.
    pub const FAULT: Self = Self(1);
    /// `GUNYAH_VCPU_RESUME_RETRY` (2): defined in the header, refused by RUN (EINVAL).
    pub const RETRY: Self = Self(2);
}

/// Interrupts a vCPU's `run` from another thread (immediate_exit + a wake-up).
pub trait VcpuKicker: Send + Sync {
    /// Makes the current or next `run` return EINTR.
    fn kick(&self);
}

/// One vCPU (its fd and run page). Used by one thread at a time.
pub trait VcpuBackend: Send {
    /// The vCPU id.
    fn id(&self) -> u32;
    /// GH_VCPU_RUN: runs until an exit; EINTR when kicked or interrupted.
    fn run(&mut self) -> HypResult<VcpuExit>;
    /// The value the guest's pending MMIO read receives on the next `run`.
    fn set_mmio_read_data(&mut self, data: u64);
    /// How the next `run` resumes after an MMIO exit (the run page's `mmio.resume_action`,
    /// ack66-early and later; the driver presets HANDLED at every MMIO exit, and an a14 driver
    /// has no such field). The conformance suite sets every value a VMM can write.
    fn set_mmio_resume_action(&mut self, action: MmioResumeAction);
    /// A handle that kicks this vCPU from other threads.
    fn kicker(&self) -> Arc<dyn VcpuKicker>;
}

/// One VM (its fd). Methods correspond to driver ioctls, in the boot order of a VMM.
pub trait VmBackend: Send + Sync {
    /// GH_VM_SET_USER_MEM_REGION (share) or GH_VM_ANDROID_LEND_USER_MEM (lend).
    fn set_user_memory(&self, region: &UserMemoryRegion, mode: ShareMode) -> HypResult<()>;
    /// GH_VM_SET_DTB_CONFIG.
    fn set_dtb_config(&self, range: GuestRange) -> HypResult<()>;
    /// GH_VM_ANDROID_SET_FW_CONFIG (makes the VM an Android pVM).
    fn set_firmware_config(&self, range: GuestRange) -> HypResult<()>;
    /// GH_VM_ANDROID_SET_AUTH_TYPE with a QTVM argument.
    fn set_qtvm_auth(&self, arg: &QtvmAuthArg) -> HypResult<()>;
    /// GH_VM_SET_BOOT_CONTEXT.
    fn set_boot_context(&self, reg: BootReg, value: u64) -> HypResult<()>;
    /// GH_VM_ADD_FUNCTION(VCPU): a new vCPU holding a reference to the VM.
    fn add_vcpu(&self, id: u32) -> HypResult<Box<dyn VcpuBackend>>;
    /// GH_VM_START.
    fn start(&self) -> HypResult<()>;
    /// GH_VM_CHECK_EXTENSION (the newest ACK): whether the driver has `extension`. Drivers
    /// without the ioctl answer ENOTTY, which callers read as "no". The service asks nothing of
    /// it yet; the conformance suite holds each generation to its answer.
    fn check_extension(&self, extension: Extension) -> HypResult<bool>;
    /// GH_VM_ADD_FUNCTION(IRQFD): writing `eventfd` rings the doorbell. The driver keeps its
    /// own reference to the eventfd.
    fn add_irqfd(&self, eventfd: BorrowedFd<'_>, irqfd: Irqfd) -> HypResult<()>;
    /// GH_VM_ADD_FUNCTION(IOEVENTFD): guest writes that match signal `eventfd` instead of
    /// exiting.
    fn add_ioeventfd(&self, eventfd: BorrowedFd<'_>, ioeventfd: IoEventfd) -> HypResult<()>;
    /// GH_VM_REMOVE_FUNCTION: removes the function `function` added with `eventfd` (not part
    /// of a vCPU's argument), as the driver matches it. The early a14 driver answers 0 even
    /// when none matched. The service never removes a function (teardown closes the VM);
    /// the conformance suite and the fuzzers do.
    fn remove_function(&self, eventfd: BorrowedFd<'_>, function: Function) -> HypResult<()>;
    /// Guest writes that signalled one of this VM's ioeventfds so far, where the driver
    /// counts them (the userspace mock); the kernel driver tells userspace nothing of them.
    fn ioeventfd_signals(&self) -> Option<u64> {
        None
    }
}

/// A capability `GH_VM_CHECK_EXTENSION` asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension {
    /// `GH_CAP_VCPU_TIMER_WAKEUP`: the kernel wakes a vCPU at its timer deadline.
    VcpuTimerWakeup,
}

/// A function as added (REMOVE_FUNCTION names one by these arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// A vCPU, by id (`gh_fn_vcpu_arg`). Once removed, RUN on its fd fails with ENODEV.
    Vcpu(u32),
    /// An irqfd.
    Irqfd(Irqfd),
    /// An ioeventfd.
    Ioeventfd(IoEventfd),
}

/// A hypervisor driver.
pub trait Hypervisor: Send + Sync {
    /// What this driver offers.
    fn capabilities(&self) -> HypCapabilities;
    /// GH_CREATE_VM.
    fn create_vm(&self) -> HypResult<Box<dyn VmBackend>>;
    /// Live-object counters (the mock counts its own; a real driver reports what it can).
    fn stats(&self) -> BackendStats {
        BackendStats::default()
    }
}
