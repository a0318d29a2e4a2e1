//! The kernel interface: memory mappings now; the Gunyah ioctl structs and numbers per driver
//! generation join here. This is the only layer with `unsafe`; every block has a SAFETY line.
#![allow(unsafe_code)]

pub mod mman;
