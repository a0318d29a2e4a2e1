//! Interrupting a thread blocked in `GH_VCPU_RUN`: a real-time signal with an empty handler
//! installed without SA_RESTART, so the ioctl returns EINTR.

use std::sync::Once;

use nix::errno::Errno;

/// The signal used to kick vCPU threads (SIGRTMIN, as crosvm does).
pub fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN()
}

extern "C" fn ignore_kick(_: libc::c_int) {}

/// Installs the kick handler once per process.
pub fn install_kick_handler() -> Result<(), Errno> {
    static INSTALL: Once = Once::new();
    let mut result = Ok(());
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler is an
        // async-signal-safe empty function; SA_RESTART is deliberately not set.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore_kick as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(kick_signal(), &action, std::ptr::null_mut())
        };
        if rc != 0 {
            result = Err(Errno::last());
        }
    });
    result
}

/// An opaque thread handle (`pthread_t`: an integer on glibc and bionic, a pointer on musl).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadHandle(libc::pthread_t);

// SAFETY: a pthread_t is an identifier, never dereferenced here; any thread may pass it to
// pthread_kill.
unsafe impl Send for ThreadHandle {}
// SAFETY: as above; it is only copied and compared.
unsafe impl Sync for ThreadHandle {}

/// The calling thread's handle, for [`kick_thread`].
pub fn current_thread() -> ThreadHandle {
    // SAFETY: pthread_self has no preconditions.
    ThreadHandle(unsafe { libc::pthread_self() })
}

/// Sends the kick signal to `thread`.
///
/// The caller guarantees that `thread` has not exited (the vCPU backend holds a lock that the
/// thread takes before it ends; see `hyp::gunyah::vcpu`).
pub fn kick_thread(thread: ThreadHandle) -> Result<(), Errno> {
    // SAFETY: per the contract above `thread` is a live thread of this process; the signal has
    // a handler installed by `install_kick_handler`.
    let rc = unsafe { libc::pthread_kill(thread.0, kick_signal()) };
    Errno::result(rc).map(drop)
}
