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

/// Host-only plumbing: the socket the service listens on and the diagnostics route beside it.
#[cfg(not(aosp))]
pub mod host {
    pub mod diagnostics;
    pub mod socket;
}

#[cfg(aosp)]
mod libbinder;
#[cfg(aosp)]
pub use libbinder::*;

#[cfg(not(aosp))]
mod rsbinder_host;
#[cfg(not(aosp))]
pub use rsbinder_host::*;

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
        default_target()
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
