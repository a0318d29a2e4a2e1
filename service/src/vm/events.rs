//! A VM's public state, its exit info and its callbacks. State changes are queued in order and
//! delivered by a thread of the VM's own, the courier, which `deliver()` starts when there is
//! something to deliver and which ends when the queue is empty: a client that stops reading its
//! callback connection (host RPC) holds the courier, never the thread that changed the state —
//! a binder call's, a vCPU's, a teardown's (docs/THREAT_MODEL.md).

use gunyah_sys::sync::IgnorePoison;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::aidl::{
    GuestFault::GuestFault, IGunyahVmCallback::IGunyahVmCallback, VmExitInfo::VmExitInfo,
    VmExitType::VmExitType, VmState::VmState,
};

use crate::binder::{DeathLink, Strong};
use crate::error::{Error, Result};
use crate::names;
use crate::quota::{ChargeSlot, Reservation};
use gunyah_hypervisor::VmStatus;
use nix::errno::Errno;

enum Event {
    State(VmState),
    Exit(VmExitInfo),
}

struct Status {
    state: VmState,
    exit: Option<VmExitInfo>,
    queue: VecDeque<Event>,
}

struct Registered {
    id: u64,
    callback: Strong<dyn IGunyahVmCallback>,
    // Removes this entry when the client's process dies; unlinked when the entry is dropped.
    _death: DeathLink,
}

/// State, exit info and callbacks of one VM.
pub struct VmEvents {
    vm_id: i32,
    status: Mutex<Status>,
    callbacks: Mutex<Vec<Registered>>,
    /// Set by `clear_callbacks` under the `callbacks` lock: a registration racing teardown
    /// is refused, not kept on a destroyed VM.
    closed: AtomicBool,
    /// Whether a courier is delivering: at most one at a time, so callbacks see transitions in
    /// order. It ends, under this lock, only once it has found the queue empty.
    courier: Mutex<bool>,
    /// What a courier holds while it runs (it may wait on a client that stops reading): its
    /// VM stays charged to the client until it ends. Taken at teardown.
    charge: ChargeSlot,
    next_id: AtomicU64,
}

fn is_terminal(state: VmState) -> bool {
    matches!(
        state,
        VmState::EXITED | VmState::LOAD_FAILED | VmState::CRASHED | VmState::DESTROYED
    )
}

/// The AIDL exit info of a driver status.
pub fn exit_info_of(status: &VmStatus) -> VmExitInfo {
    match status {
        VmStatus::LoadFailed => VmExitInfo {
            state: VmState::LOAD_FAILED,
            ..Default::default()
        },
        VmStatus::Crashed => VmExitInfo {
            state: VmState::CRASHED,
            ..Default::default()
        },
        VmStatus::Exited { exit_type, reason } => VmExitInfo {
            state: VmState::EXITED,
            // The driver's exit types (VM_EXIT .. VM_FORCE_STOPPED, docs/DRIVER_ABI.md §5) map
            // value for value; anything a driver may add later is reported as UNKNOWN rather
            // than as a value the AIDL does not define.
            r#type: if i32::from(*exit_type) <= VmExitType::VM_FORCE_STOPPED.0 {
                VmExitType(i32::from(*exit_type))
            } else {
                VmExitType::UNKNOWN
            },
            reason: reason.clone(),
            fault: None,
        },
    }
}

impl VmEvents {
    /// Events of VM `vm_id`, in state NOT_STARTED.
    pub fn new(vm_id: i32) -> Arc<Self> {
        Arc::new(Self {
            vm_id,
            status: Mutex::new(Status {
                state: VmState::NOT_STARTED,
                exit: None,
                queue: VecDeque::new(),
            }),
            callbacks: Mutex::default(),
            closed: AtomicBool::new(false),
            courier: Mutex::new(false),
            charge: ChargeSlot::default(),
            next_id: AtomicU64::new(0),
        })
    }

    /// The current state.
    pub fn state(&self) -> VmState {
        self.status.lock().ignore_poison().state
    }

    /// How the guest stopped, if it did.
    pub fn exit_info(&self) -> Option<VmExitInfo> {
        self.status.lock().ignore_poison().exit.clone()
    }

    /// Moves to `to` and queues the notification. Nothing leaves DESTROYED, and a stopped
    /// guest only moves on to DESTROYED. Returns whether the state changed.
    pub fn set_state(&self, to: VmState) -> bool {
        self.transition(&mut self.status.lock().ignore_poison(), to)
    }

    /// `set_state` with the status already locked.
    fn transition(&self, s: &mut Status, to: VmState) -> bool {
        if s.state == to
            || s.state == VmState::DESTROYED
            || (is_terminal(s.state) && to != VmState::DESTROYED)
        {
            return false;
        }
        log::info!(
            "vm {}: {} -> {}",
            self.vm_id,
            names::vm_state(s.state),
            names::vm_state(to)
        );
        s.state = to;
        s.queue.push_back(Event::State(to));
        true
    }

    /// The guest stopped as `info` says (the first report wins): the state and the exit info
    /// change under one lock, so no reader sees the stopped state without its exit info; queues
    /// onStateChanged and onExit.
    fn stopped(&self, info: VmExitInfo) {
        let mut s = self.status.lock().ignore_poison();
        if self.transition(&mut s, info.state) {
            s.exit = Some(info.clone());
            s.queue.push_back(Event::Exit(info));
        }
    }

    /// Records that the guest stopped (once) and queues onStateChanged + onExit.
    pub fn guest_stopped(&self, status: &VmStatus) {
        self.stopped(exit_info_of(status));
    }

    /// The service stopped the VM on a guest fault at `phys_addr` (`errno`: why the driver
    /// could not back it): CRASHED, with the fault in the exit info.
    pub fn guest_faulted(&self, phys_addr: u64, errno: Errno) {
        self.stopped(VmExitInfo {
            state: VmState::CRASHED,
            r#type: VmExitType::GUEST_FAULT,
            reason: Vec::new(),
            fault: Some(GuestFault {
                // AIDL longs carry the 64-bit address's bits.
                guestPhysAddr: phys_addr as i64,
                errno: errno as i32,
            }),
        });
    }

    /// The service stopped the VM because `GH_VCPU_RUN` failed with `errno` (not EINTR): the
    /// driver will not run this vCPU again, so the VM is CRASHED with HYP_ERROR, the errno's
    /// name in `reason`.
    pub fn run_failed(&self, errno: Errno) {
        self.stopped(VmExitInfo {
            state: VmState::CRASHED,
            r#type: VmExitType::HYP_ERROR,
            reason: format!("{errno:?}").into_bytes(),
            fault: None,
        });
    }

    /// Delivers the queued notifications to every callback, in order, on the courier (started
    /// now unless one runs, which then delivers these too): returns at once. Failures are
    /// logged. With no callback registered, or no thread to be had, the queue is emptied here.
    pub fn deliver(self: &Arc<Self>) {
        {
            let mut running = self.courier.lock().ignore_poison();
            if *running {
                return;
            }
            *running = true;
        }
        // Nobody to call (most VMs): nothing can wait, so no thread is needed.
        if self.callbacks.lock().ignore_poison().is_empty() {
            return self.courier_loop();
        }
        let events = self.clone();
        let charge = self.charge.thread_charge();
        let spawned = std::thread::Builder::new()
            .name(format!("vm{}-courier", self.vm_id))
            .spawn(move || {
                let _charge = charge;
                events.courier_loop()
            });
        if let Err(e) = spawned {
            log::warn!(
                "vm {}: no thread for notifications ({e}); delivered here",
                self.vm_id
            );
            self.courier_loop();
        }
    }

    /// The courier: delivers until the queue is empty, then ends — dropping the callbacks if
    /// the VM was torn down meanwhile (`clear_callbacks` leaves them to it).
    fn courier_loop(&self) {
        loop {
            let next = self.status.lock().ignore_poison().queue.pop_front();
            let Some(event) = next else {
                let mut running = self.courier.lock().ignore_poison();
                if !self.status.lock().ignore_poison().queue.is_empty() {
                    continue;
                }
                *running = false;
                let gone = self.take_callbacks_if_closed();
                drop(running);
                drop(gone);
                return;
            };
            self.deliver_one(&event);
        }
    }

    /// Charges couriers started from now on to `reservation`.
    pub fn charge_to(&self, reservation: &Arc<Reservation>) {
        self.charge.set(reservation);
    }

    /// The callbacks, taken, once the VM is torn down (none before).
    fn take_callbacks_if_closed(&self) -> Vec<Registered> {
        let mut callbacks = self.callbacks.lock().ignore_poison();
        if self.closed.load(Ordering::SeqCst) {
            std::mem::take(&mut *callbacks)
        } else {
            Vec::new()
        }
    }

    fn deliver_one(&self, event: &Event) {
        {
            let callbacks: Vec<Strong<dyn IGunyahVmCallback>> = self
                .callbacks
                .lock()
                .ignore_poison()
                .iter()
                .map(|r| r.callback.clone())
                .collect();
            for cb in callbacks {
                let result = match &event {
                    Event::State(state) => cb.onStateChanged(*state),
                    Event::Exit(info) => cb.onExit(info),
                };
                if let Err(e) = result {
                    log::warn!("vm {}: callback failed: {e:?}", self.vm_id);
                }
            }
        }
    }

    /// Adds a callback linked to its client's death; registering the same binder twice is a
    /// no-op.
    pub fn register(self: &Arc<Self>, callback: &Strong<dyn IGunyahVmCallback>) -> Result<()> {
        let binder = callback.as_binder();
        let mut callbacks = self.callbacks.lock().ignore_poison();
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::state(format!(
                "registerCallback: vm {} is destroyed",
                self.vm_id
            )));
        }
        if callbacks.iter().any(|r| r.callback.as_binder() == binder) {
            return Ok(());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let events: Weak<VmEvents> = Arc::downgrade(self);
        let death = DeathLink::new(binder, move || {
            if let Some(events) = events.upgrade() {
                log::info!("vm {}: callback {id} died; removed", events.vm_id);
                events.remove(id);
            }
        })
        .map_err(|e| Error::invalid("callback", format!("cannot link to its death: {e:?}")))?;
        callbacks.push(Registered {
            id,
            callback: callback.clone(),
            _death: death,
        });
        Ok(())
    }

    /// Removes a callback; unknown callbacks are ignored.
    pub fn unregister(&self, callback: &Strong<dyn IGunyahVmCallback>) {
        let binder = callback.as_binder();
        let removed: Vec<Registered> = {
            let mut callbacks = self.callbacks.lock().ignore_poison();
            let (gone, kept) = std::mem::take(&mut *callbacks)
                .into_iter()
                .partition(|r| r.callback.as_binder() == binder);
            *callbacks = kept;
            gone
        };
        // Unlinking talks to the binder; do it outside the lock.
        drop(removed);
    }

    fn remove(&self, id: u64) {
        let removed: Vec<Registered> = {
            let mut callbacks = self.callbacks.lock().ignore_poison();
            let (gone, kept) = std::mem::take(&mut *callbacks)
                .into_iter()
                .partition(|r| r.id == id);
            *callbacks = kept;
            gone
        };
        drop(removed);
    }

    /// Drops every callback once the notifications queued so far are delivered (now, or by
    /// the courier on its way out), and refuses new ones from now on.
    pub fn clear_callbacks(&self) {
        {
            // Under the callbacks' lock, as `register` checks it.
            let _callbacks = self.callbacks.lock().ignore_poison();
            self.closed.store(true, Ordering::SeqCst);
        }
        self.charge.clear();
        let running = self.courier.lock().ignore_poison();
        let gone = if *running {
            Vec::new()
        } else {
            self.take_callbacks_if_closed()
        };
        drop(running);
        drop(gone);
    }

    /// Number of registered callbacks (diagnostics).
    pub fn callback_count(&self) -> usize {
        self.callbacks.lock().ignore_poison().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_set_state_is_forward_only() {
        let events = VmEvents::new(1);
        assert!(events.set_state(VmState::STARTING));
        assert!(events.set_state(VmState::RUNNING));
        events.guest_stopped(&VmStatus::Exited {
            exit_type: 1,
            reason: vec![7],
        });
        assert_eq!(events.state(), VmState::EXITED);
        let info = events.exit_info().expect("exit info");
        assert_eq!(info.r#type, VmExitType::PSCI_POWER_OFF);
        assert_eq!(info.reason, vec![7]);
        // A later crash report does not overwrite the first exit.
        events.guest_stopped(&VmStatus::Crashed);
        assert_eq!(events.state(), VmState::EXITED);
        assert!(!events.set_state(VmState::RUNNING));
        assert!(events.set_state(VmState::DESTROYED));
        assert!(!events.set_state(VmState::NOT_STARTED));
        assert_eq!(events.state(), VmState::DESTROYED);
    }

    /// A reader never sees a stopped state without its exit info (the state was set, and the
    /// info a moment later under a second lock: a client polling getState then getExitInfo
    /// could get EXITED and no info).
    #[test]
    fn test_the_stopped_state_comes_with_its_exit_info() {
        // Miri interprets every step: fewer rounds there.
        let rounds = if cfg!(miri) { 10 } else { 2000 };
        for round in 0..rounds {
            let events = VmEvents::new(round);
            assert!(events.set_state(VmState::RUNNING));
            let reader = {
                let events = events.clone();
                std::thread::spawn(move || loop {
                    let s = events.status.lock().ignore_poison();
                    if is_terminal(s.state) {
                        return s.exit.is_some();
                    }
                    drop(s);
                    std::hint::spin_loop();
                })
            };
            events.guest_stopped(&VmStatus::Crashed);
            assert!(
                reader.join().unwrap(),
                "round {round}: CRASHED without exit info"
            );
        }
    }

    #[test]
    fn test_exit_info_of_unknown_exit_type() {
        let info = exit_info_of(&VmStatus::Exited {
            exit_type: 99,
            reason: vec![],
        });
        assert_eq!(info.r#type, VmExitType::UNKNOWN);
        assert_eq!(
            exit_info_of(&VmStatus::LoadFailed).state,
            VmState::LOAD_FAILED
        );
        assert_eq!(exit_info_of(&VmStatus::Crashed).r#type, VmExitType::UNKNOWN);
    }
}
