//! The kernel interface: memory mappings now; the Gunyah ioctl structs and numbers per driver
//! generation join here. This is the only layer with `unsafe`; every block has a SAFETY line.
#![allow(unsafe_code)]

pub mod a14;
pub mod abi;
pub mod android;
pub mod fd;
pub mod ioctl;
pub mod kick;
pub mod mman;
pub mod process;
pub mod run_page;
pub mod upstream;

/// An ioctl request number.
pub type Ioctl = nix::sys::ioctl::ioctl_num_type;
