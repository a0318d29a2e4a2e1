//! A vCPU of the device: its fd, its mmap'ed run page, and a kicker that can interrupt the
//! thread blocked in `GH_VCPU_RUN`.

use std::os::fd::AsFd;
use std::sync::Arc;

use nix::errno::Errno;

use super::err;
use crate::{
    DriverCall, DriverIoctl, HypError, HypResult, MmioResumeAction, VcpuBackend, VcpuExit,
    VcpuKicker, VmStatus,
};
use gunyah_sys::a14::{
    GH_VCPU_EXIT_MMIO, GH_VCPU_EXIT_STATUS, GH_VM_MAX_EXIT_REASON_SIZE, GH_VM_STATUS_CRASHED,
    GH_VM_STATUS_EXITED, GH_VM_STATUS_LOAD_FAILED,
};
use gunyah_sys::android::GUNYAH_VCPU_EXIT_PAGE_FAULT;
use gunyah_sys::ioctl;
use gunyah_sys::kick::KickTarget;
use gunyah_sys::run_page::RunPage;
use gunyah_sys::vm_fd::{VcpuFd, VmFd};

struct Kicker {
    page: Arc<RunPage>,
    /// The thread inside `GH_VCPU_RUN`, signalled only while it is there.
    target: KickTarget,
}

impl VcpuKicker for Kicker {
    fn kick(&self) {
        self.page.set_immediate_exit(true);
        if let Err(e) = self.target.kick() {
            log::warn!("kicking a vCPU thread failed: {e}");
        }
    }
}

/// A vCPU fd and its run page.
pub(super) struct GunyahVcpu {
    id: u32,
    kicker: Arc<Kicker>,
    // Unmapped before the fd is closed.
    page: Arc<RunPage>,
    fd: VcpuFd,
    // After `fd`: counts the vCPU (and holds the VM's count) until the fd is closed.
    _counted: super::counters::VcpuRef,
}

impl GunyahVcpu {
    pub fn new(vm: &VmFd, id: u32, counted: super::counters::VcpuRef) -> HypResult<Self> {
        let fd = vm.add_vcpu(id).map_err(err(DriverIoctl::AddFunction))?;
        let size = ioctl::vcpu_mmap_size(fd.as_fd()).map_err(err(DriverIoctl::VcpuMmapSize))?;
        let page = Arc::new(RunPage::map(fd.as_fd(), size).map_err(err(DriverCall::MmapRunPage))?);
        let kicker = Arc::new(Kicker {
            page: page.clone(),
            target: KickTarget::new(),
        });
        Ok(Self {
            id,
            kicker,
            page,
            fd,
            _counted: counted,
        })
    }

    fn exit(&self) -> HypResult<VcpuExit> {
        match self.page.exit_reason() {
            GH_VCPU_EXIT_MMIO => {
                let mmio = self.page.mmio();
                let len = mmio.len.min(8);
                let write = (mmio.is_write != 0).then(|| {
                    let mut bytes = [0u8; 8];
                    bytes[..len as usize].copy_from_slice(&mmio.data[..len as usize]);
                    u64::from_le_bytes(bytes)
                });
                Ok(VcpuExit::Mmio {
                    phys_addr: mmio.phys_addr,
                    len,
                    write,
                })
            }
            GH_VCPU_EXIT_STATUS => {
                let status = self.page.status();
                Ok(VcpuExit::Status(match status.status {
                    GH_VM_STATUS_LOAD_FAILED => VmStatus::LoadFailed,
                    GH_VM_STATUS_EXITED => {
                        let info = status.exit_info;
                        let n = info.reason_size.min(GH_VM_MAX_EXIT_REASON_SIZE) as usize;
                        VmStatus::Exited {
                            exit_type: info.type_,
                            reason: info.reason[..n].to_vec(),
                        }
                    }
                    GH_VM_STATUS_CRASHED => VmStatus::Crashed,
                    other => {
                        log::warn!(
                            "vcpu {}: unknown VM status {other}; reporting a crash",
                            self.id
                        );
                        VmStatus::Crashed
                    }
                }))
            }
            GUNYAH_VCPU_EXIT_PAGE_FAULT => {
                let fault = self.page.page_fault();
                // `attempt` is a negative errno; anything else is reported as EFAULT.
                let errno = match fault.attempt.checked_neg() {
                    Some(e) if e > 0 => Errno::from_raw(e),
                    _ => Errno::EFAULT,
                };
                Ok(VcpuExit::PageFault {
                    phys_addr: fault.phys_addr,
                    errno,
                })
            }
            other => {
                log::error!("vcpu {}: unknown exit reason {other}", self.id);
                Err(HypError {
                    call: DriverIoctl::VcpuRun.into(),
                    errno: Errno::EPROTO,
                })
            }
        }
    }
}

impl VcpuBackend for GunyahVcpu {
    fn id(&self) -> u32 {
        self.id
    }

    fn run(&mut self) -> HypResult<VcpuExit> {
        let fd = self.fd.as_fd();
        self.kicker
            .target
            .while_kickable(|| ioctl::vcpu_run(fd))
            .map_err(err(DriverIoctl::VcpuRun))?;
        self.exit()
    }

    fn set_mmio_read_data(&mut self, data: u64) {
        self.page.set_mmio_data(data.to_le_bytes());
    }

    fn set_mmio_resume_action(&mut self, action: MmioResumeAction) {
        self.page.set_mmio_resume_action(action.0);
    }

    fn kicker(&self) -> Arc<dyn VcpuKicker> {
        self.kicker.clone()
    }
}
