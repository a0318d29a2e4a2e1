//! `vendor.gunyahvm.hardware.gunyah` for the host build, under the module path AOSP's
//! `vendor.gunyahvm.hardware.gunyah-V<N>-rust` crate uses (`aidl::vendor::gunyahvm::hardware::gunyah::…`), and
//! re-exporting its binder crate as `binder`, as AOSP's generated crates do.

pub use rsbinder as binder;

/// The generated code (rsbinder-aidl from `aidl/vendor/gunyahvm/hardware/gunyah/*.aidl`).
#[allow(missing_docs, clippy::all, unused)]
pub mod aidl {
    include!(concat!(
        env!("OUT_DIR"),
        "/vendor_gunyahvm_hardware_gunyah.rs"
    ));
}

/// Every frozen version (`frozen::v1`, `frozen::v2`, ...), each compiled from its snapshot in
/// `aidl/aidl_api/` (what AOSP builds the `-V<N>` crates from): proves each snapshot stands on
/// its own, and serves as the "old client" in compatibility tests.
#[doc(hidden)]
#[allow(missing_docs, clippy::all, unused)]
pub mod frozen {
    include!(concat!(env!("OUT_DIR"), "/frozen_versions.rs"));
}

/// The latest frozen version number (`getInterfaceVersion()`).
pub const VERSION: i32 = match i32::from_str_radix(env!("GUNYAH_AIDL_VERSION"), 10) {
    Ok(v) => v,
    Err(_) => panic!("GUNYAH_AIDL_VERSION"),
};

/// Its hash (`getInterfaceHash()`), from `aidl_api/vendor.gunyahvm.hardware.gunyah/<VERSION>/.hash`.
pub const HASH: &str = env!("GUNYAH_AIDL_HASH");
