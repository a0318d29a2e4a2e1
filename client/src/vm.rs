//! `Vm`: a client's handle on one VM — its `IGunyahVm` binder (the capability: the VM lives
//! while any process holds it), its state and exit as they happen, and the helpers around it.

use gunyah_sys::sync::IgnorePoison;
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gunyah_binder::aidl::{
    ErrorCode::ErrorCode,
    GuestRange::GuestRange,
    IGunyahMmioHandler::BnGunyahMmioHandler,
    IGunyahVm::IGunyahVm,
    IGunyahVmCallback::{BnGunyahVmCallback, IGunyahVmCallback},
    IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig,
    MmioRingRequest::MmioRingRequest,
    VmExitInfo::VmExitInfo,
    VmExitType::VmExitType,
    VmState::VmState,
};
use gunyah_binder::{BinderResult, DeathLink, Interface, Strong};

use crate::error::{Error, Result};
use crate::eventfd::EventFd;
use crate::mmio::{Adapter, MmioHandler};
use crate::mmio_ring::RingClient;

/// How a guest stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    /// `EXITED`, `CRASHED` or `LOAD_FAILED`.
    pub state: VmState,
    /// The driver's exit type.
    pub exit_type: VmExitType,
    /// The driver's reason bytes.
    pub reason: Vec<u8>,
    /// The guest fault that stopped the VM (V2 services, demand-paging drivers): the guest
    /// physical address and the errno.
    pub fault: Option<(u64, nix::errno::Errno)>,
}

impl ExitInfo {
    /// The guest powered off or exited on its own.
    pub fn is_clean(&self) -> bool {
        self.state == VmState::EXITED
            && matches!(
                self.exit_type,
                VmExitType::PSCI_POWER_OFF | VmExitType::VM_EXIT
            )
    }
}

/// `EXITED type PSCI_POWER_OFF reason "bye"`, or `CRASHED type GUEST_FAULT reason "" fault at
/// 0x81000000: EPERM`.
impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} type {} reason {:?}",
            gunyah_contract::names::vm_state(self.state),
            gunyah_contract::names::exit_type(self.exit_type),
            String::from_utf8_lossy(&self.reason)
        )?;
        if let Some((addr, errno)) = self.fault {
            write!(f, " fault at {addr:#x}: {errno}")?;
        }
        Ok(())
    }
}

impl From<&VmExitInfo> for ExitInfo {
    fn from(info: &VmExitInfo) -> Self {
        Self {
            state: info.state,
            exit_type: info.r#type,
            reason: info.reason.clone(),
            fault: info
                .fault
                .as_ref()
                .map(|f| (f.guestPhysAddr as u64, nix::errno::Errno::from_raw(f.errno))),
        }
    }
}

/// Something that happened to a VM, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmEvent {
    /// The VM entered a state.
    State(VmState),
    /// The guest stopped (after the state change to its final state).
    Exit(ExitInfo),
    /// The service died: the VM is gone.
    ServiceDied,
}

type Listener = Box<dyn Fn(&VmEvent) + Send + Sync>;

#[derive(Default)]
struct Inner {
    state: Option<VmState>,
    exit: Option<ExitInfo>,
    service_died: bool,
    subscribers: Vec<mpsc::Sender<VmEvent>>,
    listeners: Vec<Arc<Listener>>,
}

/// What the callback has seen, shared with waiters.
#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().ignore_poison()
    }

    /// Records `event`: listeners first, then channels and waiters — so whoever sees an event
    /// through [`Vm::wait_for_exit`] or [`Vm::wait_for_state`] knows every listener has
    /// handled it (gunyahctl prints from a listener and must print `DESTROYED` before `done`).
    fn publish(&self, event: VmEvent) {
        let listeners = self.lock().listeners.clone();
        for listener in listeners {
            listener(&event);
        }
        {
            let mut inner = self.lock();
            match &event {
                VmEvent::State(state) => inner.state = Some(*state),
                VmEvent::Exit(info) => inner.exit = Some(info.clone()),
                VmEvent::ServiceDied => inner.service_died = true,
            }
            inner
                .subscribers
                .retain(|tx| tx.send(event.clone()).is_ok());
        }
        self.changed.notify_all();
    }
}

/// The callback object registered with the service.
struct Callback(Arc<Shared>);

impl Interface for Callback {}

impl IGunyahVmCallback for Callback {
    fn onStateChanged(&self, state: VmState) -> BinderResult<()> {
        self.0.publish(VmEvent::State(state));
        Ok(())
    }

    fn onExit(&self, info: &VmExitInfo) -> BinderResult<()> {
        self.0.publish(VmEvent::Exit(info.into()));
        Ok(())
    }
}

/// A VM. Dropping it drops this process's reference: when no process holds the VM any more,
/// the service tears it down. [`Vm::destroy`] does so at once.
pub struct Vm {
    binder: Strong<dyn IGunyahVm>,
    id: i32,
    shared: Arc<Shared>,
    callback: Strong<dyn IGunyahVmCallback>,
    /// Reports the service's death; `None` where the transport cannot link to death.
    _death: Option<DeathLink>,
    /// Keeps the MMIO handler objects alive as long as the handle.
    handlers: Mutex<
        Vec<(
            GuestRange,
            Strong<dyn gunyah_binder::aidl::IGunyahMmioHandler::IGunyahMmioHandler>,
        )>,
    >,
    /// How MMIO handlers are served, decided at the first one.
    mmio_path: Mutex<MmioPath>,
}

/// How this handle serves its MMIO handlers.
enum MmioPath {
    /// Not decided yet: no handler was set.
    Undecided,
    /// Binder handler objects (services before V3).
    Binder,
    /// The VM's MMIO ring (V3 services), served by one thread of this process.
    Ring(RingClient),
}

/// The first interface version with `setMmioRing`.
const MMIO_RING_VERSION: i32 = 3;

impl Vm {
    /// Takes a VM binder (from `createVm`, or passed by another process), registers for its
    /// events and links to the service's death.
    pub fn attach(binder: Strong<dyn IGunyahVm>) -> Result<Self> {
        let id = binder.getId().map_err(|s| Error::call("getId", &s))?;
        let shared = Arc::new(Shared::default());
        let callback = gunyah_binder::new_binder!(BnGunyahVmCallback, Callback(shared.clone()));
        binder
            .registerCallback(&callback)
            .map_err(|s| Error::call("registerCallback", &s))?;
        let on_death = shared.clone();
        let death = DeathLink::new(binder.as_binder(), move || {
            on_death.publish(VmEvent::ServiceDied)
        })
        .map_err(|e| log::warn!("vm {id}: cannot link to the service's death: {e:?}"))
        .ok();
        let vm = Self {
            binder,
            id,
            shared,
            callback,
            _death: death,
            handlers: Mutex::new(Vec::new()),
            mmio_path: Mutex::new(MmioPath::Undecided),
        };
        // A VM passed from elsewhere may have moved on already.
        let state = vm.state()?;
        if vm.shared.lock().state.is_none() {
            vm.shared.lock().state = Some(state);
        }
        if matches!(
            state,
            VmState::EXITED | VmState::CRASHED | VmState::LOAD_FAILED
        ) && vm.shared.lock().exit.is_none()
        {
            if let Some(info) = vm.exit_info()? {
                vm.shared.lock().exit = Some(info);
            }
        }
        Ok(vm)
    }

    /// The VM's id in the service (unique while it lives).
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The binder: the VM itself, to pass to another process.
    pub fn binder(&self) -> &Strong<dyn IGunyahVm> {
        &self.binder
    }

    /// Starts the guest.
    pub fn start(&self) -> Result<()> {
        self.binder.start().map_err(|s| self.failed("start", s))
    }

    /// Tears the VM down now (every holder sees `DESTROYED`).
    pub fn destroy(&self) -> Result<()> {
        self.binder.destroy().map_err(|s| self.failed("destroy", s))
    }

    /// The state, asked of the service.
    pub fn state(&self) -> Result<VmState> {
        self.binder
            .getState()
            .map_err(|s| self.failed("getState", s))
    }

    /// How the guest stopped, if it has.
    pub fn exit_info(&self) -> Result<Option<ExitInfo>> {
        self.binder
            .getExitInfo()
            .map(|info| info.as_ref().map(ExitInfo::from))
            .map_err(|s| self.failed("getExitInfo", s))
    }

    /// Waits until the guest stops (`None`: no timeout). Errors: [`Error::Timeout`];
    /// [`Error::ServiceDied`]; `INVALID_STATE` if the VM was destroyed before its guest
    /// stopped.
    pub fn wait_for_exit(&self, timeout: Option<Duration>) -> Result<ExitInfo> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut inner = self.shared.lock();
        loop {
            if let Some(exit) = &inner.exit {
                return Ok(exit.clone());
            }
            if inner.service_died {
                return Err(Error::ServiceDied);
            }
            if inner.state == Some(VmState::DESTROYED) {
                return Err(Error::Rejected {
                    call: "wait_for_exit",
                    code: gunyah_binder::aidl::ErrorCode::ErrorCode::INVALID_STATE.0,
                    message: format!("vm {} was destroyed before its guest stopped", self.id),
                });
            }
            inner = match deadline {
                None => self.shared.changed.wait(inner).ignore_poison(),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::Timeout(timeout.unwrap_or_default()));
                    }
                    self.shared
                        .changed
                        .wait_timeout(inner, left)
                        .ignore_poison()
                        .0
                }
            };
        }
    }

    /// Waits (bounded) until the VM reached `state`, as notified; whether it did.
    pub fn wait_for_state(&self, state: VmState, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        while inner.state != Some(state) && !inner.service_died {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            inner = self
                .shared
                .changed
                .wait_timeout(inner, left)
                .ignore_poison()
                .0;
        }
        inner.state == Some(state)
    }

    /// Every event from now on, in order, as a channel.
    pub fn events(&self) -> mpsc::Receiver<VmEvent> {
        let (tx, rx) = mpsc::channel();
        self.shared.lock().subscribers.push(tx);
        rx
    }

    /// Calls `listener` for every event from now on, in order, on a binder thread.
    pub fn on_event(&self, listener: impl Fn(&VmEvent) + Send + Sync + 'static) {
        self.shared
            .lock()
            .listeners
            .push(Arc::new(Box::new(listener)));
    }

    /// An eventfd that asserts the guest interrupt `label` when signalled.
    pub fn create_irqfd(&self, label: i32, level_triggered: bool) -> Result<EventFd> {
        let pfd = self
            .binder
            .createIrqfd(&IrqfdConfig {
                label,
                levelTriggered: level_triggered,
            })
            .map_err(|s| self.failed("createIrqfd", s))?;
        Ok(EventFd::new(owned(pfd)?))
    }

    /// An eventfd signalled when the guest writes `size` bytes at `guest_phys_addr` (only
    /// the value `data_match`, if given).
    pub fn create_ioeventfd(
        &self,
        guest_phys_addr: u64,
        size: u32,
        data_match: Option<u64>,
    ) -> Result<EventFd> {
        let pfd = self
            .binder
            .createIoeventfd(&IoeventfdConfig {
                guestPhysAddr: guest_phys_addr as i64,
                size: size as i32,
                matchData: data_match.is_some(),
                data: data_match.unwrap_or(0) as i64,
            })
            .map_err(|s| self.failed("createIoeventfd", s))?;
        Ok(EventFd::new(owned(pfd)?))
    }

    /// Serves guest MMIO in `[guest_phys_addr, guest_phys_addr + size)` with `handler`: through
    /// the VM's MMIO ring where the service offers it (interface V3: two eventfd wake-ups per
    /// exit, all exits served by one thread of this process), else with a binder handler
    /// object (two binder calls per exit, on binder threads).
    pub fn set_mmio_handler(
        &self,
        guest_phys_addr: u64,
        size: u64,
        handler: impl MmioHandler,
    ) -> Result<()> {
        let range = GuestRange {
            guestPhysAddr: guest_phys_addr as i64,
            size: size as i64,
        };
        let handler: Arc<dyn MmioHandler> = Arc::new(handler);
        let mut path = self.mmio_path.lock().ignore_poison();
        // The first handler decides the path; starting a ring routes its range already.
        let routed = match *path {
            MmioPath::Undecided => {
                let (chosen, routed) = self.choose_mmio_path(&range)?;
                *path = chosen;
                routed
            }
            _ => false,
        };
        if let MmioPath::Ring(ring) = &*path {
            if !routed {
                // The ring already runs here; the new duplicates of its fds are dropped.
                self.binder
                    .setMmioRing(&ring_request(&range))
                    .map_err(|s| self.failed("setMmioRing", s))?;
            }
            ring.add(model_range(guest_phys_addr, size), handler);
            return Ok(());
        }
        drop(path);
        let binder = gunyah_binder::new_binder!(BnGunyahMmioHandler, Adapter(handler));
        self.binder
            .setMmioHandler(&range, Some(&binder))
            .map_err(|s| self.failed("setMmioHandler", s))?;
        let mut handlers = self.handlers.lock().ignore_poison();
        handlers.retain(|(r, _)| *r != range);
        handlers.push((range, binder));
        Ok(())
    }

    /// The ring where the service offers one (V3, and a VM no wider than a ring), started with
    /// `range` routed to it (`true`); else binder handlers (`false`: nothing routed).
    fn choose_mmio_path(&self, range: &GuestRange) -> Result<(MmioPath, bool)> {
        match self.binder.getInterfaceVersion() {
            Ok(v) if v >= MMIO_RING_VERSION => match self.start_ring(range) {
                Ok(ring) => Ok((MmioPath::Ring(ring), true)),
                // No ring for this VM (more vCPUs than a ring has slots): binder handlers.
                Err(Error::Rejected { code, message, .. }) if code == ErrorCode::UNSUPPORTED.0 => {
                    log::info!("vm {}: {message}; serving MMIO over binder", self.id);
                    Ok((MmioPath::Binder, false))
                }
                Err(e) => Err(e),
            },
            Ok(_) => Ok((MmioPath::Binder, false)),
            Err(status) => {
                log::warn!(
                    "vm {}: getInterfaceVersion failed ({status:?}); serving MMIO over binder",
                    self.id
                );
                Ok((MmioPath::Binder, false))
            }
        }
    }

    /// Routes `range` to the VM's ring and starts serving the ring.
    fn start_ring(&self, range: &GuestRange) -> Result<RingClient> {
        let ring = self
            .binder
            .setMmioRing(&ring_request(range))
            .map_err(|s| self.failed("setMmioRing", s))?;
        let client = RingClient::start(self.id, &ring);
        if client.is_err() {
            // The range is routed to a ring nobody serves: take it back.
            let _ = self.binder.setMmioHandler(range, None);
        }
        client
    }

    /// Stops serving the range given to [`Vm::set_mmio_handler`].
    pub fn clear_mmio_handler(&self, guest_phys_addr: u64, size: u64) -> Result<()> {
        let range = GuestRange {
            guestPhysAddr: guest_phys_addr as i64,
            size: size as i64,
        };
        self.binder
            .setMmioHandler(&range, None)
            .map_err(|s| self.failed("setMmioHandler", s))?;
        if let MmioPath::Ring(ring) = &*self.mmio_path.lock().ignore_poison() {
            ring.remove(model_range(guest_phys_addr, size));
        }
        self.handlers
            .lock()
            .ignore_poison()
            .retain(|(r, _)| *r != range);
        Ok(())
    }

    /// A failed call: `ServiceDied` once the death notification came, whatever the transport
    /// said.
    fn failed(&self, call: &'static str, status: gunyah_binder::Status) -> Error {
        if self.shared.lock().service_died {
            return Error::ServiceDied;
        }
        Error::call(call, &status)
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // Best effort: the service drops the callback with the VM anyway.
        let _ = self.binder.unregisterCallback(&self.callback);
    }
}

/// A ring request for `range` whose answers never ask for a fault (`MmioHandler` has no way
/// to).
fn ring_request(range: &GuestRange) -> MmioRingRequest {
    MmioRingRequest {
        range: range.clone(),
        faultAnswers: false,
    }
}

fn model_range(guest_phys_addr: u64, size: u64) -> gunyah_sys::model::GuestRange {
    gunyah_sys::model::GuestRange {
        guest_phys_addr,
        size,
    }
}

fn owned(pfd: gunyah_binder::ParcelFileDescriptor) -> Result<std::os::fd::OwnedFd> {
    gunyah_binder::pfd_as_fd(&pfd)
        .try_clone_to_owned()
        .map_err(|e| Error::io("the returned eventfd", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Regression: waiters were woken before the listeners ran, so `gunyahctl run --json`
    /// could print `done` before the `DESTROYED` state its listener prints.
    #[test]
    fn test_waiters_see_an_event_after_every_listener_handled_it() {
        let shared = Arc::new(Shared::default());
        let handled = Arc::new(AtomicBool::new(false));
        let flag = handled.clone();
        shared
            .lock()
            .listeners
            .push(Arc::new(Box::new(move |_: &VmEvent| {
                std::thread::sleep(Duration::from_millis(50));
                flag.store(true, Ordering::SeqCst);
            })));
        let publisher = shared.clone();
        let thread =
            std::thread::spawn(move || publisher.publish(VmEvent::State(VmState::DESTROYED)));
        let mut inner = shared.lock();
        while inner.state != Some(VmState::DESTROYED) {
            inner = shared.changed.wait(inner).unwrap();
        }
        assert!(
            handled.load(Ordering::SeqCst),
            "woken before the listener finished"
        );
        drop(inner);
        thread.join().unwrap();
    }
}
