//! The client library of the Gunyah VM service (`vendor.gunyahvm.hardware.gunyah`): what framework
//! code and tools use instead of hand-building memfds and parcelables.
//!
//! ```no_run
//! use std::time::Duration;
//! use gunyah_vm_client::{Client, Image, Target, VmBuilder};
//!
//! # fn main() -> gunyah_vm_client::Result<()> {
//! let client = Client::connect(&Target::from_env())?;
//! let vm = client.create_vm(
//!     &VmBuilder::new("guest")
//!         .vcpus(2)
//!         .memory(0x8000_0000, 256 << 20)
//!         .kernel(Image::file("Image", 0x8000_0000))
//!         .dtb(Image::file("guest.dtb", 0x8800_0000)),
//! )?;
//! vm.start()?;
//! let exit = vm.wait_for_exit(Some(Duration::from_secs(60)))?;
//! println!("guest stopped: {exit:?}");
//! # Ok(())
//! # }
//! ```
//!
//! Lifetime: a [`Vm`] holds the VM's binder. The service tears the VM down when no process
//! holds it any more — this handle dropped, the process exited or killed — or at
//! [`Vm::destroy`]. Keep the [`Client`] while its VMs are in use.

#![forbid(unsafe_code)]

pub mod builder;
pub mod config_file;
pub mod connect;
pub mod demo;
pub mod error;
pub mod eventfd;
pub mod image;
pub mod mmio;
mod mmio_ring;
pub mod vm;

pub use builder::{Auth, Region, VmBuilder};
pub use connect::{Client, Target};
pub use error::{Error, Result};
pub use eventfd::EventFd;
pub use image::{Image, Progress};
pub use mmio::MmioHandler;
pub use vm::{ExitInfo, Vm, VmEvent};

/// The AIDL types (`VmState`, `VmExitType`, …), as generated for this build.
pub use gunyah_binder::aidl;
/// Names of AIDL enum values (`names::vm_state(state)` is `"RUNNING"`).
pub use gunyah_contract::names;
