//! Releasing torn-down VMs' driver objects off the caller's thread. Closing the last fd of a
//! VM runs the driver's teardown in the closing thread on the later drivers (ack66-early and
//! after), and that can block until the hypervisor's resource manager has reset the VM. No
//! binder thread, and no other VM's vCPU thread, may wait for that: what closes a driver fd, or
//! has to follow the close (unmapping guest memory), is dropped on a thread of its own, one per
//! VM, so one slow reset delays no other VM's release. At most `max_pending` VMs (64 by
//! default) are in release at once per client uid: its `createVm` is refused beyond that (see
//! `VmManager`), which bounds the threads, fds and mappings a client can leave behind by
//! creating and destroying fast.

use crate::trace::{self, Who};
use gunyah_sys::sync::IgnorePoison;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most VMs in release at once before `createVm` is refused, unless configured otherwise
/// (`ManagerConfig::max_releasing_vms`).
pub const DEFAULT_MAX_PENDING: usize = 64;

/// One manager's releases: each manager has its own, so two managers in one process (the
/// service's unit tests) neither share a limit nor wait for each other's VMs.
#[derive(Debug)]
pub struct Reaper {
    pending: AtomicUsize,
    /// Of those, per client uid: one client's slow releases never refuse another's createVm.
    by_uid: Mutex<HashMap<u32, usize>>,
    max_pending: usize,
}

/// A VM's remains, counted in its reaper until dropped.
struct Remains {
    reaper: Arc<Reaper>,
    vm_id: i32,
    uid: u32,
    started: Instant,
    what: Option<Box<dyn Send>>,
}

impl Drop for Remains {
    fn drop(&mut self) {
        drop(self.what.take());
        self.reaper.pending.fetch_sub(1, Ordering::SeqCst);
        let mut by_uid = self.reaper.by_uid.lock().ignore_poison();
        if let Some(n) = by_uid.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                by_uid.remove(&self.uid);
            }
        }
        log::info!(
            "vm {}: released in {:?}",
            self.vm_id,
            self.started.elapsed()
        );
    }
}

impl Reaper {
    /// A reaper that lets `max_pending` VMs be in release at once.
    pub fn new(max_pending: usize) -> Arc<Self> {
        Arc::new(Self {
            pending: AtomicUsize::new(0),
            by_uid: Mutex::default(),
            max_pending,
        })
    }

    /// Releases `what`, VM `vm_id`'s driver objects (its client's: `who.uid`), on a thread of
    /// its own, in the order their fields drop. Should no thread be had, they are released here
    /// (with a warning).
    pub fn release(self: &Arc<Self>, vm_id: i32, who: Who, what: Box<dyn Send>) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        *self
            .by_uid
            .lock()
            .ignore_poison()
            .entry(who.uid)
            .or_insert(0) += 1;
        let remains = Remains {
            reaper: self.clone(),
            vm_id,
            uid: who.uid,
            started: Instant::now(),
            what: Some(what),
        };
        // On a spawn failure the closure, and `remains` with it, is dropped: released here.
        if let Err(e) = std::thread::Builder::new()
            .name(format!("vm{vm_id}-release"))
            .spawn(move || {
                let _span = trace::phase!("reaper.release", who).entered();
                drop(remains)
            })
        {
            log::warn!(
                "vm {vm_id}: no thread for its release ({e}); released on the caller's thread"
            );
        }
    }

    /// VMs torn down whose driver objects are not yet released (diagnostics `vms.releasing`).
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// The most VMs in release at once before `createVm` is refused.
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    /// VMs of client `uid` in release.
    pub fn pending_of(&self, uid: u32) -> usize {
        self.by_uid
            .lock()
            .ignore_poison()
            .get(&uid)
            .copied()
            .unwrap_or(0)
    }

    /// Whether as many of `uid`'s VMs are in release as may be (its `createVm` is refused then).
    pub fn is_full(&self, uid: u32) -> bool {
        self.pending_of(uid) >= self.max_pending
    }

    /// Waits up to `timeout` until no VM is being released; whether none is.
    pub fn wait_until_released(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.pending() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
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

    /// Two reapers count apart: one's releases neither fill nor hold up the other.
    #[test]
    fn test_reapers_count_apart() {
        let (tx, rx) = channel::<()>();
        /// Holds its release until the test lets go.
        struct Hold(std::sync::mpsc::Receiver<()>);
        impl Drop for Hold {
            fn drop(&mut self) {
                let _ = self.0.recv_timeout(Duration::from_secs(10));
            }
        }
        let busy = Reaper::new(1);
        let idle = Reaper::new(1);
        busy.release(1, Who::new(1, 10, 1), Box::new(Hold(rx)));
        assert!(busy.is_full(10));
        assert!(!busy.is_full(11), "another client is not refused");
        assert!(!idle.is_full(10));
        assert!(idle.wait_until_released(Duration::ZERO));
        drop(tx);
        assert!(busy.wait_until_released(Duration::from_secs(10)));
    }

    #[test]
    fn test_release_drops_on_another_thread() {
        let (tx, rx) = channel();
        let reaper = Reaper::new(DEFAULT_MAX_PENDING);
        reaper.release(7, Who::new(7, 10, 1), Box::new(Tell(tx)));
        let dropped_on = rx.recv_timeout(Duration::from_secs(10)).expect("released");
        assert_ne!(dropped_on, std::thread::current().id());
        assert!(reaper.wait_until_released(Duration::from_secs(10)));
    }
}
