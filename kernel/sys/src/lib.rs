//! The OS-facing layer of the Gunyah VM service, and the only crate with `unsafe`: the Gunyah
//! driver's structs and ioctl numbers per driver generation (`a14`, `android`, `upstream`, the
//! data-only ABI table `abi`, the generations and their probe table `generation`) with their ioctl wrappers, vCPU run pages, the kick signal,
//! shared memory mappings, memfds and plain fd calls, the poison-tolerant lock helper (`sync`), and the typed VM model those calls take
//! (`model`). Every `unsafe` block sits behind a safe
//! function and carries a `// SAFETY:` line; every other crate forbids `unsafe`. The client
//! library uses it for memfds and eventfds without linking a hypervisor backend.

pub mod a14;
pub mod abi;
pub mod aio;
pub mod android;
pub mod driver_call;
pub mod eventfd;
pub mod fd;
pub mod generation;
pub mod ioctl;
pub mod kick;
pub mod memfd;
pub mod mman;
pub mod model;
pub mod pidfd;
pub mod process;
pub mod run_page;
pub mod scm;
pub mod shared_words;
pub mod sync;
pub mod upstream;
pub mod vm_fd;

/// An ioctl request number.
pub type Ioctl = nix::sys::ioctl::ioctl_num_type;
