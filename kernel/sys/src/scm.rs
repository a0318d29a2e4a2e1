//! Passing fds to another process over a Unix socket (`SCM_RIGHTS`), as safe wrappers over
//! libc: the one place a received descriptor number becomes an `OwnedFd`. (nix's `sendmsg`
//! and `recvmsg` changed signatures between the nix versions AOSP trees carry.)

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// The most fds one call passes.
pub const MAX_FDS: usize = 8;

/// Room for a control message of `MAX_FDS` descriptors, aligned as `cmsghdr` needs.
#[repr(C)]
struct Control {
    _align: [libc::cmsghdr; 0],
    bytes: [u8; 128],
}

impl Control {
    fn new() -> Self {
        Control {
            _align: [],
            bytes: [0; 128],
        }
    }
}

fn space(count: usize) -> usize {
    // SAFETY: CMSG_SPACE only computes a size.
    unsafe { libc::CMSG_SPACE((count * std::mem::size_of::<RawFd>()) as u32) as usize }
}

/// An iovec of the one byte every message carries (a message needs data to carry fds).
fn one_byte(byte: &mut [u8; 1]) -> libc::iovec {
    libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    }
}

/// A message of `iov` with `control` room for `count` fds; valid while both are.
fn message(iov: &mut libc::iovec, control: &mut Control, count: usize) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is valid (no name, no iovecs, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes.as_mut_ptr().cast();
    msg.msg_controllen = space(count) as _;
    msg
}

/// Sends one byte and `fds` (at most [`MAX_FDS`]) over the connected Unix socket `socket`.
pub fn send_fds(socket: BorrowedFd<'_>, fds: &[BorrowedFd<'_>]) -> nix::Result<()> {
    if fds.is_empty() || fds.len() > MAX_FDS {
        return Err(Errno::EINVAL);
    }
    let mut control = Control::new();
    let mut byte = [0u8; 1];
    let mut iov = one_byte(&mut byte);
    let msg = message(&mut iov, &mut control, fds.len());
    // SAFETY: msg_control points at `control`, aligned for cmsghdr and at least
    // CMSG_SPACE(len) bytes long (MAX_FDS fds fit in 128), so the first header and its data
    // lie inside it; the fd numbers are copied in unaligned.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN((fds.len() * std::mem::size_of::<RawFd>()) as u32) as _;
        let data = libc::CMSG_DATA(header).cast::<RawFd>();
        for (i, fd) in fds.iter().enumerate() {
            data.add(i).write_unaligned(fd.as_raw_fd());
        }
    }
    // SAFETY: `msg` and everything it points at live across the call; the kernel only reads.
    Errno::result(unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) })?;
    Ok(())
}

/// Receives the byte and the fds [`send_fds`] sent (close-on-exec). EPROTO when none came.
pub fn recv_fds(socket: BorrowedFd<'_>) -> nix::Result<Vec<OwnedFd>> {
    let mut control = Control::new();
    let mut byte = [0u8; 1];
    let mut iov = one_byte(&mut byte);
    let mut msg = message(&mut iov, &mut control, MAX_FDS);
    // SAFETY: `msg` points at buffers that live across the call and are as long as it says.
    Errno::result(unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) })?;
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `msg`'s control buffer; CMSG_FIRSTHDR/NXTHDR walk only the
    // headers inside msg_controllen, and each SCM_RIGHTS header's data holds
    // (cmsg_len - CMSG_LEN(0)) / sizeof(int) descriptors the kernel installed for this
    // process, owned by nothing else yet.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(header).cast::<RawFd>();
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            header = libc::CMSG_NXTHDR(&msg, header);
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
