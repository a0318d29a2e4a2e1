//! A process's life as an fd: `pidfd_open(2)` (Linux 5.3; every supported Android kernel has
//! it). The fd becomes readable, for good, once the process has exited: the MMIO ring polls
//! the pidfds of its clients beside its eventfds, so a vCPU waiting for an answer from a
//! process that died stops waiting.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A pidfd for process `pid`. How far `pid` is the caller's own depends on where it came from:
///
/// - kernel binder (Android, the QEMU tier): the sender's pid, taken by the driver for this very
///   transaction; the caller is blocked in it while the service opens the pidfd, so the pid
///   cannot have been reused;
/// - RPC binder on the host: rsbinder's calling pid is the `SO_PEERCRED` pid of whoever
///   *connected* the session. A process that connects, hands its socket to a child and exits
///   leaves a pid that can be reused; the pidfd may then follow an unrelated process. What
///   still holds: the ring's users only decide when a wait ends early (docs/THREAT_MODEL.md);
///   every wait also ends at the VM's stop, and the VM is the caller's own, so a wrong pid
///   can only keep the caller's own vCPU waiting until it destroys or drops its VM.
pub fn open(pid: i32) -> io::Result<OwnedFd> {
    if pid <= 0 {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // SAFETY: pidfd_open takes a pid and flags (0) by value and returns a new fd or -1; no
    // memory of this process is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: the kernel just returned this fd to this call; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::time::Duration;

    use super::*;
    use crate::eventfd::wait_readable;

    #[test]
    fn a_pidfd_becomes_readable_when_its_process_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let fd = open(child.id() as i32).unwrap();
        assert_eq!(
            wait_readable(&[fd.as_fd()], Some(Duration::ZERO)).unwrap(),
            0,
            "alive"
        );
        child.kill().unwrap();
        assert_eq!(
            wait_readable(&[fd.as_fd()], Some(Duration::from_secs(10))).unwrap(),
            1
        );
        child.wait().unwrap();
        assert!(open(0).is_err());
    }
}
