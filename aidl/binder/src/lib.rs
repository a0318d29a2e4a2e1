//! The binder facade of the Gunyah VM interface: every difference between AOSP's `binder` crate
//! (libbinder_rs, on kernel binder with the service manager) and rsbinder (the host build: RPC
//! binder on a Unix socket, or kernel binder in the QEMU tier) lives in this crate, so the
//! service, the client library and the tests compile unchanged in both builds. It also carries
//! the host's socket plumbing (`host`: socket paths, the diagnostics route) and re-exports the
//! AIDL types under one path, `gunyah_binder::aidl` — the one place that names the generated
//! crate.

#![forbid(unsafe_code)]

/// The AIDL types, at the path both builds use.
pub use vendor_gunyahvm_hardware_gunyah::aidl::vendor::gunyahvm::hardware::gunyah as aidl;

/// Host-only plumbing: the socket the service listens on, the diagnostics route beside it, and
/// rsbinder connections to a named object (tests that serve objects of their own).
#[cfg(not(aosp))]
pub mod host {
    pub mod diagnostics;
    pub mod socket;
    pub use crate::arm::{wire, ConnectOptions, Connection};
}

// One arm per binder crate. Both export exactly the list below, so the service, the client
// library and the tests see one API whichever builds them.
#[cfg(aosp)]
#[path = "libbinder.rs"]
mod arm;
#[cfg(not(aosp))]
#[path = "rsbinder_host.rs"]
mod arm;

#[doc(hidden)]
pub use arm::__new_binder;
pub use arm::{
    calling_identity, classify, connect, declared_instances, dump, illegal_argument,
    join_thread_pool, pfd_as_fd, pfd_from, read_diagnostics, security_exception, service_specific,
    BinderFeatures, BinderResult, DeathLink, ExceptionCode, Interface, ParcelFileDescriptor,
    ServerHandle, Session, SpIBinder, Status, StatusCode, Strong, TransportResult,
};

/// How a server serves calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// Threads serving calls (on RPC this also bounds concurrent vCPU exits delivered to
    /// clients).
    pub max_threads: u32,
    /// Host RPC only: connections served at once, each on a worker thread of its own; more
    /// wait in the listen backlog (docs/THREAT_MODEL.md: idle sessions must not multiply the
    /// service's threads without end). Ignored with the service manager.
    pub max_connections: usize,
}

/// The service's default for [`ServeOptions::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// Publishes `binder` under `name` at `at`: with the service manager
/// ([`Target::ServiceManager`], [`Target::Instance`]; libbinder starts its thread pool, which
/// the caller joins with [`join_thread_pool`]), or on a host socket ([`Target::Socket`], the
/// path must not exist; INVALID_OPERATION on Android). Returns once it is reachable.
pub fn serve(
    name: &str,
    binder: SpIBinder,
    at: &Target,
    options: &ServeOptions,
) -> TransportResult<ServerHandle> {
    match at {
        Target::Socket(socket) => arm::serve_on_socket(name, binder, socket, options),
        Target::ServiceManager | Target::Instance(_) => {
            arm::serve_with_service_manager(name, binder, options.max_threads)
        }
    }
}

/// Publishes `manager` at `at`: [`MANAGER_INSTANCE`], or `<descriptor>/<name>` for
/// [`Target::Instance`], with the service manager; or on a host socket. See [`serve`].
pub fn serve_manager(
    manager: SpIBinder,
    at: &Target,
    options: &ServeOptions,
) -> TransportResult<ServerHandle> {
    let name = match at {
        Target::Instance(_) => at.to_string(),
        Target::Socket(_) | Target::ServiceManager => MANAGER_INSTANCE.to_string(),
    };
    serve(&name, manager, at, options)
}

/// Where the service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Its Unix socket (the host build: rsbinder RPC).
    Socket(std::path::PathBuf),
    /// The service manager of kernel binder: always on Android; on a Linux host with
    /// `binder_linux` and `rsb_hub` (the QEMU tier).
    ServiceManager,
    /// One named instance at the service manager, `<descriptor>/<instance>` (VTS runs against
    /// every instance a device declares).
    Instance(String),
}

impl Target {
    /// Android: the service manager. Host: `$GUNYAH_VM_SOCKET`, else the default socket path
    /// of `gunyah-vm-service`.
    pub fn from_env() -> Self {
        // The one difference between the arms: a service manager, or a socket path.
        arm::default_target()
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Socket(path) => write!(f, "{}", path.display()),
            Target::ServiceManager => f.write_str(MANAGER_INSTANCE),
            Target::Instance(name) => write!(f, "{MANAGER_DESCRIPTOR}/{name}"),
        }
    }
}

/// The identity of the process making the current incoming call (see `calling_identity`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Kernel-vouched uid (binder's, or SO_PEERCRED over RPC).
    pub uid: u32,
    /// Kernel-vouched pid (0 for a oneway call on kernel binder).
    pub pid: i32,
}

/// What a failed call reported, independent of the binder crate (see `classify`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// `EX_SECURITY`.
    Security(String),
    /// A service-specific error (`ErrorCode`) with its message.
    ServiceSpecific {
        /// The code.
        code: i32,
        /// The message.
        message: String,
    },
    /// The service's process is gone (`DEAD_OBJECT`).
    DeadObject,
    /// Any other exception or transport failure.
    Other(String),
}

/// The manager's interface descriptor.
pub const MANAGER_DESCRIPTOR: &str = "vendor.gunyahvm.hardware.gunyah.IGunyahVmManager";

/// The name the manager is registered under: `<descriptor>/default`.
pub const MANAGER_INSTANCE: &str = "vendor.gunyahvm.hardware.gunyah.IGunyahVmManager/default";

/// Creates a local binder object for an AIDL `Bn*` type.
#[macro_export]
macro_rules! new_binder {
    ($bn:ty, $obj:expr) => {
        $crate::__new_binder!($bn, $obj)
    };
}
