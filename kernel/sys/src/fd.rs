//! Plain fd operations on memfds and eventfds (seals, file type, read), as safe wrappers over
//! libc. nix changed these functions' fd argument from `RawFd` to `AsFd` in 0.30, and AOSP
//! trees carry nix 0.29 and 0.31 (tests/aosp/crates.toml): the service calls these instead of
//! depending on either signature.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::fcntl::SealFlag;

/// The seals of a memfd (`F_GET_SEALS`); `EINVAL` for a file that is not a memfd.
pub fn seals(fd: BorrowedFd<'_>) -> nix::Result<SealFlag> {
    // SAFETY: F_GET_SEALS takes no argument and only reads the open file's seals; `fd` is a
    // live descriptor for the borrow's lifetime.
    let bits = Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) })?;
    Ok(SealFlag::from_bits_truncate(bits))
}

/// Adds `seals` to a memfd (`F_ADD_SEALS`).
pub fn add_seals(fd: BorrowedFd<'_>, seals: SealFlag) -> nix::Result<()> {
    // SAFETY: F_ADD_SEALS takes an int of seal bits by value; `fd` is a live descriptor.
    Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals.bits()) })?;
    Ok(())
}

/// What `fstat` says of a file, as far as the service asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// A regular file (a memfd is one; pipes, sockets, devices and directories are not).
    pub regular: bool,
    /// Its size in bytes.
    pub size: u64,
}

/// `fstat(2)` of `fd`.
pub fn stat(fd: BorrowedFd<'_>) -> nix::Result<FileStat> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `stat` is a writable buffer of the size fstat fills; `fd` is a live descriptor.
    Errno::result(unsafe { libc::fstat(fd.as_raw_fd(), stat.as_mut_ptr()) })?;
    // SAFETY: fstat returned 0, so it filled the whole struct.
    let stat = unsafe { stat.assume_init() };
    Ok(FileStat {
        regular: stat.st_mode & libc::S_IFMT == libc::S_IFREG,
        size: u64::try_from(stat.st_size).unwrap_or(0),
    })
}

/// `read(2)` into `buf`: the byte count, or the errno.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<usize> {
    // SAFETY: `buf` is writable for `buf.len()` bytes; `fd` is a live descriptor.
    let n =
        Errno::result(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// Whether the file description of `fd` is non-blocking (`F_GETFL`'s `O_NONBLOCK`).
pub fn is_nonblocking(fd: BorrowedFd<'_>) -> nix::Result<bool> {
    // SAFETY: F_GETFL takes no argument and only reads the description's flags; `fd` is live.
    let flags = Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    Ok(flags & libc::O_NONBLOCK != 0)
}

/// Sets or clears `O_NONBLOCK` on the file description of `fd` (`F_SETFL`): for every holder
/// of the description, as a client sharing one can do to the service.
pub fn set_nonblocking(fd: BorrowedFd<'_>, nonblocking: bool) -> nix::Result<()> {
    let flags = if nonblocking { libc::O_NONBLOCK } else { 0 };
    // SAFETY: F_SETFL takes an int of status flags by value; `fd` is live.
    Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) })?;
    Ok(())
}

/// `RWF_NOWAIT` (linux/fs.h, Linux 4.14).
const RWF_NOWAIT: libc::c_int = 0x8;

/// `read(2)` that never sleeps, whatever the file description's `O_NONBLOCK` says:
/// `preadv2(2)` at the current position with `RWF_NOWAIT`, EAGAIN where a plain read would
/// wait. An eventfd honours it from Linux 5.8 (its `read_iter`); a file that does not answers
/// `EOPNOTSUPP`. For descriptions a client shares, which it can make blocking at any moment.
pub fn read_nowait(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `iov` describes `buf`, writable for its length for the whole call; offset -1
    // (both halves) means the file's current position, as read(2) uses; `fd` is live.
    let n = Errno::result(unsafe {
        libc::syscall(
            libc::SYS_preadv2,
            fd.as_raw_fd(),
            &iov as *const libc::iovec,
            1,
            -1 as libc::c_long,
            0 as libc::c_long,
            RWF_NOWAIT,
        )
    })?;
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn test_seals_round_trip_on_a_memfd() -> nix::Result<()> {
        let memfd = crate::memfd::create("seals", 4096).map_err(|_| Errno::EIO)?;
        assert_eq!(seals(memfd.as_fd())?, SealFlag::empty());
        add_seals(
            memfd.as_fd(),
            SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW,
        )?;
        assert_eq!(
            seals(memfd.as_fd())?,
            SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW
        );
        assert_eq!(
            stat(memfd.as_fd())?,
            FileStat {
                regular: true,
                size: 4096
            }
        );
        Ok(())
    }

    #[test]
    fn test_not_a_memfd() -> nix::Result<()> {
        let (r, _w) = nix::unistd::pipe()?;
        assert_eq!(seals(r.as_fd()), Err(Errno::EINVAL));
        assert!(!stat(r.as_fd())?.regular);
        Ok(())
    }

    #[test]
    fn test_read_returns_the_bytes() -> nix::Result<()> {
        let (r, w) = nix::unistd::pipe()?;
        assert_eq!(nix::unistd::write(&w, b"abc")?, 3);
        let mut buf = [0u8; 8];
        assert_eq!(read(r.as_fd(), &mut buf)?, 3);
        assert_eq!(&buf[..3], b"abc");
        Ok(())
    }
}
