//! Guest memory for a `MemoryRegion`: a memfd of the region's size, sealed against shrinking
//! and growing, with optional images written into it.

#![forbid(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;

use nix::fcntl::SealFlag;
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};

use crate::mman::SharedMapping;

/// A memfd of `size` bytes named `name`, not yet sealed.
pub fn create(name: &str, size: u64) -> io::Result<File> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let fd: OwnedFd = memfd_create(
        cname.as_c_str(),
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )?;
    let file = File::from(fd);
    file.set_len(size)?;
    Ok(file)
}

/// Writes `bytes` at `offset` of the memfd.
pub fn write_at(file: &File, offset: u64, bytes: &[u8]) -> io::Result<()> {
    file.write_all_at(bytes, offset)
}

/// Seals the size of the memfd (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), as the service
/// requires.
pub fn seal_size(file: &File) -> io::Result<()> {
    let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
    crate::fd::add_seals(file.as_fd(), seals)?;
    Ok(())
}

/// A sealed, zeroed memfd of `size` bytes.
pub fn sealed(name: &str, size: u64) -> io::Result<File> {
    let file = create(name, size)?;
    seal_size(&file)?;
    Ok(file)
}

/// A sealed, zeroed memfd of `size` bytes mapped read-write in this process: memory a driver
/// can pin (tests, the conformance suite, fuzzers). Untouched pages cost nothing.
pub fn mapped(name: &str, size: u64) -> io::Result<(File, SharedMapping)> {
    let file = sealed(name, size)?;
    let len = usize::try_from(size)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mapping = SharedMapping::map(file.as_fd(), 0, len, true)?;
    Ok((file, mapping))
}
