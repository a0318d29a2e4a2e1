//! The smallest valid `VmConfig`, shared by the client crate (`gunyah-vm-client`) and the
//! service's own tests (their memfds come from `gunyah_sys::memfd`).

pub mod demo;
