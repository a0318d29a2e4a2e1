//! The `/dev/gunyah` backend: the real driver on a Qualcomm device, or `gunyah_mock.ko`. Every
//! call is one ioctl through `gunyah_sys::ioctl`; errno becomes a `HypError` naming the ioctl.

mod counters;
mod vcpu;

use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;

use super::{
    BackendKind, BackendStats, BootReg, Datamatch, DriverAuth, DriverCall, DriverIoctl, Extension,
    Function, Generation, GuestRange, HypCapabilities, HypError, HypResult, Hypervisor, IoEventfd,
    Irqfd, MemAccess, QtvmAuthArg, ShareMode, TriggerMode, UserMemoryRegion, VcpuBackend,
    VmBackend,
};
use gunyah_sys::a14::{
    gh_fn_ioeventfd_arg, gh_fn_irqfd_arg, gh_fn_vcpu_arg, gh_vm_dtb_config, GH_FN_IOEVENTFD,
    GH_FN_IRQFD, GH_FN_VCPU, GH_IOEVENTFD_FLAGS_DATAMATCH, GH_IRQFD_FLAGS_LEVEL, GH_MEM_ALLOW_EXEC,
    GH_MEM_ALLOW_READ, GH_MEM_ALLOW_WRITE,
};
use gunyah_sys::android::{
    gh_vm_boot_context, gh_vm_firmware_config, gunyah_qtvm_auth_arg, GH_CAP_VCPU_TIMER_WAKEUP,
};
use gunyah_sys::generation::{Probe, ProbeAnswer, ProbeAnswers};
use gunyah_sys::vm_fd::VmFd;
use gunyah_sys::{ioctl, kick};

/// The default device path.
pub const DEFAULT_DEVICE: &str = "/dev/gunyah";

fn err(call: impl Into<DriverCall>) -> impl Fn(Errno) -> HypError {
    let call = call.into();
    move |errno| HypError { call, errno }
}

/// An open Gunyah device.
#[derive(Debug)]
pub struct GunyahHypervisor {
    dev: OwnedFd,
    path: PathBuf,
    generation: Generation,
    counters: Arc<counters::Counters>,
}

/// Why a device cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Opening it or creating the probe VM failed.
    #[error(transparent)]
    Call(#[from] HypError),
    /// Its answers to the probes match no known generation (see `gunyahctl abi`).
    #[error(
        "unknown Gunyah driver: its probe answers match no known generation \
         (`gunyahctl abi` lists each generation's): {answers}"
    )]
    Unknown {
        /// What it answered.
        answers: ProbeAnswers,
    },
    /// A generation this service does not drive.
    #[error(
        "UNSUPPORTED: the {generation} Gunyah driver ({}) is recognised but not supported: \
         this service drives the Android common kernel drivers (a14-early, a14-late, ack66-early, \
         ack66-late, ack-newest)",
        generation.kernels()
    )]
    Unsupported {
        /// The generation.
        generation: Generation,
    },
}

/// Which generation the device is: every probe of the table in docs/GENERATIONS.md, from a VM this
/// process creates (and closes), matched against every generation's row.
fn probe(dev: &OwnedFd) -> Result<Generation, OpenError> {
    let vm = ioctl::create_vm(dev.as_fd()).map_err(err(DriverIoctl::CreateVm))?;
    let mut answers = [ProbeAnswer::Value(0); Probe::ALL.len()];
    for (answer, p) in answers.iter_mut().zip(Probe::ALL) {
        *answer = ioctl::probe(p, dev.as_fd(), vm.as_fd());
    }
    drop(vm);
    let answers = ProbeAnswers(answers);
    log::debug!("probe answers: {answers}");
    served_generation(answers)
}

/// The generation whose row `answers` match, if the service drives it.
fn served_generation(answers: ProbeAnswers) -> Result<Generation, OpenError> {
    match Generation::identify(&answers) {
        None => Err(OpenError::Unknown { answers }),
        Some(Generation::Upstream) => Err(OpenError::Unsupported {
            generation: Generation::Upstream,
        }),
        Some(generation) => Ok(generation),
    }
}

impl GunyahHypervisor {
    /// Opens the device at `path` and identifies its generation.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let dev: OwnedFd = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| HypError {
                call: DriverCall::Open,
                errno: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            })?
            .into();
        kick::install_kick_handler().map_err(err(DriverCall::Sigaction))?;
        let generation = probe(&dev)?;
        log::info!(
            "{}: the {generation} driver ({})",
            path.display(),
            generation.kernels()
        );
        Ok(Self {
            dev,
            path: path.to_path_buf(),
            generation,
            counters: Arc::default(),
        })
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Hypervisor for GunyahHypervisor {
    fn capabilities(&self) -> HypCapabilities {
        HypCapabilities {
            backend: BackendKind::Gunyah,
            generation: self.generation,
            auth: DriverAuth::of(self.generation),
            page_size: gunyah_sys::mman::page_size(),
        }
    }

    fn create_vm(&self) -> HypResult<Box<dyn VmBackend>> {
        let vm = VmFd::create(self.dev.as_fd()).map_err(err(DriverIoctl::CreateVm))?;
        Ok(Box::new(GunyahVmFd {
            vm,
            counted: self.counters.new_vm(),
        }))
    }

    /// The VMs, vCPUs and guest memory the service holds in the driver (its own fds).
    fn stats(&self) -> BackendStats {
        self.counters.stats()
    }
}

/// `gh_fn_irqfd_arg`, the same bytes for ADD_FUNCTION and REMOVE_FUNCTION.
fn irqfd_arg(eventfd: BorrowedFd<'_>, irqfd: Irqfd) -> gh_fn_irqfd_arg {
    gh_fn_irqfd_arg {
        fd: eventfd.as_raw_fd() as u32,
        label: irqfd.label,
        flags: match irqfd.trigger {
            TriggerMode::Level => GH_IRQFD_FLAGS_LEVEL,
            TriggerMode::Edge => 0,
        },
        padding: 0,
    }
}

/// `gh_fn_ioeventfd_arg`, the same bytes for ADD_FUNCTION and REMOVE_FUNCTION.
fn ioeventfd_arg(eventfd: BorrowedFd<'_>, ioeventfd: IoEventfd) -> gh_fn_ioeventfd_arg {
    let (flags, datamatch) = match ioeventfd.datamatch {
        Datamatch::Value(value) => (GH_IOEVENTFD_FLAGS_DATAMATCH, value),
        Datamatch::Any => (0, 0),
    };
    gh_fn_ioeventfd_arg {
        datamatch,
        addr: ioeventfd.addr,
        len: ioeventfd.len,
        fd: eventfd.as_raw_fd(),
        flags,
        padding: 0,
    }
}

/// `GH_MEM_ALLOW_*` bits of `access`.
fn access_bits(access: MemAccess) -> u32 {
    [
        (access.read, GH_MEM_ALLOW_READ),
        (access.write, GH_MEM_ALLOW_WRITE),
        (access.exec, GH_MEM_ALLOW_EXEC),
    ]
    .into_iter()
    .filter(|(allowed, _)| *allowed)
    .fold(0, |bits, (_, bit)| bits | bit)
}

/// A VM fd of the device (not to be confused with the service's `IGunyahVm` binder object).
#[derive(Debug)]
pub struct GunyahVmFd {
    /// The VM fd, with the memory given to the driver.
    vm: VmFd,
    // After `fd`: counts the VM until the fd and every vCPU fd are closed.
    counted: Arc<counters::VmRef>,
}

impl VmBackend for GunyahVmFd {
    fn set_user_memory(&self, region: &UserMemoryRegion, mode: ShareMode) -> HypResult<()> {
        let (lend, name) = match mode {
            ShareMode::Share => (false, DriverIoctl::SetUserMemRegion),
            ShareMode::Lend => (true, DriverIoctl::LendUserMem),
        };
        self.vm
            .set_user_memory(
                region.label,
                access_bits(region.access),
                region.guest_phys_addr,
                region.memory.clone(),
                lend,
            )
            .map_err(err(name))?;
        self.counted.registered(region.size());
        Ok(())
    }

    fn set_dtb_config(&self, range: GuestRange) -> HypResult<()> {
        let raw = gh_vm_dtb_config {
            guest_phys_addr: range.guest_phys_addr,
            size: range.size,
        };
        ioctl::set_dtb_config(self.vm.as_fd(), &raw).map_err(err(DriverIoctl::SetDtbConfig))
    }

    fn set_firmware_config(&self, range: GuestRange) -> HypResult<()> {
        let raw = gh_vm_firmware_config {
            guest_phys_addr: range.guest_phys_addr,
            size: range.size,
        };
        ioctl::set_fw_config(self.vm.as_fd(), &raw).map_err(err(DriverIoctl::SetFwConfig))
    }

    fn set_qtvm_auth(&self, arg: &QtvmAuthArg) -> HypResult<()> {
        let raw = gunyah_qtvm_auth_arg {
            vm_id: arg.vm_id,
            pas_id: arg.pas_id,
            guest_phys_addr: arg.image.guest_phys_addr,
            size: arg.image.size,
        };
        ioctl::set_qtvm_auth(self.vm.as_fd(), &raw).map_err(err(DriverIoctl::SetAuthType))
    }

    fn set_boot_context(&self, reg: BootReg, value: u64) -> HypResult<()> {
        let raw = gh_vm_boot_context {
            reg: reg.encode(),
            reserved: 0,
            value,
        };
        ioctl::set_boot_context(self.vm.as_fd(), &raw).map_err(err(DriverIoctl::SetBootContext))
    }

    fn add_vcpu(&self, id: u32) -> HypResult<Box<dyn VcpuBackend>> {
        let vcpu = vcpu::GunyahVcpu::new(&self.vm, id, self.counted.new_vcpu())?;
        Ok(Box::new(vcpu))
    }

    fn start(&self) -> HypResult<()> {
        ioctl::start(self.vm.as_fd()).map_err(err(DriverIoctl::Start))
    }

    fn check_extension(&self, extension: Extension) -> HypResult<bool> {
        let cap = match extension {
            Extension::VcpuTimerWakeup => GH_CAP_VCPU_TIMER_WAKEUP,
        };
        ioctl::check_extension(self.vm.as_fd(), cap)
            .map(|answer| answer > 0)
            .map_err(err(DriverIoctl::CheckExtension))
    }

    fn add_irqfd(&self, eventfd: BorrowedFd<'_>, irqfd: Irqfd) -> HypResult<()> {
        ioctl::add_function(self.vm.as_fd(), GH_FN_IRQFD, &irqfd_arg(eventfd, irqfd))
            .map(drop)
            .map_err(err(DriverIoctl::AddFunction))
    }

    fn add_ioeventfd(&self, eventfd: BorrowedFd<'_>, ioeventfd: IoEventfd) -> HypResult<()> {
        let arg = ioeventfd_arg(eventfd, ioeventfd);
        ioctl::add_function(self.vm.as_fd(), GH_FN_IOEVENTFD, &arg)
            .map(drop)
            .map_err(err(DriverIoctl::AddFunction))
    }

    fn remove_function(&self, eventfd: BorrowedFd<'_>, function: Function) -> HypResult<()> {
        let vm = self.vm.as_fd();
        match function {
            Function::Vcpu(id) => ioctl::remove_function(vm, GH_FN_VCPU, &gh_fn_vcpu_arg { id }),
            Function::Irqfd(irqfd) => {
                ioctl::remove_function(vm, GH_FN_IRQFD, &irqfd_arg(eventfd, irqfd))
            }
            Function::Ioeventfd(ioeventfd) => {
                ioctl::remove_function(vm, GH_FN_IOEVENTFD, &ioeventfd_arg(eventfd, ioeventfd))
            }
        }
        .map_err(err(DriverIoctl::RemoveFunction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_every_ack_generation_is_served() {
        for g in [
            Generation::A14Early,
            Generation::A14Late,
            Generation::Ack66Early,
            Generation::Ack66Late,
            Generation::AckNewest,
        ] {
            assert_eq!(served_generation(g.probe_answers()), Ok(g));
        }
    }

    #[test]
    fn test_upstream_is_recognised_and_refused() {
        let e = served_generation(Generation::Upstream.probe_answers()).unwrap_err();
        assert_eq!(
            e,
            OpenError::Unsupported {
                generation: Generation::Upstream
            }
        );
        assert!(e
            .to_string()
            .starts_with("UNSUPPORTED: the upstream Gunyah driver"));
    }

    #[test]
    fn test_an_unknown_pattern_lists_every_answer() {
        // An ack66-late driver whose policy lacks RECLAIM_REGION: EACCES, not a guess.
        let mut answers = Generation::Ack66Late.probe_answers();
        answers.0[4] = ProbeAnswer::Errno(Errno::EACCES);
        let message = served_generation(answers).unwrap_err().to_string();
        assert!(message.starts_with("unknown Gunyah driver"), "{message}");
        for p in Probe::ALL {
            assert!(message.contains(p.ioctl().name()), "{message}");
        }
        assert!(message.contains("GH_VM_RECLAIM_REGION=EACCES"), "{message}");
    }
}
