//! The scripted guest: a tiny instruction set the mock drivers execute from guest memory, so
//! tests can make a guest do MMIO, wait for doorbells, write ioeventfd addresses, exit with a
//! reason, crash or fault — through the real service paths. `docs/GUEST_ISA.md` is the
//! specification; `isa` is its encoding and `asm` the assembler of its text form. Pure code:
//! no I/O, no `unsafe`; the client library uses it to load programs, the
//! userspace mock to run them.

#![forbid(unsafe_code)]

pub mod asm;
pub mod isa;
