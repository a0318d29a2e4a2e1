//! One thread per vCPU, looping on `run` and dispatching exits; stopped by kicking each vCPU
//! and joined with a bound so that a vCPU stuck in a slow handler cannot hang teardown.

use gunyah_sys::sync::IgnorePoison;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::events::VmEvents;
use super::mmio::{MmioRouter, Resume};
use crate::quota::{Reservation, ThreadCharge};
use crate::trace::{self, Who};
use gunyah_contract::mmio_ring::Access;
use gunyah_hypervisor::{MmioResumeAction, VcpuBackend, VcpuExit, VcpuKicker};

/// What every vCPU thread of a VM shares.
pub struct VcpuContext {
    /// The VM and its creator, for logs and trace spans.
    pub who: Who,
    /// Where state changes go.
    pub events: Arc<VmEvents>,
    /// Where MMIO exits go.
    pub mmio: Arc<MmioRouter>,
    /// Set before the threads are kicked for teardown (or when the guest stops or faults).
    pub stop: AtomicBool,
    /// Every vCPU's kicker, so that any vCPU thread can stop its siblings.
    kickers: Mutex<Vec<Arc<dyn VcpuKicker>>>,
}

impl VcpuContext {
    /// The context of VM `who.vm`'s vCPU threads.
    pub fn new(who: Who, events: Arc<VmEvents>, mmio: Arc<MmioRouter>) -> Self {
        Self {
            who,
            events,
            mmio,
            stop: AtomicBool::new(false),
            kickers: Mutex::default(),
        }
    }

    /// Tells every vCPU thread to return: the flag its run loop checks, and the MMIO ring's
    /// stop signal, which ends a wait for a ring answer (a kick reaches only a thread inside
    /// `run`).
    fn raise_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.mmio.stop_waits();
    }

    fn kickers(&self) -> std::sync::MutexGuard<'_, Vec<Arc<dyn VcpuKicker>>> {
        self.kickers.lock().ignore_poison()
    }

    /// Stops every vCPU thread of the VM: each returns from its run loop (or from its wait
    /// for an MMIO ring answer).
    fn stop_all(&self) {
        self.raise_stop();
        for kicker in self.kickers().iter() {
            kicker.kick();
        }
    }
}

thread_local! {
    /// Set on every vCPU thread, of any VM.
    static ON_VCPU_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is a vCPU thread (of any VM).
pub fn on_vcpu_thread() -> bool {
    ON_VCPU_THREAD.with(Cell::get)
}

struct VcpuThread {
    id: u32,
    handle: JoinHandle<()>,
    kicker: Arc<dyn VcpuKicker>,
}

/// The running vCPU threads of one VM.
pub struct VcpuThreads {
    ctx: Arc<VcpuContext>,
    threads: Vec<VcpuThread>,
    done: mpsc::Receiver<Done>,
}

/// A vCPU thread's last word: sent after its vCPU (and the vCPU's fd) is dropped, also when
/// the thread panics.
struct Done {
    id: u32,
    panicked: bool,
}

/// Sends [`Done`] when dropped: declared before the vCPU moves into the run loop, it is
/// dropped after it, on return and on unwinding alike.
struct DoneGuard {
    id: u32,
    tx: mpsc::Sender<Done>,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.tx.send(Done {
            id: self.id,
            panicked: std::thread::panicking(),
        });
    }
}

/// How a vCPU thread is started: `Builder::spawn`, or a failing one in tests.
type Spawner<'a> =
    &'a dyn Fn(std::thread::Builder, Box<dyn FnOnce() + Send>) -> std::io::Result<JoinHandle<()>>;

fn run_loop(mut vcpu: Box<dyn VcpuBackend>, ctx: &VcpuContext) {
    let id = vcpu.id();
    let stopping = || ctx.stop.load(Ordering::SeqCst);
    let who = ctx.who;
    while !stopping() {
        let ran = {
            let _span = trace::hot!("vcpu.run", who, vcpu = id).entered();
            vcpu.run()
        };
        match ran {
            Ok(VcpuExit::Mmio {
                phys_addr,
                len,
                write,
            }) => {
                let _span = trace::hot!("exit.mmio", who, vcpu = id, addr = phys_addr).entered();
                let access = Access {
                    address: phys_addr,
                    size: len,
                    write,
                };
                match ctx.mmio.exit(id, &access, &stopping) {
                    Resume::Handled { read_data } => {
                        if write.is_none() {
                            vcpu.set_mmio_read_data(read_data);
                        }
                    }
                    Resume::Fault => vcpu.set_mmio_resume_action(MmioResumeAction::FAULT),
                    Resume::Stop => return,
                }
            }
            // The guest stopped: every vCPU is told, so that one waiting for an MMIO ring
            // answer does not wait for a VM that is gone.
            Ok(VcpuExit::Status(status)) => {
                let _span = trace::phase!("exit.status", who, vcpu = id).entered();
                log::info!("vm {} vcpu {id}: guest stopped: {status:?}", ctx.who.vm);
                ctx.events.guest_stopped(&status);
                ctx.stop_all();
                ctx.events.deliver();
                return;
            }
            // Memory the driver could not back. The service adds no memory after createVm, so
            // running again would meet the same fault: the VM stops (CRASHED, with the fault in
            // its exit info) instead of spinning on it.
            Ok(VcpuExit::PageFault { phys_addr, errno }) => {
                let _span =
                    trace::phase!("exit.page_fault", who, vcpu = id, addr = phys_addr).entered();
                log::warn!(
                    "vm {} vcpu {id}: guest fault at {phys_addr:#x} ({errno}); stopping the VM",
                    ctx.who.vm
                );
                ctx.events.guest_faulted(phys_addr, errno);
                ctx.stop_all();
                ctx.events.deliver();
                return;
            }
            // Kicked (teardown) or interrupted by a signal: the loop condition decides.
            Err(e) if e.errno == Errno::EINTR => {
                let _span = trace::hot!("exit.interrupted", who, vcpu = id).entered();
            }
            // The driver refuses to run this vCPU (e.g. ENODEV: it has no hypervisor resource,
            // or its function was removed). Running again would get the same answer: the VM
            // stops, CRASHED with the errno, instead of spinning or leaving a silent vCPU.
            Err(e) => {
                let _span = trace::phase!("exit.run_failed", who, vcpu = id).entered();
                log::error!("vm {} vcpu {id}: {e}; stopping the VM", ctx.who.vm);
                ctx.events.run_failed(e.errno);
                ctx.stop_all();
                ctx.events.deliver();
                return;
            }
        }
    }
}

impl VcpuThreads {
    /// Starts one thread per vCPU, each holding a charge on `reservation` until it ends. On
    /// failure the threads already started are stopped and every vCPU is dropped.
    pub fn spawn(
        ctx: Arc<VcpuContext>,
        vcpus: Vec<Box<dyn VcpuBackend>>,
        reservation: &Arc<Reservation>,
    ) -> std::io::Result<Self> {
        Self::spawn_with(ctx, vcpus, reservation, &|builder, f| builder.spawn(f))
    }

    fn spawn_with(
        ctx: Arc<VcpuContext>,
        vcpus: Vec<Box<dyn VcpuBackend>>,
        reservation: &Arc<Reservation>,
        spawner: Spawner<'_>,
    ) -> std::io::Result<Self> {
        let (done_tx, done) = mpsc::channel();
        let mut threads = Self {
            ctx: ctx.clone(),
            threads: Vec::with_capacity(vcpus.len()),
            done,
        };
        for vcpu in vcpus {
            let id = vcpu.id();
            let kicker = vcpu.kicker();
            let ctx = ctx.clone();
            let guard = DoneGuard {
                id,
                tx: done_tx.clone(),
            };
            let builder = std::thread::Builder::new().name(format!("vm{}-vcpu{id}", ctx.who.vm));
            let charge = ThreadCharge::new(reservation);
            let spawned = spawner(
                builder,
                Box::new(move || {
                    // Dropped last, after the vCPU and the `Done` word: a thread that outlives
                    // its VM's teardown keeps the VM charged until it ends.
                    let _charge = charge;
                    let _done = guard;
                    ON_VCPU_THREAD.with(|on| on.set(true));
                    run_loop(vcpu, &ctx);
                }),
            );
            match spawned {
                Ok(handle) => {
                    threads.ctx.kickers().push(kicker.clone());
                    threads.threads.push(VcpuThread { id, handle, kicker });
                }
                Err(e) => {
                    // The vCPUs not yet started are dropped with the iterator.
                    threads.stop_and_join(super::VCPU_JOIN_BOUND);
                    return Err(e);
                }
            }
        }
        Ok(threads)
    }

    /// Stops every vCPU and joins the threads, waiting at most `bound` in total. No wait of a
    /// vCPU thread on a client outlasts the stop (docs/THREAT_MODEL.md); should a thread still
    /// not finish in time (a driver that does not return from RUN), it is detached and logged,
    /// and keeps its vCPU and its VM's charge on the client's quota until it ends.
    ///
    /// Never waits for the calling thread: when teardown runs on one of these vCPU threads
    /// (see `Vm`'s `Drop`), that thread has been told to stop and ends, releasing its vCPU, as
    /// soon as it returns to its run loop.
    pub fn stop_and_join(self, bound: Duration) {
        let who = self.ctx.who;
        {
            let _span = trace::phase!("teardown.stop", who).entered();
            self.ctx.raise_stop();
            for t in &self.threads {
                t.kicker.kick();
            }
        }
        let _span = trace::phase!("teardown.join", who).entered();
        let me = std::thread::current().id();
        let (own, mut waiting): (Vec<_>, Vec<_>) = self
            .threads
            .into_iter()
            .partition(|t| t.handle.thread().id() == me);
        if !own.is_empty() {
            log::debug!(
                "vm {}: torn down from one of its vCPU threads",
                self.ctx.who.vm
            );
        }
        let deadline = Instant::now() + bound;
        while !waiting.is_empty() {
            let done = match self
                .done
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(done) => done,
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
            };
            if done.panicked {
                log::error!("vm {} vcpu {}: thread panicked", self.ctx.who.vm, done.id);
            }
            if let Some(i) = waiting.iter().position(|t| t.id == done.id) {
                // It has dropped its vCPU and is returning: the join is immediate. (A panic
                // was logged above from `Done`.)
                let _ = waiting.swap_remove(i).handle.join();
            }
        }
        for t in waiting {
            log::error!(
                "vm {} vcpu {}: did not stop within {bound:?}; detached",
                self.ctx.who.vm,
                t.id
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Condvar, Mutex};

    use super::*;
    use crate::quota::{QuotaLimits, Quotas};
    use gunyah_hypervisor::{DriverIoctl, HypError, HypResult};

    /// A vCPU that blocks in `run` until kicked, and counts itself while it exists.
    struct FakeVcpu {
        id: u32,
        alive: Arc<AtomicUsize>,
        kick: Arc<FakeKick>,
    }

    #[derive(Default)]
    struct FakeKick {
        kicked: Mutex<bool>,
        wake: Condvar,
    }

    impl VcpuKicker for FakeKick {
        fn kick(&self) {
            *self.kicked.lock().unwrap() = true;
            self.wake.notify_all();
        }
    }

    /// What RUN answers when kicked.
    fn interrupted() -> HypResult<VcpuExit> {
        Err(HypError {
            call: DriverIoctl::VcpuRun.into(),
            errno: Errno::EINTR,
        })
    }

    impl VcpuBackend for FakeVcpu {
        fn id(&self) -> u32 {
            self.id
        }
        fn run(&mut self) -> HypResult<VcpuExit> {
            let kicked = self.kick.kicked.lock().unwrap();
            drop(self.kick.wake.wait_while(kicked, |k| !*k).unwrap());
            interrupted()
        }
        fn set_mmio_read_data(&mut self, _data: u64) {}
        fn set_mmio_resume_action(&mut self, _action: MmioResumeAction) {}
        fn kicker(&self) -> Arc<dyn VcpuKicker> {
            self.kick.clone()
        }
    }

    impl Drop for FakeVcpu {
        fn drop(&mut self) {
            self.alive.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn fake_vcpus(n: u32, alive: &Arc<AtomicUsize>) -> Vec<Box<dyn VcpuBackend>> {
        alive.fetch_add(n as usize, Ordering::SeqCst);
        (0..n)
            .map(|id| {
                Box::new(FakeVcpu {
                    id,
                    alive: alive.clone(),
                    kick: Arc::default(),
                }) as Box<dyn VcpuBackend>
            })
            .collect()
    }

    fn context() -> Arc<VcpuContext> {
        let mmio = MmioRouter::new(super::super::mmio::MmioConfig {
            who: Who::new(1, 10, 1),
            vcpus: 4,
            generation: gunyah_hypervisor::Generation::Ack66Late,
        });
        Arc::new(VcpuContext::new(
            Who::new(1, 10, 1),
            VmEvents::new(1),
            Arc::new(mmio),
        ))
    }

    fn reservation(quotas: &Arc<Quotas>) -> Arc<Reservation> {
        Arc::new(quotas.reserve(10, 1, 4096).unwrap())
    }

    #[test]
    fn test_spawn_failure_stops_the_started_threads() {
        let alive = Arc::new(AtomicUsize::new(0));
        let started = AtomicUsize::new(0);
        // The third vCPU thread cannot be had (as with EAGAIN at the thread limit).
        let spawner = |builder: std::thread::Builder, f: Box<dyn FnOnce() + Send>| {
            if started.fetch_add(1, Ordering::SeqCst) == 2 {
                return Err(std::io::Error::from_raw_os_error(libc::EAGAIN));
            }
            builder.spawn(f)
        };
        let quotas = Quotas::new(QuotaLimits::default());
        let result = VcpuThreads::spawn_with(
            context(),
            fake_vcpus(4, &alive),
            &reservation(&quotas),
            &spawner,
        );
        assert!(result.is_err());
        assert_eq!(
            alive.load(Ordering::SeqCst),
            0,
            "every vCPU, started or not, is dropped"
        );
    }

    #[test]
    fn test_stop_and_join_releases_every_vcpu() {
        let alive = Arc::new(AtomicUsize::new(0));
        let quotas = Quotas::new(QuotaLimits::default());
        let threads =
            VcpuThreads::spawn(context(), fake_vcpus(3, &alive), &reservation(&quotas)).unwrap();
        assert_eq!(alive.load(Ordering::SeqCst), 3);
        let start = Instant::now();
        threads.stop_and_join(Duration::from_secs(10));
        assert_eq!(alive.load(Ordering::SeqCst), 0);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(quotas.vms_of(10), 0, "every charge ended with its thread");
    }

    /// A vCPU that kicks do not reach: `run` says it has begun (`.0`) and returns only when
    /// the test lets it (`.1`).
    struct StubbornVcpu(Arc<(Mutex<(bool, bool)>, Condvar)>);

    impl VcpuBackend for StubbornVcpu {
        fn id(&self) -> u32 {
            0
        }
        fn run(&mut self) -> HypResult<VcpuExit> {
            let (state, wake) = &*self.0;
            state.lock().unwrap().0 = true;
            wake.notify_all();
            drop(wake.wait_while(state.lock().unwrap(), |s| !s.1).unwrap());
            interrupted()
        }
        fn set_mmio_read_data(&mut self, _data: u64) {}
        fn set_mmio_resume_action(&mut self, _action: MmioResumeAction) {}
        fn kicker(&self) -> Arc<dyn VcpuKicker> {
            Arc::new(FakeKick::default())
        }
    }

    /// A thread that does not stop in time is detached, and its VM stays charged to the
    /// client until it ends (it was given back at once, and the client could create VMs past
    /// its quota by wedging threads).
    #[test]
    fn a_thread_that_does_not_stop_keeps_its_vm_charged() {
        let quotas = Quotas::new(QuotaLimits {
            max_vms: 1,
            ..QuotaLimits::default()
        });
        let gate = Arc::new((Mutex::new((false, false)), Condvar::new()));
        let reservation = reservation(&quotas);
        let vcpu: Box<dyn VcpuBackend> = Box::new(StubbornVcpu(gate.clone()));
        let threads = VcpuThreads::spawn(context(), vec![vcpu], &reservation).unwrap();
        drop(gate.1.wait_while(gate.0.lock().unwrap(), |s| !s.0).unwrap());
        threads.stop_and_join(Duration::from_millis(50));
        reservation.retire();
        assert!(quotas.reserve(10, 1, 4096).is_err(), "still charged");
        assert_eq!(quotas.lingering_threads().get(&10), Some(&1));
        gate.0.lock().unwrap().1 = true;
        gate.1.notify_all();
        let deadline = Instant::now() + Duration::from_secs(10);
        while quotas.vms_of(10) != 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(quotas.vms_of(10), 0, "given back when the thread ended");
        assert!(quotas.lingering_threads().is_empty());
    }
}
