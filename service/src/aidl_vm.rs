//! `IGunyahVm`: the binder object that owns one VM. Holding it is the capability to use the
//! VM, so its methods are not access-checked again (the owner may hand it to another process).
//! When the last reference is gone — the client drops it, exits or is killed — the `Vm` is
//! dropped and torn down.

use std::sync::Arc;

use crate::aidl::{
    GuestRange::GuestRange as AidlRange, IGunyahMmioHandler::IGunyahMmioHandler,
    IGunyahVm::IGunyahVm, IGunyahVmCallback::IGunyahVmCallback, IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig, MmioRing::MmioRing, MmioRingRequest::MmioRingRequest,
    VmExitInfo::VmExitInfo, VmState::VmState,
};

use crate::binder::{pfd_from, BinderResult, Interface, ParcelFileDescriptor, Strong};
use crate::error::{Error, OrStatus};
use crate::vm::Vm;
use gunyah_contract::vm_calls;

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
        vm_calls::irqfd(config)
            .map_err(Error::from)
            .and_then(|irqfd| self.vm.create_irqfd(irqfd))
            .map(pfd_from)
            .or_status("createIrqfd")
    }

    fn createIoeventfd(&self, config: &IoeventfdConfig) -> BinderResult<ParcelFileDescriptor> {
        vm_calls::ioeventfd(config)
            .map_err(Error::from)
            .and_then(|ioeventfd| self.vm.create_ioeventfd(ioeventfd))
            .map(pfd_from)
            .or_status("createIoeventfd")
    }

    fn setMmioHandler(
        &self,
        range: &AidlRange,
        handler: Option<&Strong<dyn IGunyahMmioHandler>>,
    ) -> BinderResult<()> {
        vm_calls::mmio_range(range)
            .map_err(Error::from)
            .and_then(|r| self.vm.set_mmio_handler(r, handler.cloned()))
            .or_status("setMmioHandler")
    }

    fn getExitInfo(&self) -> BinderResult<Option<VmExitInfo>> {
        Ok(self.vm.exit_info())
    }

    fn setMmioRing(&self, request: &MmioRingRequest) -> BinderResult<MmioRing> {
        vm_calls::mmio_ring_request(request)
            .map_err(Error::from)
            .and_then(|(range, fault_answers)| {
                let caller = crate::binder::calling_identity();
                self.vm.set_mmio_ring(range, fault_answers, caller.pid)
            })
            .or_status("setMmioRing")
    }
}
