//! Every call into the Gunyah driver by name: the ioctls of every generation (`DriverIoctl`,
//! with its kernel name and number) and the few non-ioctl calls a backend makes
//! (`DriverCall`). Errors, fault injection, the probe table and the SELinux cross-check all
//! name ioctls through these, never through string literals.

#![forbid(unsafe_code)]

use std::fmt;

use super::a14::*;
use super::android::*;
use super::upstream::{GUNYAH_CREATE_GUEST_MEM, GUNYAH_VM_MAP_MEM};
use super::Ioctl;

macro_rules! driver_ioctls {
    ($($(#[$doc:meta])* $variant:ident = $name:ident,)*) => {
        /// An ioctl of the Gunyah driver (any generation).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DriverIoctl {
            $($(#[$doc])* $variant,)*
        }

        impl DriverIoctl {
            /// Every ioctl.
            pub const ALL: &'static [DriverIoctl] = &[$(DriverIoctl::$variant,)*];

            /// The kernel name (the upstream series spells the shared ones `GUNYAH_*`).
            pub fn name(self) -> &'static str {
                match self {
                    $(DriverIoctl::$variant => stringify!($name),)*
                }
            }

            /// The request number.
            pub fn number(self) -> Ioctl {
                match self {
                    $(DriverIoctl::$variant => $name,)*
                }
            }
        }
    };
}

driver_ioctls! {
    /// `GH_CREATE_VM` on `/dev/gunyah`.
    CreateVm = GH_CREATE_VM,
    /// `GH_VM_SET_USER_MEM_REGION`.
    SetUserMemRegion = GH_VM_SET_USER_MEM_REGION,
    /// `GH_VM_SET_DTB_CONFIG`.
    SetDtbConfig = GH_VM_SET_DTB_CONFIG,
    /// `GH_VM_START`.
    Start = GH_VM_START,
    /// `GH_VM_ADD_FUNCTION`.
    AddFunction = GH_VM_ADD_FUNCTION,
    /// `GH_VCPU_RUN` on a vCPU fd.
    VcpuRun = GH_VCPU_RUN,
    /// `GH_VCPU_MMAP_SIZE` on a vCPU fd.
    VcpuMmapSize = GH_VCPU_MMAP_SIZE,
    /// `GH_VM_REMOVE_FUNCTION`.
    RemoveFunction = GH_VM_REMOVE_FUNCTION,
    /// `GH_VM_SET_BOOT_CONTEXT` (ack66-early and later).
    SetBootContext = GH_VM_SET_BOOT_CONTEXT,
    /// `GH_ANDROID_TENTATIVE_UAPI` on `/dev/gunyah` (a14).
    TentativeUapi = GH_ANDROID_TENTATIVE_UAPI,
    /// `GH_VM_ANDROID_LEND_USER_MEM`.
    LendUserMem = GH_VM_ANDROID_LEND_USER_MEM,
    /// `GH_VM_ANDROID_SET_FW_CONFIG`.
    SetFwConfig = GH_VM_ANDROID_SET_FW_CONFIG,
    /// `GH_VM_RECLAIM_REGION` (ack66-late and later).
    ReclaimRegion = GH_VM_RECLAIM_REGION,
    /// `GH_ANDROID_CREATE_CMA_MEM_FD` on a CMA device (ack66-late and later).
    CreateCmaMemFd = GH_ANDROID_CREATE_CMA_MEM_FD,
    /// `GH_VM_ANDROID_MAP_CMA_MEM` (ack66-late and later).
    MapCmaMem = GH_VM_ANDROID_MAP_CMA_MEM,
    /// `GH_VM_ANDROID_SET_AUTH_TYPE` (ack66-late and later).
    SetAuthType = GH_VM_ANDROID_SET_AUTH_TYPE,
    /// `GH_VM_CHECK_EXTENSION` (the newest ACK).
    CheckExtension = GH_VM_CHECK_EXTENSION,
    /// `GUNYAH_CREATE_GUEST_MEM` on `/dev/gunyah` (upstream series).
    CreateGuestMem = GUNYAH_CREATE_GUEST_MEM,
    /// `GUNYAH_VM_MAP_MEM` (upstream series).
    MapMem = GUNYAH_VM_MAP_MEM,
}

impl DriverIoctl {
    /// The ioctl called `name`.
    pub fn from_name(name: &str) -> Option<DriverIoctl> {
        Self::ALL.iter().copied().find(|i| i.name() == name)
    }
}

impl fmt::Display for DriverIoctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A call into the driver that can fail: an ioctl, or one of the few other calls a backend
/// makes on its fds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DriverCall {
    /// An ioctl.
    Ioctl(DriverIoctl),
    /// Opening the device.
    Open,
    /// Installing the vCPU kick signal handler.
    Sigaction,
    /// Mapping a vCPU's run page.
    MmapRunPage,
}

impl From<DriverIoctl> for DriverCall {
    fn from(ioctl: DriverIoctl) -> Self {
        DriverCall::Ioctl(ioctl)
    }
}

impl fmt::Display for DriverCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverCall::Ioctl(ioctl) => f.write_str(ioctl.name()),
            DriverCall::Open => f.write_str("open"),
            DriverCall::Sigaction => f.write_str("sigaction"),
            DriverCall::MmapRunPage => f.write_str("mmap(vcpu)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_names_are_unique_and_round_trip() {
        for i in DriverIoctl::ALL {
            assert_eq!(DriverIoctl::from_name(i.name()), Some(*i));
        }
        assert_eq!(DriverIoctl::from_name("GH_VM_NOPE"), None);
        assert_eq!(DriverIoctl::SetBootContext.number(), 0x4010470a);
        assert_eq!(
            DriverCall::from(DriverIoctl::Start).to_string(),
            "GH_VM_START"
        );
    }
}
