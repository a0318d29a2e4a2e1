//! The binder facade: every difference between AOSP's `binder` crate (libbinder_rs) and
//! rsbinder lives in this module, so the rest of the service compiles unchanged in both builds.
//!
//! The AIDL types themselves are imported by both builds from the same path, `crate::aidl::…`
//! (the one place that names the generated crate is `lib.rs`).

#[cfg(aosp)]
mod libbinder;
#[cfg(aosp)]
pub use libbinder::*;

#[cfg(not(aosp))]
mod rsbinder_host;
#[cfg(not(aosp))]
pub use rsbinder_host::*;

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
        $crate::binder::__new_binder!($bn, $obj)
    };
}
