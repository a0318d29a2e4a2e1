//! A mock vCPU. Until the scripted guest runs here, a started vCPU idles (like a guest in WFI)
//! until it is kicked or its VM stops.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::errno::Errno;

use super::vm::{MockStatus, VmShared};
use super::{anon_fd, Counters};
use crate::hyp::{HypError, HypResult, VcpuBackend, VcpuExit, VcpuKicker, VmStatus};

/// The run page's `immediate_exit` byte plus the wake-up a signal would give.
struct Kick {
    immediate_exit: AtomicBool,
    vm: std::sync::Weak<VmShared>,
}

impl VcpuKicker for Kick {
    fn kick(&self) {
        self.immediate_exit.store(true, Ordering::SeqCst);
        if let Some(vm) = self.vm.upgrade() {
            // Take the lock so the wake-up cannot fall between the vCPU's check and its wait.
            let _state = vm.lock();
            vm.wake.notify_all();
        }
    }
}

/// A vCPU fd ("gh-vcpu:<id>"); holds a reference to its VM.
pub(super) struct MockVcpu {
    id: u32,
    _fd: OwnedFd,
    vm: Arc<VmShared>,
    kick: Arc<Kick>,
    counters: Arc<Counters>,
}

impl MockVcpu {
    pub fn new(id: u32, vm: Arc<VmShared>, counters: Arc<Counters>) -> Result<Self, Errno> {
        let fd = anon_fd(&format!("gh-vcpu:{id}"))?;
        counters.live_vcpus.fetch_add(1, Ordering::SeqCst);
        let kick = Arc::new(Kick {
            immediate_exit: AtomicBool::new(false),
            vm: Arc::downgrade(&vm),
        });
        Ok(Self {
            id,
            _fd: fd,
            vm,
            kick,
            counters,
        })
    }
}

impl Drop for MockVcpu {
    fn drop(&mut self) {
        self.vm.lock().vcpus.remove(&self.id);
        self.counters.live_vcpus.fetch_sub(1, Ordering::SeqCst);
    }
}

impl VcpuBackend for MockVcpu {
    fn id(&self) -> u32 {
        self.id
    }

    fn run(&mut self) -> HypResult<VcpuExit> {
        let err = |errno| HypError {
            ioctl: "GH_VCPU_RUN",
            errno,
        };
        let mut state = self.vm.lock();
        loop {
            match &state.status {
                MockStatus::Load => return Err(err(Errno::ENODEV)),
                MockStatus::InitFailed => return Ok(VcpuExit::Status(VmStatus::LoadFailed)),
                MockStatus::Stopped(status) => return Ok(VcpuExit::Status(status.clone())),
                MockStatus::Running => {}
            }
            if self.kick.immediate_exit.load(Ordering::SeqCst) {
                return Err(err(Errno::EINTR));
            }
            state = self.vm.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn set_mmio_read_data(&mut self, _data: u64) {
        // This guest never takes MMIO exits, so there is no pending read to complete.
    }

    fn kicker(&self) -> Arc<dyn VcpuKicker> {
        self.kick.clone()
    }
}
