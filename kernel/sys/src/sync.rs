//! Locks that outlive a panic.
//!
//! Every lock in the service, the mocks and the client guards state that each holder leaves
//! consistent at every step (a map insert, a counter, a state enum), so a panic on another
//! thread while it held the lock leaves nothing half-written. Such a panic is already reported
//! by the panic hook; refusing the lock afterwards would only turn one failed call into a service
//! that can no longer tear its VMs down. [`IgnorePoison`] is the one place that choice is made.

#![forbid(unsafe_code)]

use std::sync::{LockResult, PoisonError};

/// Takes the guard out of a [`LockResult`] whether or not the lock was poisoned.
///
/// Works for every call that returns one: `Mutex::lock`, `RwLock::read`/`write`,
/// `Mutex::get_mut`, `Condvar::wait` and `Condvar::wait_timeout`.
pub trait IgnorePoison<G> {
    /// The guard (or `wait_timeout`'s pair), poisoned or not.
    fn ignore_poison(self) -> G;
}

impl<G> IgnorePoison<G> for LockResult<G> {
    fn ignore_poison(self) -> G {
        self.unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::IgnorePoison;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_lock_poisoned_by_a_panicking_holder_still_yields_its_data() {
        let shared = Arc::new(Mutex::new(7));
        let holder = Arc::clone(&shared);
        let panicked = std::thread::spawn(move || {
            let _guard = holder.lock().ignore_poison();
            panic!("holder panics with the lock held");
        })
        .join();
        assert!(panicked.is_err());
        assert!(shared.is_poisoned());
        assert_eq!(*shared.lock().ignore_poison(), 7);
    }
}
