//! Eventfds used as doorbells, and waited on with poll. Two kinds, kept apart by type:
//!
//! - the process's own (a stop signal, a wake-up): made non-blocking, and nobody else holds
//!   their file description, so [`ring`] and [`drain`] on them never sleep;
//! - [`Shared`]: an eventfd whose file description a client holds too (the MMIO ring's, the
//!   irqfds and ioeventfds). The client may clear `O_NONBLOCK` on it, fill its counter or drain
//!   it at any moment, so `read(2)` and `write(2)` could sleep for good; [`Shared`] offers only
//!   operations that never sleep whatever the description says: [`Shared::signal`] (the
//!   kernel's `eventfd_signal`, through `aio`) and [`Shared::take`] (`preadv2` with
//!   `RWF_NOWAIT`). Waiting on one is a poll, beside the VM's stop signal
//!   (docs/THREAT_MODEL.md).

#![forbid(unsafe_code)]

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

/// A new non-blocking, close-on-exec eventfd with a zero counter.
pub fn nonblocking() -> nix::Result<OwnedFd> {
    EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).map(OwnedFd::from)
}

/// Adds 1 to the counter. A counter a peer has filled to its maximum is readable already, so
/// EAGAIN is success too.
pub fn ring(fd: BorrowedFd<'_>) -> nix::Result<()> {
    match nix::unistd::write(fd, &1u64.to_ne_bytes()) {
        Ok(_) | Err(Errno::EAGAIN) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Resets the counter to zero; one already zero stays so (EAGAIN is success).
pub fn drain(fd: BorrowedFd<'_>) -> nix::Result<()> {
    let mut count = [0u8; 8];
    match crate::fd::read(fd, &mut count) {
        Ok(_) | Err(Errno::EAGAIN) => Ok(()),
        Err(e) => Err(e),
    }
}

/// An eventfd whose file description a client may hold: every operation here returns at once,
/// whatever the client has done to the description (flags, counter) or does meanwhile.
#[derive(Debug)]
pub struct Shared(OwnedFd);

impl Shared {
    /// A new non-blocking, close-on-exec eventfd with a zero counter, to be shared.
    pub fn new() -> nix::Result<Self> {
        nonblocking().map(Self)
    }

    /// An eventfd a client gave (its description is the client's to change); `EINVAL` for an
    /// fd that is not an eventfd.
    pub fn from_client(fd: OwnedFd) -> nix::Result<Self> {
        let link = std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .map_err(|_| Errno::EBADF)?;
        if link.as_os_str() != "anon_inode:[eventfd]" {
            return Err(Errno::EINVAL);
        }
        Ok(Self(fd))
    }

    /// Adds 1 to the counter without ever sleeping (a full counter stays full and readable);
    /// `ENOSYS` on a kernel without AIO (see [`Shared::can_signal`]).
    pub fn signal(&self) -> nix::Result<()> {
        crate::aio::signal(self.0.as_fd())
    }

    /// Whether [`Shared::signal`] works on this kernel.
    pub fn can_signal() -> bool {
        crate::aio::available()
    }

    /// Reads and resets the counter without ever sleeping: its value, or 0 when it was zero
    /// (someone else took it first, or nobody rang).
    pub fn take(&self) -> nix::Result<u64> {
        let mut count = [0u8; 8];
        match crate::fd::read_nowait(self.0.as_fd(), &mut count) {
            Ok(8) => Ok(u64::from_ne_bytes(count)),
            Ok(_) => Err(Errno::EIO),
            Err(Errno::EAGAIN) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// A new fd for the same description, for the client.
    pub fn share(&self) -> std::io::Result<OwnedFd> {
        self.0.try_clone()
    }
}

impl AsFd for Shared {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Waits until one of `fds` (at most 64) is readable, for at most `timeout` (`None`: no
/// limit); bit i of the answer is set when `fds[i]` is. 0 on timeout; EINTR when a signal
/// (a vCPU kick) interrupts the wait.
pub fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> nix::Result<u64> {
    if fds.len() > 64 {
        return Err(Errno::EINVAL);
    }
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    let timeout = match timeout {
        None => PollTimeout::NONE,
        Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
    };
    if poll(&mut polled, timeout)? == 0 {
        return Ok(0);
    }
    let readable = PollFlags::POLLIN | PollFlags::POLLERR | PollFlags::POLLHUP;
    Ok(polled
        .iter()
        .enumerate()
        .filter(|(_, p)| p.revents().is_some_and(|r| r.intersects(readable)))
        .fold(0, |bits, (i, _)| bits | 1 << i))
}

/// Calls `ready` until it answers `Some` or `budget` has passed, yielding the CPU between calls
/// (so a peer waiting to run on this CPU runs at once); its answer, or `None`. With one CPU the
/// peer can only run once this thread sleeps, so after one call it answers `None` at once: the
/// caller sleeps on its eventfd instead.
pub fn poll_briefly<T>(budget: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    if let Some(answer) = ready() {
        return Some(answer);
    }
    if !several_cpus() {
        return None;
    }
    let until = std::time::Instant::now() + budget;
    while std::time::Instant::now() < until {
        std::thread::yield_now();
        if let Some(answer) = ready() {
            return Some(answer);
        }
    }
    None
}

/// Whether this process may run on more than one CPU.
fn several_cpus() -> bool {
    static SEVERAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SEVERAL.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn a_full_counter_and_an_empty_one_never_block() {
        let fd = nonblocking().unwrap();
        drain(fd.as_fd()).unwrap();
        nix::unistd::write(&fd, &(u64::MAX - 1).to_ne_bytes()).unwrap();
        ring(fd.as_fd()).unwrap();
        assert_eq!(
            wait_readable(&[fd.as_fd()], Some(Duration::ZERO)).unwrap(),
            1
        );
        drain(fd.as_fd()).unwrap();
        assert_eq!(
            wait_readable(&[fd.as_fd()], Some(Duration::ZERO)).unwrap(),
            0
        );
    }

    /// What a hostile client does to a description it shares: clear `O_NONBLOCK`, fill the
    /// counter, drain it. Neither `signal` nor `take` sleeps.
    #[test]
    fn a_shared_eventfd_never_blocks_whatever_the_client_does() {
        let shared = Shared::new().unwrap();
        let client = shared.share().unwrap();
        crate::fd::set_nonblocking(client.as_fd(), false).unwrap();
        assert!(
            !crate::fd::is_nonblocking(shared.as_fd()).unwrap(),
            "one description"
        );
        assert_eq!(shared.take().unwrap(), 0, "empty: no sleep, no count");
        nix::unistd::write(&client, &(u64::MAX - 1).to_ne_bytes()).unwrap();
        shared.signal().unwrap();
        assert!(shared.take().unwrap() >= u64::MAX - 1);
        shared.signal().unwrap();
        let mut stolen = [0u8; 8];
        crate::fd::read(client.as_fd(), &mut stolen).unwrap();
        assert_eq!(shared.take().unwrap(), 0, "the client took it first");
    }

    #[test]
    fn only_an_eventfd_is_taken_from_a_client() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert_eq!(Shared::from_client(r).unwrap_err(), Errno::EINVAL);
        assert!(Shared::from_client(nonblocking().unwrap()).is_ok());
    }

    #[test]
    fn polling_briefly_stops_at_the_budget_or_when_ready() {
        let mut calls = 0;
        let answer = poll_briefly(Duration::from_secs(5), || {
            calls += 1;
            (calls == 3 || !several_cpus()).then_some(calls)
        });
        assert!(answer.is_some());
        let start = std::time::Instant::now();
        assert_eq!(poll_briefly(Duration::from_millis(2), || None::<()>), None);
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn the_answer_names_which_fd_is_readable() {
        let (a, b) = (nonblocking().unwrap(), nonblocking().unwrap());
        ring(b.as_fd()).unwrap();
        let fds = [a.as_fd(), b.as_fd()];
        assert_eq!(wait_readable(&fds, None).unwrap(), 0b10);
    }
}
