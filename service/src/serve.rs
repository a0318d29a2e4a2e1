//! Start-up shared by both entry points (the host binary and the AOSP one): build the manager
//! from its configuration, publish `IGunyahVmManager` where the build says, and log one line
//! naming where it serves and with which driver.

use std::sync::Arc;

use crate::aidl::IGunyahVmManager::BnGunyahVmManager;
use crate::aidl_manager::GunyahVmManager;
use crate::binder::{self, ServeOptions, ServerHandle, StatusCode, Target};
use crate::manager::{ManagerConfig, VmManager};

/// Publishing the manager failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve {instance} at {at}: {status:?}")]
pub struct ServeError {
    /// The instance name.
    pub instance: String,
    /// Where it was to be served.
    pub at: Target,
    /// What the binder crate reported.
    pub status: StatusCode,
}

/// The running service: the manager and its registration. Dropping a host socket server ends
/// every client session (their VMs are torn down as the sessions' objects drop).
pub struct Running {
    /// The service logic (the host also routes diagnostics to it).
    pub manager: Arc<VmManager>,
    /// The registration; keep it for as long as the service serves.
    pub server: ServerHandle,
}

/// Builds the manager from `config` and publishes it at `at`. `driver` says, for the log,
/// which driver the hypervisor is (e.g. "the driver at /dev/gunyah").
pub fn start(
    config: ManagerConfig,
    at: &Target,
    options: &ServeOptions,
    driver: &str,
) -> Result<Running, ServeError> {
    let manager = Arc::new(VmManager::new(config));
    let service = binder::new_binder!(BnGunyahVmManager, GunyahVmManager::new(manager.clone()));
    let server =
        binder::serve_manager(service.as_binder(), at, options).map_err(|status| ServeError {
            instance: binder::MANAGER_INSTANCE.to_string(),
            at: at.clone(),
            status,
        })?;
    let place = match at {
        Target::Socket(path) => format!("on {}", path.display()),
        Target::ServiceManager | Target::Instance(_) => "with the service manager".to_string(),
    };
    log::info!(
        "serving {} {place}, with {driver}",
        binder::MANAGER_INSTANCE
    );
    Ok(Running { manager, server })
}
