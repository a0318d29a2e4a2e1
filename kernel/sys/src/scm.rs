//! Passing fds to another process over a Unix socket (`SCM_RIGHTS`), with nix's `sendmsg` and
//! `recvmsg`: the one place a received descriptor number becomes an `OwnedFd`. Written to
//! compile against both nix versions AOSP trees carry (0.29: `recvmsg` takes `&mut Vec<u8>`,
//! 0.31: `&mut [u8]`; `Some(&mut buffer)` coerces to either).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// The most fds one call passes.
pub const MAX_FDS: usize = 8;

/// Sends one byte and `fds` (at most [`MAX_FDS`]) over the connected Unix socket `socket`.
pub fn send_fds(socket: BorrowedFd<'_>, fds: &[BorrowedFd<'_>]) -> nix::Result<()> {
    if fds.is_empty() || fds.len() > MAX_FDS {
        return Err(Errno::EINVAL);
    }
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    // A message needs data to carry fds: one byte.
    let iov = [IoSlice::new(&[0u8])];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&raw)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(drop)
}

/// Receives the byte and the fds [`send_fds`] sent (close-on-exec). EPROTO when none came.
pub fn recv_fds(socket: BorrowedFd<'_>) -> nix::Result<Vec<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut control = nix::cmsg_space!([RawFd; MAX_FDS]);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            for fd in received {
                // SAFETY: the kernel installed `fd` in this process for this message; nothing
                // else owns it yet, and it is taken exactly once here.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    if fds.is_empty() {
        return Err(Errno::EPROTO);
    }
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn test_fds_arrive_as_the_same_files() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut r, mut w) = UnixStream::pair().unwrap();
        send_fds(a.as_fd(), &[w.as_fd(), r.as_fd()]).unwrap();
        let got = recv_fds(b.as_fd()).unwrap();
        assert_eq!(got.len(), 2);
        // The received write end writes into the pair `r` reads from.
        let mut w2 = UnixStream::from(got.into_iter().next().unwrap());
        w2.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        w.write_all(b"!").unwrap();
    }

    #[test]
    fn test_nothing_to_send_or_receive() {
        let (a, b) = UnixStream::pair().unwrap();
        assert_eq!(send_fds(a.as_fd(), &[]), Err(Errno::EINVAL));
        (&a).write_all(b"x").unwrap();
        assert_eq!(recv_fds(b.as_fd()).unwrap_err(), Errno::EPROTO);
    }
}
