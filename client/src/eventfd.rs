//! The eventfds of `createIrqfd` and `createIoeventfd`: ring a doorbell, wait for one.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// An eventfd from the service.
#[derive(Debug)]
pub struct EventFd(OwnedFd);

impl EventFd {
    /// Wraps an eventfd.
    pub fn new(fd: OwnedFd) -> Self {
        Self(fd)
    }

    /// Adds `n` to the counter: for an irqfd, asserts its interrupt in the guest.
    pub fn signal(&self, n: u64) -> std::io::Result<()> {
        nix::unistd::write(&self.0, &n.to_ne_bytes())?;
        Ok(())
    }

    /// Waits up to `timeout` for the counter to be non-zero (for an ioeventfd: the guest
    /// wrote its address), then reads and resets it. `None` on timeout.
    pub fn wait(&self, timeout: Duration) -> Option<u64> {
        let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        if poll(&mut fds, timeout).ok()? == 0 {
            return None;
        }
        let mut buf = [0u8; 8];
        gunyah_sys::fd::read(self.0.as_fd(), &mut buf).ok()?;
        Some(u64::from_ne_bytes(buf))
    }

    /// Gives the fd up.
    pub fn into_fd(self) -> OwnedFd {
        self.0
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::eventfd::{EfdFlags, EventFd as NixEventFd};

    #[test]
    fn test_signal_then_wait_reads_and_resets() {
        let fd = OwnedFd::from(NixEventFd::from_flags(EfdFlags::EFD_CLOEXEC).expect("eventfd"));
        let e = EventFd::new(fd);
        assert_eq!(e.wait(Duration::from_millis(1)), None);
        e.signal(2).expect("signal");
        e.signal(3).expect("signal");
        assert_eq!(e.wait(Duration::from_secs(1)), Some(5));
        assert_eq!(e.wait(Duration::from_millis(1)), None);
    }
}
