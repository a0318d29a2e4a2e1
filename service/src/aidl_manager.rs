//! `IGunyahVmManager`: thin adapters from binder calls to `VmManager`, with the caller's
//! identity from the transport and errors mapped once.

use std::sync::Arc;

use crate::aidl::{
    Capabilities::Capabilities,
    IGunyahVm::{BnGunyahVm, IGunyahVm},
    IGunyahVmManager::IGunyahVmManager,
    VmConfig::VmConfig,
    VmDescriptor::VmDescriptor,
};

use crate::aidl_vm::GunyahVm;
use crate::binder::{calling_identity, BinderResult, Strong};
use crate::error::OrStatus;
use crate::manager::VmManager;

/// The binder object registered as `IGunyahVmManager/default`.
pub struct GunyahVmManager {
    core: Arc<VmManager>,
}

impl GunyahVmManager {
    /// Serves `core`.
    pub fn new(core: Arc<VmManager>) -> Self {
        Self { core }
    }

    /// binder `dump()`: the manager's diagnostics.
    pub fn dump_text(&self, _args: &[String]) -> String {
        self.core.dump_text()
    }
}

gunyah_binder::impl_interface_with_dump!(GunyahVmManager);

impl IGunyahVmManager for GunyahVmManager {
    fn createVm(&self, config: &VmConfig) -> BinderResult<Strong<dyn IGunyahVm>> {
        let vm = self
            .core
            .create_vm(&calling_identity(), config)
            .or_status("createVm")?;
        Ok(gunyah_binder::new_binder!(BnGunyahVm, GunyahVm::new(vm)))
    }

    fn getCapabilities(&self) -> BinderResult<Capabilities> {
        self.core
            .capabilities(&calling_identity())
            .or_status("getCapabilities")
    }

    fn listVms(&self) -> BinderResult<Vec<VmDescriptor>> {
        self.core.list_vms(&calling_identity()).or_status("listVms")
    }
}
