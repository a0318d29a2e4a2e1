//! Releasing torn-down VMs' driver objects off the caller's thread. Closing the last fd of a
//! VM runs the driver's teardown in the closing thread on the later drivers (ack66-early and
//! after), and that can block until the hypervisor's resource manager has reset the VM. No
//! binder thread, and no other VM's vCPU thread, may wait for that: what closes a driver fd, or
//! has to follow the close (unmapping guest memory), is dropped on a thread of its own, one per
//! VM, so one slow reset delays no other VM's release. At most [`MAX_PENDING`] VMs are in
//! release at once: `createVm` is refused beyond that (see `VmManager`), which bounds the
//! threads, fds and mappings a client can leave behind by creating and destroying fast.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The most VMs in release at once before `createVm` is refused.
pub const MAX_PENDING: usize = 64;

/// VMs handed over and not yet released.
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// A VM's remains, counted in [`PENDING`] until dropped.
struct Remains {
    vm_id: i32,
    started: Instant,
    what: Option<Box<dyn Send>>,
}

impl Drop for Remains {
    fn drop(&mut self) {
        drop(self.what.take());
        PENDING.fetch_sub(1, Ordering::SeqCst);
        log::info!(
            "vm {}: released in {:?}",
            self.vm_id,
            self.started.elapsed()
        );
    }
}

/// Releases `what`, VM `vm_id`'s driver objects, on a thread of its own, in the order their
/// fields drop. Should no thread be had, they are released here (with a warning).
pub fn release(vm_id: i32, what: Box<dyn Send>) {
    PENDING.fetch_add(1, Ordering::SeqCst);
    let remains = Remains {
        vm_id,
        started: Instant::now(),
        what: Some(what),
    };
    // On a spawn failure the closure, and `remains` with it, is dropped: released right here.
    if let Err(e) = std::thread::Builder::new()
        .name(format!("vm{vm_id}-release"))
        .spawn(move || drop(remains))
    {
        log::warn!("vm {vm_id}: no thread for its release ({e}); released on the caller's thread");
    }
}

/// VMs torn down whose driver objects are not yet released (diagnostics `vms.releasing`).
pub fn pending() -> usize {
    PENDING.load(Ordering::SeqCst)
}

/// Waits up to `timeout` until no VM is being released; whether none is.
pub fn wait_until_released(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while pending() > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Sender};

    /// Signals the thread it is dropped on.
    struct Tell(Sender<std::thread::ThreadId>);

    impl Drop for Tell {
        fn drop(&mut self) {
            let _ = self.0.send(std::thread::current().id());
        }
    }

    #[test]
    fn test_release_drops_on_another_thread() {
        let (tx, rx) = channel();
        release(7, Box::new(Tell(tx)));
        let dropped_on = rx.recv_timeout(Duration::from_secs(10)).expect("released");
        assert_ne!(dropped_on, std::thread::current().id());
        assert!(wait_until_released(Duration::from_secs(10)));
    }
}
