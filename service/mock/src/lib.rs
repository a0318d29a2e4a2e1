//! The userspace mock of the Gunyah driver: the a14 state machine and errno table of
//! `/dev/gunyah` (docs/DRIVER_ABI.md), in-process, answering ENOTTY for the ioctls the modelled
//! generation lacks (docs/GENERATIONS.md says what else differs per generation). Each VM and vCPU owns a real file descriptor (the
//! VM an empty memfd named like the driver's anon inode, a vCPU the eventfd that wakes it) so
//! leaks show in `/proc/<pid>/fd`. A second implementation of `gunyah-hypervisor`'s traits, in
//! a crate of its own so that only what serves a mock links it.

#![forbid(unsafe_code)]

mod functions;
mod interp;
mod memory;
mod vcpu;
mod vm;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;

use gunyah_hypervisor::{
    BackendKind, BackendStats, DriverAuth, DriverIoctl, Generation, HypCapabilities, HypError,
    HypResult, Hypervisor, VmBackend,
};

pub use vm::MockVm;

#[cfg(fuzzing)]
pub use interp::fuzz_run as fuzz_run_guest;

/// Counters shared by the mock and its objects.
#[derive(Debug, Default)]
struct Counters {
    live_vms: AtomicUsize,
    live_vcpus: AtomicUsize,
    registered_bytes: AtomicU64,
    /// Bytes charged to the memlock budget: every region at its ioctl (a14), else each page
    /// the guest has touched (demand paging).
    locked_bytes: AtomicU64,
    /// Times a vCPU waiting on a doorbell woke with nothing behind it (no ring, kick, stop or
    /// binding): a wait should sleep until one of those.
    idle_wakeups: AtomicU64,
}

impl Counters {
    /// Charges `bytes` to the memlock budget (RLIMIT_MEMLOCK of the real driver) unless that
    /// would pass `limit`; whether it was charged.
    fn charge_locked(&self, bytes: u64, limit: u64) -> bool {
        self.locked_bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |locked| {
                locked.checked_add(bytes).filter(|total| *total <= limit)
            })
            .is_ok()
    }
}

/// Injected failures: ioctl -> errno it fails with.
pub type Faults = HashMap<DriverIoctl, Errno>;

/// The ioctls the mock can be told to fail (`inject_fault`).
pub const FAULTABLE_IOCTLS: &[DriverIoctl] = &[
    DriverIoctl::CreateVm,
    DriverIoctl::SetUserMemRegion,
    DriverIoctl::LendUserMem,
    DriverIoctl::SetDtbConfig,
    DriverIoctl::SetFwConfig,
    DriverIoctl::SetAuthType,
    DriverIoctl::SetBootContext,
    DriverIoctl::AddFunction,
    DriverIoctl::Start,
    DriverIoctl::VcpuRun,
];

/// The generation a mock models unless told otherwise: the one Qualcomm devices launched
/// since 2024 run.
pub const DEFAULT_GENERATION: Generation = Generation::Ack66Late;

/// What the mock models, fixed when it is built and shared by every VM it creates.
#[derive(Debug, Clone)]
struct Model {
    /// The pinned-memory budget across all VMs (RLIMIT_MEMLOCK of the real driver).
    memlock_limit: u64,
    /// Injected failures.
    faults: Arc<Faults>,
    /// The driver generation.
    generation: Generation,
    /// How long the hypervisor takes to reset a VM after its last fd is closed.
    reset_delay: Option<Duration>,
    /// The page size of the modelled kernel: the alignment of every region's size and guest
    /// address, and the unit the later drivers pin and charge.
    page_size: u64,
}

/// The mock driver.
pub struct MockHypervisor {
    counters: Arc<Counters>,
    model: Model,
    android_ext: bool,
}

impl MockHypervisor {
    /// A mock with unlimited locked memory.
    pub fn new() -> Self {
        Self::with_memlock_limit(u64::MAX)
    }

    /// A mock whose pinned-memory budget (RLIMIT_MEMLOCK of the real driver) is `limit` bytes
    /// across all its VMs: a14 charges a region at its ioctl (ENOMEM there), the later drivers
    /// a page when the guest first touches it (a PAGE_FAULT exit with ENOMEM).
    pub fn with_memlock_limit(limit: u64) -> Self {
        Self {
            counters: Arc::default(),
            model: Model {
                memlock_limit: limit,
                faults: Arc::default(),
                generation: DEFAULT_GENERATION,
                reset_delay: None,
                page_size: gunyah_sys::mman::page_size(),
            },
            android_ext: true,
        }
    }

    /// Models a kernel whose page size is `size` bytes (a power of two, a multiple of this
    /// kernel's), e.g. a 16 KB-page device on a 4 KB host: a region's size and guest address
    /// must be multiples of it (its process address only of this kernel's page, all this
    /// kernel's mmaps promise), the later drivers pin and charge whole pages of it, and
    /// `capabilities()` reports it. The default is this kernel's page size.
    pub fn with_page_size(mut self, size: u64) -> Result<Self, String> {
        let kernel = gunyah_sys::mman::page_size();
        if !size.is_power_of_two() || size % kernel != 0 {
            return Err(format!(
                "page size {size}: not a power of two and a multiple of this kernel's page size ({kernel})"
            ));
        }
        self.model.page_size = size;
        Ok(self)
    }

    /// Models `generation`: ioctls it does not have answer ENOTTY, and only its VM kinds are
    /// offered. The upstream series is not modelled (the service refuses it).
    pub fn with_generation(mut self, generation: Generation) -> Result<Self, String> {
        if generation == Generation::Upstream {
            return Err(format!(
                "the mock models the Android common kernel drivers, not {generation}"
            ));
        }
        self.model.generation = generation;
        Ok(self)
    }

    /// Models the hypervisor's reset of a VM taking `delay` once its last fd is closed: the
    /// later drivers wait for it in the closing thread (docs/DRIVER_ABI.md §11), a14
    /// frees the VM on a workqueue and returns at once. The VM counts as live until then.
    pub fn with_reset_delay(mut self, delay: Duration) -> Self {
        self.model.reset_delay = Some(delay);
        self
    }

    /// Models a driver without the Android additions: no Android pVM or QTVM VMs.
    pub fn without_android_ext(mut self) -> Self {
        self.android_ext = false;
        self
    }

    /// Makes every later call of `ioctl` fail with `errno` (for testing error paths). Unknown
    /// ioctl names are refused.
    pub fn inject_fault(&mut self, ioctl: &str, errno: Errno) -> Result<(), String> {
        let ioctl = DriverIoctl::from_name(ioctl)
            .filter(|i| FAULTABLE_IOCTLS.contains(i))
            .ok_or_else(|| {
                let names: Vec<&str> = FAULTABLE_IOCTLS.iter().map(|i| i.name()).collect();
                format!(
                    "the mock cannot fail {ioctl:?}; one of {}",
                    names.join(", ")
                )
            })?;
        Arc::make_mut(&mut self.model.faults).insert(ioctl, errno);
        Ok(())
    }

    /// How often a vCPU waiting on a doorbell woke with nothing behind it (no ring, kick,
    /// stop or binding). The driver's wait queues never do; neither should the mock.
    pub fn idle_wakeups(&self) -> u64 {
        self.counters.idle_wakeups.load(Ordering::Relaxed)
    }
}

/// Fails `ioctl` if a fault was injected for it.
fn check_fault(faults: &Faults, ioctl: DriverIoctl) -> HypResult<()> {
    match faults.get(&ioctl) {
        Some(errno) => Err(HypError::new(ioctl, *errno)),
        None => Ok(()),
    }
}

impl Default for MockHypervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Hypervisor for MockHypervisor {
    fn capabilities(&self) -> HypCapabilities {
        HypCapabilities {
            backend: BackendKind::Mock,
            generation: self.model.generation,
            page_size: self.model.page_size,
            auth: if self.android_ext {
                DriverAuth::of(self.model.generation)
            } else {
                vec![]
            },
        }
    }

    fn create_vm(&self) -> HypResult<Box<dyn VmBackend>> {
        check_fault(&self.model.faults, DriverIoctl::CreateVm)?;
        let vm =
            MockVm::new(self.counters.clone(), self.model.clone()).map_err(|errno| HypError {
                call: DriverIoctl::CreateVm.into(),
                errno,
            })?;
        Ok(Box::new(vm))
    }

    fn stats(&self) -> BackendStats {
        BackendStats {
            live_vms: self.counters.live_vms.load(Ordering::SeqCst),
            live_vcpus: self.counters.live_vcpus.load(Ordering::SeqCst),
            registered_bytes: self.counters.registered_bytes.load(Ordering::SeqCst),
        }
    }
}

/// A named, empty memfd standing in for the driver's anon-inode fd.
fn anon_fd(name: &str) -> Result<std::os::fd::OwnedFd, Errno> {
    let name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    nix::sys::memfd::memfd_create(
        name.as_c_str(),
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
}

#[cfg(test)]
mod tests;
