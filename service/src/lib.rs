//! The Gunyah VM HAL service (`vendor.gunyahvm.hardware.gunyah`): the only process that opens
//! `/dev/gunyah`. Clients get one `IGunyahVm` binder object per VM; the VM lives exactly as
//! long as that object.
//!
//! Layers, top to bottom: `aidl_*` (binder adapters) → `manager` / `vm` (service logic) →
//! the crate `gunyah-hypervisor` (driver traits and the `/dev/gunyah` backend; the userspace
//! mock is the crate `gunyah-mock`) → `gunyah-sys` (the OS-facing crate, the only one with
//! `unsafe`). docs/ARCHITECTURE.md draws the whole crate graph.

#![forbid(unsafe_code)]

pub mod access;
pub mod aidl_manager;
pub mod aidl_vm;
pub mod backend;
pub mod error;
pub mod manager;
pub mod memory;
pub mod quota;
pub mod serve;
pub mod trace;
pub mod vm;

// The binder facade, the AIDL types and the contract's modules, under the paths the service's
// modules use.
use gunyah_binder as binder;
use gunyah_binder::aidl;
use gunyah_contract::{diagnostics as diag, names, vm_config as config};
