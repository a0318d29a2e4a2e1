//! Parcel decoding of every parcelable from arbitrary bytes: never panics; what decodes
//! re-encodes.
#![no_main]

use libfuzzer_sys::fuzz_target;

use vendor_gunyahvm_hardware_gunyah::aidl::vendor::gunyahvm::hardware::gunyah::{
    BootRegister::BootRegister, Capabilities::Capabilities, GuestRange::GuestRange,
    IoeventfdConfig::IoeventfdConfig, IrqfdConfig::IrqfdConfig, MemoryRegion::MemoryRegion,
    QtvmAuth::QtvmAuth, VmConfig::VmConfig, VmDescriptor::VmDescriptor, VmExitInfo::VmExitInfo,
};

macro_rules! roundtrip {
    ($bytes:expr, $($ty:ty),*) => {$(
        if let Ok(value) = rsbinder::from_bytes::<$ty>($bytes) {
            let _ = rsbinder::to_bytes(&value);
        }
    )*};
}

fuzz_target!(|data: &[u8]| {
    roundtrip!(
        data,
        VmConfig,
        MemoryRegion,
        GuestRange,
        BootRegister,
        QtvmAuth,
        IrqfdConfig,
        IoeventfdConfig,
        VmExitInfo,
        VmDescriptor,
        Capabilities
    );
});
