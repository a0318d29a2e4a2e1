//! Connecting to the service: over its socket on the host, through the service manager on
//! Android.

use std::path::Path;

use anyhow::{anyhow, Result};

use crate::aidl::IGunyahVmManager::IGunyahVmManager;
use crate::binder::Strong;
#[cfg(not(aosp))]
use crate::binder::{ConnectOptions, Connection};

/// A connection and the manager proxy on it. Keep the connection while using the proxy and
/// any VM it returns.
pub struct ManagerClient {
    /// The manager.
    pub manager: Strong<dyn IGunyahVmManager>,
    /// Closes the session on drop (after the proxies).
    #[cfg(not(aosp))]
    pub connection: Connection,
}

/// Android: waits for the declared instance (the socket and connection count do not apply:
/// kernel binder serves callbacks from the thread pool).
#[cfg(aosp)]
pub fn connect(_socket: &Path, _incoming_connections: u32) -> Result<ManagerClient> {
    crate::binder::start_thread_pool();
    let manager = crate::binder::wait_for_manager::<dyn IGunyahVmManager>()
        .map_err(|e| anyhow!("{}: {e:?}", crate::binder::MANAGER_INSTANCE))?;
    Ok(ManagerClient { manager })
}

/// Connects through kernel binder (a Linux host with binder and `rsb_hub`, e.g. the QEMU tier).
#[cfg(not(aosp))]
pub fn connect_kernel() -> Result<ManagerClient> {
    let connection =
        Connection::open_kernel().map_err(|e| anyhow!("cannot open kernel binder: {e:?}"))?;
    let manager = connection
        .manager::<dyn IGunyahVmManager>()
        .map_err(|e| anyhow!("{}: {e:?}", crate::binder::MANAGER_INSTANCE))?;
    Ok(ManagerClient {
        manager,
        connection,
    })
}

/// Connects to the service at `socket`. `incoming_connections` must be > 0 for a client that
/// registers callbacks or MMIO handlers (at least `vcpuCount + 1` of its VMs).
#[cfg(not(aosp))]
pub fn connect(socket: &Path, incoming_connections: u32) -> Result<ManagerClient> {
    let connection = Connection::open(
        socket,
        &ConnectOptions {
            incoming_connections,
        },
    )
    .map_err(|e| {
        anyhow!(
            "cannot connect to the Gunyah VM service at {}: {e:?}",
            socket.display()
        )
    })?;
    let manager = connection
        .manager::<dyn IGunyahVmManager>()
        .map_err(|e| anyhow!("{}: no IGunyahVmManager there: {e:?}", socket.display()))?;
    Ok(ManagerClient {
        manager,
        connection,
    })
}
