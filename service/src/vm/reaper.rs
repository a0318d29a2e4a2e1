//! The reaper: one thread that gives torn-down VMs' driver objects back. Closing the last fd
//! of a VM runs the driver's teardown in the closing thread on the later drivers (ack66-early
//! and after), and that can block until the hypervisor's resource manager has reset the VM.
//! No binder thread, and no other VM's vCPU thread, may wait for that: everything that closes a
//! driver fd, or has to follow the close (unmapping guest memory, giving the quota back), is
//! handed over here and dropped in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::OnceLock;
use std::time::Instant;

/// A VM's id and what is left of it to drop.
struct Job {
    vm_id: i32,
    remains: Box<dyn Send>,
}

/// VMs handed over and not yet released.
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// The reaper's queue; `None` when no thread could be started.
static QUEUE: OnceLock<Option<Sender<Job>>> = OnceLock::new();

/// Starts the reaper thread, once per process (later calls do nothing). The service starts it
/// before it serves, so the thread is part of its idle footprint.
pub fn start() {
    queue();
}

fn queue() -> Option<&'static Sender<Job>> {
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let spawned = std::thread::Builder::new()
                .name("gunyah-reaper".into())
                .spawn(move || rx.into_iter().for_each(release_now));
            match spawned {
                Ok(_) => Some(tx),
                Err(e) => {
                    log::error!(
                        "no reaper thread ({e}): VMs are released where they are torn down"
                    );
                    None
                }
            }
        })
        .as_ref()
}

/// Releases `remains`, VM `vm_id`'s driver objects, on the reaper thread, in the order their
/// fields drop. Without a reaper thread they are released here, with a warning.
pub fn release(vm_id: i32, remains: Box<dyn Send>) {
    PENDING.fetch_add(1, Ordering::SeqCst);
    let job = Job { vm_id, remains };
    let job = match queue() {
        Some(tx) => match tx.send(job) {
            Ok(()) => return,
            Err(mpsc::SendError(job)) => job,
        },
        None => job,
    };
    log::warn!("vm {vm_id}: released on the thread that tore it down");
    release_now(job);
}

fn release_now(job: Job) {
    let started = Instant::now();
    drop(job.remains);
    PENDING.fetch_sub(1, Ordering::SeqCst);
    log::info!("vm {}: released in {:?}", job.vm_id, started.elapsed());
}

/// VMs torn down whose driver objects are not yet released (diagnostics `vms.releasing`).
pub fn pending() -> usize {
    PENDING.load(Ordering::SeqCst)
}

/// Waits up to `timeout` until no VM is being released; whether none is.
pub fn wait_until_released(timeout: std::time::Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while pending() > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// Signals the thread it is dropped on.
    struct Tell(Sender<std::thread::ThreadId>);

    impl Drop for Tell {
        fn drop(&mut self) {
            let _ = self.0.send(std::thread::current().id());
        }
    }

    #[test]
    fn test_release_drops_on_the_reaper_thread() {
        start();
        let (tx, rx) = channel();
        release(7, Box::new(Tell(tx)));
        let dropped_on = rx.recv_timeout(Duration::from_secs(10)).expect("released");
        assert_ne!(dropped_on, std::thread::current().id());
    }
}
