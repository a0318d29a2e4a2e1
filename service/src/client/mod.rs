//! Client-side guest memory, shared by the client crate (`gunyah-vm-client`) and the service's
//! own tests: sealed memfds, and the smallest valid `VmConfig`.

pub mod demo;
pub mod memfd;
