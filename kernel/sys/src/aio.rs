//! The kernel's own `eventfd_signal`, reached from userspace through Linux AIO: a POLL request
//! on an fd that is always readable completes inside `io_submit`, and a request submitted with
//! `IOCB_FLAG_RESFD` signals its eventfd when it completes. That signal is the one the Gunyah
//! driver gives an ioeventfd (and KVM, io_uring and vfio theirs): it adds to the counter
//! without ever sleeping, whatever flags the eventfd's file description carries and however
//! full its counter is (it saturates). A `write(2)` can sleep on both: a client that clears
//! `O_NONBLOCK` on an eventfd it shares with the service and fills its counter would hold the
//! writing thread for good (docs/THREAT_MODEL.md). Needs `CONFIG_AIO`; where the kernel lacks
//! it, [`signal`] says `ENOSYS` and its callers refuse what they would have needed it for.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use nix::errno::Errno;

/// `aio_context_t`.
type Context = libc::c_ulong;

/// `IOCB_CMD_POLL` (linux/aio_abi.h, Linux 4.18).
const IOCB_CMD_POLL: u16 = 5;
/// `IOCB_FLAG_RESFD`: signal `aio_resfd` on completion.
const IOCB_FLAG_RESFD: u32 = 1;
/// Completions the context holds before they must be reaped. Each request completes inside
/// its `io_submit`, but its completion stays in the context's ring until reaped, and a full
/// ring refuses submissions (EAGAIN): completions are reaped then, all at once, so a signal
/// costs one system call (as a `write(2)` would) and one in about a thousand costs three.
const DEPTH: u32 = 1024;

/// `struct iocb` (linux/aio_abi.h). `aio_key` and `aio_rw_flags` swap places on big-endian
/// machines; both are zero here, so one layout serves.
#[repr(C)]
#[derive(Default)]
struct Iocb {
    aio_data: u64,
    aio_key: u32,
    aio_rw_flags: i32,
    aio_lio_opcode: u16,
    aio_reqprio: i16,
    aio_fildes: u32,
    aio_buf: u64,
    aio_nbytes: u64,
    aio_offset: i64,
    aio_reserved2: u64,
    aio_flags: u32,
    aio_resfd: u32,
}

/// `struct io_event`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct IoEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

const _: () = assert!(std::mem::size_of::<Iocb>() == 64);
const _: () = assert!(std::mem::size_of::<IoEvent>() == 32);

/// One AIO context and the always-readable eventfd its POLL requests name.
struct Notifier {
    context: Context,
    /// Counter 1, never read: POLLIN for good. Private to this process.
    ready: OwnedFd,
}

impl Notifier {
    fn new() -> io::Result<Self> {
        let ready = nix::sys::eventfd::EventFd::from_value_and_flags(
            1,
            nix::sys::eventfd::EfdFlags::EFD_CLOEXEC | nix::sys::eventfd::EfdFlags::EFD_NONBLOCK,
        )?;
        let mut context: Context = 0;
        // SAFETY: io_setup writes one aio_context_t to the pointer, which is valid and
        // exclusively borrowed for the call.
        let rc = unsafe { libc::syscall(libc::SYS_io_setup, DEPTH, &mut context as *mut Context) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            context,
            ready: ready.into(),
        })
    }

    /// Submits one POLL request that signals `target` as it completes; reaps the completions
    /// when the ring is full. Never sleeps.
    fn signal(&self, target: BorrowedFd<'_>) -> io::Result<()> {
        let mut iocb = Iocb {
            aio_lio_opcode: IOCB_CMD_POLL,
            aio_fildes: self.ready.as_raw_fd() as u32,
            aio_buf: libc::POLLIN as u64,
            aio_flags: IOCB_FLAG_RESFD,
            aio_resfd: target.as_raw_fd() as u32,
            ..Iocb::default()
        };
        let mut list = [&mut iocb as *mut Iocb];
        let mut submitted = self.submit(&mut list);
        if submitted
            .as_ref()
            .is_err_and(|e| e.raw_os_error() == Some(libc::EAGAIN))
        {
            // The ring is full of completions: reap them and try once more.
            self.reap();
            submitted = self.submit(&mut list);
        }
        submitted
    }

    fn submit(&self, list: &mut [*mut Iocb; 1]) -> io::Result<()> {
        // SAFETY: `list` holds one pointer to an initialised iocb that outlives the call; the
        // kernel copies it during io_submit and keeps no pointer into this process's memory
        // (a POLL request's result goes to the context's ring, reaped below).
        let rc = unsafe { libc::syscall(libc::SYS_io_submit, self.context, 1, list.as_mut_ptr()) };
        match rc {
            1 => Ok(()),
            rc if rc < 0 => Err(io::Error::last_os_error()),
            _ => Err(io::Error::from(io::ErrorKind::WriteZero)),
        }
    }

    /// Takes every completion there is, without waiting.
    fn reap(&self) {
        let mut events = vec![IoEvent::default(); DEPTH as usize];
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `events` has room for DEPTH events and `zero` is a valid timespec; both
        // outlive the call, which waits for nothing (min_nr 0, zero timeout).
        let _ = unsafe {
            libc::syscall(
                libc::SYS_io_getevents,
                self.context,
                0,
                DEPTH as libc::c_long,
                events.as_mut_ptr(),
                &zero as *const libc::timespec,
            )
        };
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        // SAFETY: io_destroy takes the context by value; nothing uses it after this.
        let _ = unsafe { libc::syscall(libc::SYS_io_destroy, self.context) };
    }
}

/// The process's notifier, made on first use.
fn notifier() -> Result<&'static Notifier, Errno> {
    static NOTIFIER: OnceLock<Result<Notifier, Errno>> = OnceLock::new();
    NOTIFIER
        .get_or_init(|| {
            Notifier::new().map_err(|e| {
                let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOSYS));
                log::warn!("Linux AIO is unavailable ({errno}): eventfds shared with clients cannot be signalled");
                errno
            })
        })
        .as_ref()
        .map_err(|e| *e)
}

/// Whether [`signal`] can work here (the kernel has AIO).
pub fn available() -> bool {
    notifier().is_ok()
}

/// Adds 1 to eventfd `target`'s counter as the kernel's `eventfd_signal` does: never sleeping,
/// saturating at the counter's maximum. `EINVAL` if `target` is not an eventfd, `ENOSYS`
/// without AIO.
pub fn signal(target: BorrowedFd<'_>) -> nix::Result<()> {
    notifier()?
        .signal(target)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use nix::sys::eventfd::{EfdFlags, EventFd};

    use super::*;

    fn count(fd: BorrowedFd<'_>) -> u64 {
        let mut buf = [0u8; 8];
        match crate::fd::read(fd, &mut buf) {
            Ok(_) => u64::from_ne_bytes(buf),
            Err(_) => 0,
        }
    }

    #[test]
    fn a_signal_adds_one() {
        let fd = EventFd::from_flags(EfdFlags::EFD_NONBLOCK).unwrap();
        signal(fd.as_fd()).unwrap();
        signal(fd.as_fd()).unwrap();
        assert_eq!(count(fd.as_fd()), 2);
    }

    /// A blocking description with a full counter: `write(2)` would sleep until a reader
    /// came; the signal returns at once and the counter stays readable.
    #[test]
    fn a_full_blocking_eventfd_never_blocks_a_signal() {
        let fd = EventFd::from_flags(EfdFlags::empty()).unwrap();
        nix::unistd::write(&fd, &(u64::MAX - 1).to_ne_bytes()).unwrap();
        assert!(!crate::fd::is_nonblocking(fd.as_fd()).unwrap());
        let start = std::time::Instant::now();
        for _ in 0..3 {
            signal(fd.as_fd()).unwrap();
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert!(count(fd.as_fd()) >= u64::MAX - 1);
    }

    /// More signals than the context holds completions: the full ring is reaped, none is lost.
    #[test]
    fn signals_beyond_the_depth_are_not_lost() {
        let fd = EventFd::from_flags(EfdFlags::EFD_NONBLOCK).unwrap();
        let n = 5 * u64::from(DEPTH);
        for _ in 0..n {
            signal(fd.as_fd()).unwrap();
        }
        assert_eq!(count(fd.as_fd()), n);
    }

    #[test]
    fn only_an_eventfd_can_be_signalled() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert_eq!(signal(r.as_fd()), Err(Errno::EINVAL));
    }

    #[test]
    fn many_threads_signal_at_once() {
        let fd = std::sync::Arc::new(EventFd::from_flags(EfdFlags::EFD_NONBLOCK).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let fd = fd.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        signal(fd.as_fd()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(count(fd.as_fd()), 4000);
    }
}
