//! The contract of the Gunyah VM interface beyond its AIDL types: the limits a service
//! enforces, the names of its enums, and the validation of every parcelable of a `VmConfig`
//! into a typed plan (`vm_config`) and of the per-VM calls' parcelables (`vm_calls`), including what the memory behind each region must be
//! (`memfd`). The service validates with it before touching the driver; the client library
//! validates with the same rules before calling, so both name the same field for the same
//! mistake. It validates into the typed VM model of `gunyah_sys::model`, which the hypervisor
//! traits take. No binder calls, no driver, no guest assembler: a client links it freely.

#![forbid(unsafe_code)]

pub mod diagnostics;
pub mod error;
pub mod generation;
pub mod memfd;
pub mod mmio_ring;
pub mod names;
pub mod size;
pub mod vm_calls;
pub mod vm_config;

// The AIDL types and the binder facade, under the paths the modules use.
use gunyah_binder as binder;
use gunyah_binder::aidl;
