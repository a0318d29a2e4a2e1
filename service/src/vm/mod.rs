//! A VM owned by the service: its driver objects, memory and vCPU threads, its lifecycle, and
//! its teardown (on `destroy()` or when the last binder reference is gone).

mod build;
pub mod events;
pub mod mmio;
mod mmio_handler;
pub mod mmio_ring;
pub mod reaper;
mod vcpu_thread;

use gunyah_sys::sync::IgnorePoison;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::aidl::{
    IGunyahMmioHandler::IGunyahMmioHandler, IGunyahVmCallback::IGunyahVmCallback,
    MmioRing::MmioRing, VmExitInfo::VmExitInfo, VmState::VmState,
};

pub use build::Resources;
use events::VmEvents;
use mmio::{MmioConfig, MmioRouter};
use reaper::Reaper;
use vcpu_thread::{VcpuContext, VcpuThreads};

use crate::binder::Strong;
use crate::config::VmSpec;
use crate::diag::{ExitCounts, VmLine};
use crate::error::{Error, Result};
use gunyah_sys::eventfd::Shared;
use nix::errno::Errno;

use crate::names;
use crate::quota::Reservation;
use crate::trace::{self, Who};
use gunyah_hypervisor::{GuestRange, Hypervisor, IoEventfd, Irqfd, VmBackend, VmStatus};

/// How long teardown waits for vCPU threads before detaching them.
pub const VCPU_JOIN_BOUND: Duration = Duration::from_secs(2);

/// Facts about a VM that never change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmInfo {
    /// Service-wide id.
    pub id: i32,
    /// VmConfig.name.
    pub name: String,
    /// The uid that created it.
    pub owner_uid: u32,
    /// Number of vCPUs.
    pub vcpu_count: u32,
    /// Guest memory in bytes.
    pub memory_bytes: u64,
}

/// Where a VM is in its life, with the resources that stage owns.
enum Lifecycle {
    /// Built, not started.
    Configured(Box<Resources>),
    /// START succeeded; the vCPU threads run (or have ended with the guest).
    Started {
        resources: Box<Resources>,
        vcpus: VcpuThreads,
    },
    /// START failed; the driver objects stay until teardown.
    Failed(Box<Resources>),
    /// Torn down; owns nothing.
    Destroyed,
}

/// A VM and everything it owns.
pub struct Vm {
    info: VmInfo,
    events: Arc<VmEvents>,
    mmio: Arc<MmioRouter>,
    /// Decides whether the VM is destroyed (`Lifecycle::Destroyed` from the moment teardown
    /// takes its resources); `events` only reports the states.
    lifecycle: Mutex<Lifecycle>,
    /// Where its driver objects go when it is torn down.
    reaper: Arc<Reaper>,
    /// The VM and its creator, for trace spans.
    who: Who,
}

impl Vm {
    /// Builds VM `who.vm` for `who` from a validated plan (see `build`).
    pub fn build(
        who: Who,
        spec: &VmSpec,
        hyp: &dyn Hypervisor,
        reservation: Reservation,
        reaper: Arc<Reaper>,
    ) -> Result<Arc<Vm>> {
        let (id, owner_uid) = (who.vm, who.uid);
        let plan = &spec.plan;
        let mmio = MmioRouter::new(MmioConfig {
            who,
            vcpus: plan.vcpu_count,
            generation: hyp.capabilities().generation,
        });
        let resources = build::build(spec, hyp, reservation, who)?;
        mmio.charge_to(&resources.reservation);
        let events = VmEvents::new(id);
        events.charge_to(&resources.reservation);
        let info = VmInfo {
            id,
            name: plan.name.clone(),
            owner_uid,
            vcpu_count: plan.vcpu_count,
            memory_bytes: plan.memory_bytes(),
        };
        log::info!(
            "vm {id}: created {:?} for uid {owner_uid}: {} vCPUs, {} bytes in {} regions",
            info.name,
            info.vcpu_count,
            info.memory_bytes,
            plan.regions.len()
        );
        Ok(Arc::new(Vm {
            info,
            events,
            mmio: Arc::new(mmio),
            lifecycle: Mutex::new(Lifecycle::Configured(Box::new(resources))),
            reaper,
            who,
        }))
    }

    fn lifecycle(&self) -> MutexGuard<'_, Lifecycle> {
        self.lifecycle.lock().ignore_poison()
    }

    /// Facts about the VM.
    pub fn info(&self) -> &VmInfo {
        &self.info
    }

    /// The current state.
    pub fn state(&self) -> VmState {
        self.events.state()
    }

    /// How the guest stopped, if it did.
    pub fn exit_info(&self) -> Option<VmExitInfo> {
        self.events.exit_info()
    }

    /// Refuses `method` once teardown has begun: the lifecycle, not the reported state (which
    /// becomes DESTROYED only when teardown ends), decides, as for every other call.
    fn ensure_not_destroyed(&self, method: &str) -> Result<()> {
        if matches!(*self.lifecycle(), Lifecycle::Destroyed) {
            return Err(self.destroyed(method));
        }
        Ok(())
    }

    fn destroyed(&self, method: &str) -> Error {
        Error::state(format!("{method}: vm {} is destroyed", self.info.id))
    }

    /// Starts the VM; idempotent while starting or running.
    pub fn start(&self) -> Result<()> {
        let _span = trace::phase!("start", self.caller_who()).entered();
        let result = self.start_locked();
        // Notifications go out after the lifecycle lock is released.
        self.events.deliver();
        result
    }

    fn start_locked(&self) -> Result<()> {
        let mut lifecycle = self.lifecycle();
        let resources = match std::mem::replace(&mut *lifecycle, Lifecycle::Destroyed) {
            Lifecycle::Configured(resources) => resources,
            other => {
                *lifecycle = other;
                return match (&*lifecycle, self.state()) {
                    (Lifecycle::Started { .. }, VmState::STARTING | VmState::RUNNING) => Ok(()),
                    (_, state) => Err(Error::state(format!(
                        "start: vm {} is {}",
                        self.info.id,
                        names::vm_state(state)
                    ))),
                };
            }
        };
        self.events.set_state(VmState::STARTING);
        let started = {
            let _span = trace::phase!("driver.start", self.caller_who()).entered();
            resources.backend.start()
        };
        if let Err(e) = started {
            self.events.guest_stopped(&VmStatus::LoadFailed);
            *lifecycle = Lifecycle::Failed(resources);
            return Err(Error::hypervisor("start", e));
        }
        self.events.set_state(VmState::RUNNING);
        let mut resources = resources;
        let vcpus = std::mem::take(&mut resources.vcpus);
        let ctx = Arc::new(VcpuContext::new(
            self.who,
            self.events.clone(),
            self.mmio.clone(),
        ));
        let spawned = {
            let _span = trace::phase!("start.spawn_vcpus", self.caller_who()).entered();
            VcpuThreads::spawn(ctx, vcpus, &resources.reservation)
        };
        match spawned {
            Ok(vcpus) => {
                *lifecycle = Lifecycle::Started { resources, vcpus };
                Ok(())
            }
            Err(e) => {
                self.events.guest_stopped(&VmStatus::LoadFailed);
                *lifecycle = Lifecycle::Failed(resources);
                Err(Error::exhausted(
                    "vcpuCount",
                    format!("cannot start vCPU threads: {e}"),
                ))
            }
        }
    }

    /// Tears the VM down now; idempotent: stops and joins the vCPU threads, then releases the
    /// driver objects off this thread (`Teardown`, in this module, gives the order).
    pub fn destroy(&self) {
        let _span = trace::phase!("destroy", self.caller_who()).entered();
        self.take_teardown().run();
    }

    /// This VM and whoever calls now: the binder caller on a binder thread (its VM object may
    /// have been handed on), else the VM's creator.
    fn caller_who(&self) -> Who {
        match crate::binder::calling_identity() {
            caller if caller.pid as u32 != std::process::id() => {
                Who::caller(&caller).with_vm(self.info.id)
            }
            _ => self.who,
        }
    }

    /// Moves everything the VM owns into a [`Teardown`], leaving the VM destroyed.
    fn take_teardown(&self) -> Teardown {
        // The lock is released before the teardown joins threads: a vCPU thread may be
        // delivering a callback that ends up calling back into this VM.
        Teardown {
            who: self.who,
            lifecycle: std::mem::replace(&mut *self.lifecycle(), Lifecycle::Destroyed),
            events: self.events.clone(),
            mmio: self.mmio.clone(),
            reaper: self.reaper.clone(),
        }
    }

    /// See `IGunyahVm.registerCallback`.
    pub fn register_callback(&self, callback: &Strong<dyn IGunyahVmCallback>) -> Result<()> {
        self.ensure_not_destroyed("registerCallback")?;
        self.events.register(callback)
    }

    /// See `IGunyahVm.unregisterCallback`.
    pub fn unregister_callback(&self, callback: &Strong<dyn IGunyahVmCallback>) -> Result<()> {
        self.ensure_not_destroyed("unregisterCallback")?;
        self.events.unregister(callback);
        Ok(())
    }

    /// See `IGunyahVm.setMmioHandler`.
    pub fn set_mmio_handler(
        &self,
        range: GuestRange,
        handler: Option<Strong<dyn IGunyahMmioHandler>>,
    ) -> Result<()> {
        self.ensure_not_destroyed("setMmioHandler")?;
        self.mmio.set(range, handler)
    }

    /// See `IGunyahVm.setMmioRing`; `caller_pid` is the calling process.
    pub fn set_mmio_ring(
        &self,
        range: GuestRange,
        fault_answers: bool,
        caller_pid: i32,
    ) -> Result<MmioRing> {
        self.ensure_not_destroyed("setMmioRing")?;
        self.mmio.set_ring(range, fault_answers, caller_pid)
    }

    /// Makes an eventfd, binds it with `bind` (the driver call), keeps it until teardown and
    /// returns a duplicate for the client. Allowed before and after start.
    fn bind_eventfd(
        &self,
        method: &str,
        bind: impl FnOnce(&dyn VmBackend, BorrowedFd<'_>) -> Result<()>,
    ) -> Result<OwnedFd> {
        let mut lifecycle = self.lifecycle();
        let resources = match &mut *lifecycle {
            Lifecycle::Configured(r)
            | Lifecycle::Failed(r)
            | Lifecycle::Started { resources: r, .. } => r,
            Lifecycle::Destroyed => return Err(self.destroyed(method)),
        };
        let eventfd =
            Shared::new().map_err(|e| Error::exhausted(method, format!("eventfd: {e}")))?;
        bind(resources.backend.as_ref(), eventfd.as_fd())?;
        let client_copy = eventfd
            .share()
            .map_err(|e| Error::exhausted(method, format!("dup of the eventfd: {e}")))?;
        resources.eventfds.push(eventfd);
        Ok(client_copy)
    }

    /// See `IGunyahVm.createIrqfd`: the label must be unique among this VM's doorbells.
    pub fn create_irqfd(&self, irqfd: Irqfd) -> Result<OwnedFd> {
        self.bind_eventfd("createIrqfd", |backend, fd| {
            backend.add_irqfd(fd, irqfd).map_err(|e| match e.errno {
                Errno::EEXIST => Error::invalid(
                    "config.label",
                    format!("doorbell {} is already bound", irqfd.label),
                ),
                _ => Error::hypervisor("config", e),
            })
        })
    }

    /// See `IGunyahVm.createIoeventfd`.
    pub fn create_ioeventfd(&self, ioeventfd: IoEventfd) -> Result<OwnedFd> {
        self.bind_eventfd("createIoeventfd", |backend, fd| {
            backend
                .add_ioeventfd(fd, ioeventfd)
                .map_err(|e| match e.errno {
                    // a14: the same address, size and data match; the later drivers: also
                    // any ioeventfd without a data match at that address.
                    Errno::EEXIST => Error::invalid(
                        "config",
                        format!(
                            "collides with an ioeventfd already at {:#x} (the same size and data \
                             match, or one of the two without a data match)",
                            ioeventfd.addr
                        ),
                    ),
                    _ => Error::hypervisor("config", e),
                })
        })
    }

    /// This VM's line of the dump.
    pub fn dump_line(&self) -> VmLine {
        let (mmio_handlers, mmio_ring_ranges) = self.mmio.served_ranges();
        let ioeventfd_signals = match &*self.lifecycle() {
            Lifecycle::Configured(r)
            | Lifecycle::Failed(r)
            | Lifecycle::Started { resources: r, .. } => r.backend.ioeventfd_signals(),
            Lifecycle::Destroyed => None,
        };
        VmLine {
            id: self.info.id,
            uid: self.info.owner_uid,
            state: self.state(),
            vcpus: self.info.vcpu_count,
            memory_bytes: self.info.memory_bytes,
            callbacks: self.events.callback_count() as u64,
            mmio_handlers,
            mmio_ring_ranges,
            unhandled_mmio: self.mmio.unhandled(),
            exits: ExitCounts {
                ioeventfd_signals,
                ..self.mmio.exits()
            },
            name: self.info.name.clone(),
        }
    }
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("info", &self.info)
            .field("state", &names::vm_state(self.state()))
            .finish()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let teardown = self.take_teardown();
        if !vcpu_thread::on_vcpu_thread() {
            return teardown.run();
        }
        // Binder can drop the last reference on a vCPU thread: when the vCPU's call into a
        // client's MMIO handler or callback fails because the client died, the failing call
        // ends that client's session and drops the session's objects — this VM among them —
        // right there. A teardown on that thread would wait for the thread itself, so it gets
        // a thread of its own. Should no thread be had, the closure is dropped with the error,
        // which runs the teardown here (it then skips waiting for this thread).
        let id = self.info.id;
        if let Err(e) = std::thread::Builder::new()
            .name(format!("vm{id}-teardown"))
            .spawn(move || teardown.run())
        {
            log::warn!("vm {id}: no thread for the teardown ({e}); torn down on a vCPU thread");
        }
    }
}

/// Everything a VM owned, taken out of it to be torn down — now, or on another thread. Here:
/// stop and join the vCPU threads, give the quota back, then notify DESTROYED and drop the
/// client's callbacks and handlers. What closes driver fds is released on a thread of its own
/// ([`reaper`]): the vCPU fds, the VM fd (the later drivers may block there until the VM is
/// reset), the eventfds, then the memory mappings. Runs once: by `run`, or when dropped unrun.
struct Teardown {
    /// The VM (`who.vm`) and its creator.
    who: Who,
    lifecycle: Lifecycle,
    events: Arc<VmEvents>,
    mmio: Arc<MmioRouter>,
    reaper: Arc<Reaper>,
}

impl Teardown {
    fn run(mut self) {
        self.run_once();
    }

    fn run_once(&mut self) {
        let lifecycle = std::mem::replace(&mut self.lifecycle, Lifecycle::Destroyed);
        if matches!(lifecycle, Lifecycle::Destroyed) {
            return;
        }
        let _span = trace::phase!("teardown", self.who).entered();
        let resources = match lifecycle {
            Lifecycle::Destroyed => return,
            Lifecycle::Configured(resources) | Lifecycle::Failed(resources) => resources,
            Lifecycle::Started { resources, vcpus } => {
                vcpus.stop_and_join(VCPU_JOIN_BOUND);
                resources
            }
        };
        let _release = trace::phase!("teardown.release", self.who).entered();
        let Resources {
            vcpus,
            backend,
            eventfds,
            memory,
            reservation,
        } = *resources;
        // The driver objects go in their teardown order (a tuple drops front to back): vCPU
        // fds, the VM fd (where a later driver may wait for the reset), the eventfds, the
        // mappings. The quota is the client's: it comes back once they are released (a VM in
        // release holds its memory and driver objects still), or when the last thread that
        // still serves the VM (one that did not stop in time) ends, whichever is later.
        self.reaper.release(
            self.who.vm,
            self.who,
            Box::new((vcpus, backend, eventfds, memory, reservation.clone())),
        );
        reservation.retire();
        log::info!(
            "vm {}: torn down; its driver objects are being released",
            self.who.vm
        );
        self.events.set_state(VmState::DESTROYED);
        self.events.deliver();
        self.events.clear_callbacks();
        self.mmio.clear();
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        self.run_once();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::aidl::VmState::VmState;
    use crate::manager::tests::{caller, demo_config, manager_with};
    use crate::quota::QuotaLimits;
    use gunyah_mock::MockHypervisor;

    /// From the moment teardown takes a VM's resources every call refuses it as destroyed,
    /// though the state it reports becomes DESTROYED only when the teardown ends
    /// (setMmioHandler checked the reported state, and was let through in between).
    #[test]
    fn test_destroyed_from_the_start_of_teardown() {
        let m = manager_with(Arc::new(MockHypervisor::new()), QuotaLimits::default());
        let vm = m
            .create_vm(&caller(10), &demo_config("t", 1 << 20, 1).unwrap())
            .unwrap();
        let range = gunyah_hypervisor::GuestRange {
            guest_phys_addr: 0x9000_0000,
            size: 4096,
        };
        let teardown = vm.take_teardown();
        assert_ne!(vm.state(), VmState::DESTROYED, "reported only at the end");
        let refused = vm.set_mmio_handler(range, None).unwrap_err();
        assert!(refused.to_string().contains("destroyed"), "{refused}");
        let irqfd = gunyah_hypervisor::Irqfd {
            label: 1,
            trigger: gunyah_hypervisor::TriggerMode::Edge,
        };
        assert!(vm.create_irqfd(irqfd).is_err());
        teardown.run();
        assert_eq!(vm.state(), VmState::DESTROYED);
    }
}
