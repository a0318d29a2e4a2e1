//! Interrupting a thread blocked in `GH_VCPU_RUN`: a real-time signal with an empty handler
//! installed without SA_RESTART, so the ioctl returns EINTR.

use crate::sync::IgnorePoison;
use std::sync::{Mutex, Once};

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
        // SAFETY: an all-zero sigaction is a valid value: no flags (SA_RESTART is deliberately
        // not set), no handler yet.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = ignore_kick as *const () as usize;
        // SAFETY: `sa_mask` is a valid sigset_t of `action`, which sigemptyset only writes.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: `action` is a valid sigaction whose handler is an async-signal-safe empty
        // function; no old action is asked for.
        let rc = unsafe { libc::sigaction(kick_signal(), &action, std::ptr::null_mut()) };
        if rc != 0 {
            result = Err(Errno::last());
        }
    });
    result
}

/// A thread that other threads may kick while it is inside a blocking call, and only then:
/// [`KickTarget::while_kickable`] points the target at the calling thread for the length of the
/// call and clears it, under the lock [`KickTarget::kick`] takes, before the call returns or
/// unwinds. So a kick never signals a thread that has ended, whatever safe code does. One thread
/// at a time: a second concurrent caller takes the target over (and may miss a kick), which is
/// never unsound.
#[derive(Debug, Default)]
pub struct KickTarget {
    /// The thread inside `while_kickable` (`pthread_t`: an integer on glibc and bionic, a
    /// pointer on musl; only ever passed to pthread_kill).
    thread: Mutex<Option<Thread>>,
}

#[derive(Debug, Clone, Copy)]
struct Thread(libc::pthread_t);

// SAFETY: a pthread_t is an identifier, never dereferenced here; any thread may pass a live
// thread's id to pthread_kill, and `KickTarget` passes it only while that thread is live.
unsafe impl Send for Thread {}

impl KickTarget {
    /// A target no thread is inside yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Thread>> {
        self.thread.lock().ignore_poison()
    }

    /// Runs `call` on this thread, kickable by [`KickTarget::kick`] until it returns.
    pub fn while_kickable<R>(&self, call: impl FnOnce() -> R) -> R {
        /// Clears the target when the call returns or unwinds.
        struct Leave<'a>(&'a KickTarget);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                *self.0.slot() = None;
            }
        }
        // SAFETY: pthread_self has no preconditions.
        *self.slot() = Some(Thread(unsafe { libc::pthread_self() }));
        let _leave = Leave(self);
        call()
    }

    /// Sends the kick signal to the thread inside [`KickTarget::while_kickable`], if one is
    /// (`Ok(true)`); `Ok(false)` when none is.
    pub fn kick(&self) -> Result<bool, Errno> {
        let slot = self.slot();
        let Some(Thread(thread)) = *slot else {
            return Ok(false);
        };
        // SAFETY: `thread` is inside `while_kickable`, which clears the slot under this lock
        // before it returns, so it has not ended while the lock is held; the signal has the
        // handler of `install_kick_handler` (or its default action was chosen by the caller).
        let rc = unsafe { libc::pthread_kill(thread, kick_signal()) };
        Errno::result(rc).map(|_| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// A thread that was kickable and has ended is not signalled (this sent pthread_kill to a
    /// dead thread's id when the handle outlived the call); one inside the call is, and its
    /// blocking call returns EINTR.
    #[test]
    fn test_kick_reaches_only_a_thread_inside_the_call() {
        install_kick_handler().unwrap();
        let target = Arc::new(KickTarget::new());
        let t = target.clone();
        std::thread::spawn(move || t.while_kickable(|| ()))
            .join()
            .unwrap();
        assert_eq!(target.kick(), Ok(false), "the thread has ended");

        let t = target.clone();
        let blocked = std::thread::spawn(move || {
            t.while_kickable(|| {
                // poll on nothing for 10 s: a kick ends it with EINTR.
                let started = Instant::now();
                let r = nix::poll::poll(&mut [], nix::poll::PollTimeout::from(10_000u16));
                (r, started.elapsed())
            })
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while target.kick() != Ok(true) {
            assert!(
                Instant::now() < deadline,
                "the thread never became kickable"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // The first kick may land just before poll starts: keep kicking until it returns.
        while !blocked.is_finished() {
            let _ = target.kick();
            std::thread::sleep(Duration::from_millis(5));
        }
        let (result, took) = blocked.join().unwrap();
        assert_eq!(result, Err(Errno::EINTR));
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert_eq!(target.kick(), Ok(false));
    }
}
