//! Reaching the service: its Unix socket on the host (RPC binder), the service manager on
//! Android and on a Linux host with kernel binder. One call, [`Client::connect`].

use gunyah_binder::aidl::{
    Capabilities::Capabilities, IGunyahVmManager::IGunyahVmManager, VmDescriptor::VmDescriptor,
};
use gunyah_binder::{Session, Strong};
use gunyah_contract::vm_config::Limits;

use crate::builder::VmBuilder;
use crate::error::{Error, Result};
use crate::vm::Vm;

pub use gunyah_binder::Target;

/// How many service-to-client connections an RPC client offers for callbacks and MMIO
/// handlers when none is asked for: enough for one VM with a few vCPUs. Kernel binder serves
/// callbacks from the thread pool instead.
pub const DEFAULT_CALLBACK_THREADS: u32 = 4;

/// A connection to the service. Keep it while any [`Vm`] from it is in use.
pub struct Client {
    manager: Strong<dyn IGunyahVmManager>,
    target: Target,
    /// Closes the session on drop (after the proxies, which are dropped first).
    _session: Session,
}

impl Client {
    /// Connects with [`DEFAULT_CALLBACK_THREADS`].
    pub fn connect(target: &Target) -> Result<Self> {
        Self::connect_with(target, DEFAULT_CALLBACK_THREADS)
    }

    /// Connects. `callback_threads` bounds how many callbacks and MMIO handler calls the
    /// service can make into this process at once over RPC (a VM whose vCPUs all exit to an
    /// MMIO handler wants `vcpus + 1`); 0 refuses callbacks. Kernel binder ignores it: on
    /// Android this waits for the instance (`default` unless [`Target::Instance`]) and starts
    /// the binder thread pool, which serves callbacks.
    pub fn connect_with(target: &Target, callback_threads: u32) -> Result<Self> {
        let (manager, session) =
            gunyah_binder::connect::<dyn IGunyahVmManager>(target, callback_threads).map_err(
                |reason| Error::Connect {
                    target: target.to_string(),
                    reason,
                },
            )?;
        Ok(Self {
            manager,
            target: target.clone(),
            _session: session,
        })
    }

    /// Where this client is connected.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The manager proxy, for calls the library does not wrap.
    pub fn manager(&self) -> &Strong<dyn IGunyahVmManager> {
        &self.manager
    }

    /// The service's binder `dump()`, what `dumpsys` prints. It travels as an fd the service
    /// writes to, so it needs kernel binder (Android, the QEMU tier); over an RPC socket read
    /// the diagnostics socket beside it instead (`gunyahctl dump` does).
    pub fn dump(&self, args: &[String]) -> Result<String> {
        use std::io::{Read, Seek};
        let io = |what: &str| {
            let what = what.to_string();
            move |error| Error::Io { what, error }
        };
        let mut file = gunyah_sys::memfd::create("gunyah-vm-dump", 0)
            .map_err(io("creating the dump's memfd"))?;
        let fd = std::os::fd::AsFd::as_fd(&file)
            .try_clone_to_owned()
            .map_err(io("duplicating the dump's memfd"))?;
        gunyah_binder::dump(self.manager.as_binder(), fd, args).map_err(|e| Error::Transport {
            call: "dump",
            message: format!("{e:?}"),
        })?;
        let mut text = String::new();
        file.rewind()
            .and_then(|_| file.read_to_string(&mut text))
            .map_err(io("reading the dump"))?;
        Ok(text)
    }

    /// What the service and its driver offer, and its limits.
    pub fn capabilities(&self) -> Result<Capabilities> {
        self.manager
            .getCapabilities()
            .map_err(|s| Error::call("getCapabilities", &s))
    }

    /// The caller's live VMs.
    pub fn list(&self) -> Result<Vec<VmDescriptor>> {
        self.manager
            .listVms()
            .map_err(|s| Error::call("listVms", &s))
    }

    /// Builds the config (images loaded into sealed memfds), checks it locally against the
    /// service's reported limits with the service's own rules, and creates the VM. The VM is
    /// not started; its callback is registered before this returns, so no state change is
    /// missed.
    pub fn create_vm(&self, builder: &VmBuilder) -> Result<Vm> {
        self.create_vm_with_progress(builder, &mut |_| {})
    }

    /// As [`Client::create_vm`], reporting image loading to `progress`.
    pub fn create_vm_with_progress(
        &self,
        builder: &VmBuilder,
        progress: &mut dyn FnMut(crate::image::Progress),
    ) -> Result<Vm> {
        let limits = Limits::from_capabilities(&self.capabilities()?);
        let config = builder.build(&limits, progress)?;
        let vm = self
            .manager
            .createVm(&config)
            .map_err(|s| Error::call("createVm", &s))?;
        // The memfds were duplicated into the service; ours close here.
        drop(config);
        Vm::attach(vm)
    }
}
