//! `IGunyahVm`: the binder object that owns one VM. Holding it is the capability to use the
//! VM, so its methods are not access-checked again (the owner may hand it to another process).
//! When the last reference is gone — the client drops it, exits or is killed — the `Vm` is
//! dropped and torn down.

use std::sync::Arc;

use crate::aidl::{
    GuestRange::GuestRange as AidlRange, IGunyahMmioHandler::IGunyahMmioHandler,
    IGunyahVm::IGunyahVm, IGunyahVmCallback::IGunyahVmCallback, IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig, VmExitInfo::VmExitInfo, VmState::VmState,
};

use crate::binder::{pfd_from, BinderResult, Interface, ParcelFileDescriptor, Strong};
use crate::error::{Error, IntoBinderResult, Result};
use crate::vm::Vm;
use gunyah_hypervisor::GuestRange;

/// The binder object of one VM.
pub struct GunyahVm {
    vm: Arc<Vm>,
}

impl GunyahVm {
    /// Wraps `vm`; the VM is torn down when this object is dropped.
    pub fn new(vm: Arc<Vm>) -> Self {
        Self { vm }
    }
}

impl Interface for GunyahVm {}

fn guest_range(field: &str, r: &AidlRange) -> Result<GuestRange> {
    let addr = u64::try_from(r.guestPhysAddr)
        .map_err(|_| Error::invalid(format!("{field}.guestPhysAddr"), "negative"))?;
    let size =
        u64::try_from(r.size).map_err(|_| Error::invalid(format!("{field}.size"), "negative"))?;
    Ok(GuestRange {
        guest_phys_addr: addr,
        size,
    })
}

/// Checks an `IoeventfdConfig`: address, size in {0, 1, 2, 4, 8}, no data match with size 0,
/// no overflow.
fn ioeventfd_args(config: &IoeventfdConfig) -> Result<(u64, u32, Option<u64>)> {
    let addr = u64::try_from(config.guestPhysAddr)
        .map_err(|_| Error::invalid("config.guestPhysAddr", "negative"))?;
    let size = u32::try_from(config.size)
        .ok()
        .filter(|s| matches!(s, 0 | 1 | 2 | 4 | 8))
        .ok_or_else(|| {
            Error::invalid(
                "config.size",
                format!("{} is not 0, 1, 2, 4 or 8", config.size),
            )
        })?;
    if config.matchData && size == 0 {
        return Err(Error::invalid(
            "config.matchData",
            "needs a size of 1, 2, 4 or 8",
        ));
    }
    if addr.checked_add(u64::from(size)).is_none() {
        return Err(Error::invalid("config", "guestPhysAddr + size overflows"));
    }
    // AIDL longs carry the 64-bit value's bits.
    Ok((addr, size, config.matchData.then_some(config.data as u64)))
}

impl IGunyahVm for GunyahVm {
    fn getId(&self) -> BinderResult<i32> {
        Ok(self.vm.info().id)
    }

    fn getState(&self) -> BinderResult<VmState> {
        Ok(self.vm.state())
    }

    fn start(&self) -> BinderResult<()> {
        self.vm.start().or_status("start")
    }

    fn destroy(&self) -> BinderResult<()> {
        self.vm.destroy();
        Ok(())
    }

    fn registerCallback(&self, callback: &Strong<dyn IGunyahVmCallback>) -> BinderResult<()> {
        self.vm
            .register_callback(callback)
            .or_status("registerCallback")
    }

    fn unregisterCallback(&self, callback: &Strong<dyn IGunyahVmCallback>) -> BinderResult<()> {
        self.vm
            .unregister_callback(callback)
            .or_status("unregisterCallback")
    }

    fn createIrqfd(&self, config: &IrqfdConfig) -> BinderResult<ParcelFileDescriptor> {
        u32::try_from(config.label)
            .map_err(|_| Error::invalid("config.label", format!("negative ({})", config.label)))
            .and_then(|label| self.vm.create_irqfd(label, config.levelTriggered))
            .map(pfd_from)
            .or_status("createIrqfd")
    }

    fn createIoeventfd(&self, config: &IoeventfdConfig) -> BinderResult<ParcelFileDescriptor> {
        ioeventfd_args(config)
            .and_then(|(addr, size, datamatch)| self.vm.create_ioeventfd(addr, size, datamatch))
            .map(pfd_from)
            .or_status("createIoeventfd")
    }

    fn setMmioHandler(
        &self,
        range: &AidlRange,
        handler: Option<&Strong<dyn IGunyahMmioHandler>>,
    ) -> BinderResult<()> {
        guest_range("range", range)
            .and_then(|r| self.vm.set_mmio_handler(r, handler.cloned()))
            .or_status("setMmioHandler")
    }

    fn getExitInfo(&self) -> BinderResult<Option<VmExitInfo>> {
        Ok(self.vm.exit_info())
    }
}
