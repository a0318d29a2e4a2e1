//! `android.hardware.gunyah` V1 for the host build, under the module path AOSP's
//! `android.hardware.gunyah-V1-rust` crate uses (`aidl::android::hardware::gunyah::…`), and
//! re-exporting its binder crate as `binder`, as AOSP's generated crates do.

pub use rsbinder as binder;

/// The generated code (rsbinder-aidl from `aidl/android/hardware/gunyah/*.aidl`).
#[allow(missing_docs, clippy::all, unused)]
pub mod aidl {
    include!(concat!(env!("OUT_DIR"), "/android_hardware_gunyah.rs"));
}
