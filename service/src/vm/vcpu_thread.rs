//! One thread per vCPU, looping on `run` and dispatching exits; stopped by kicking each vCPU
//! and joined with a bound so that a vCPU stuck in a slow handler cannot hang teardown.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::events::VmEvents;
use super::mmio::MmioRouter;
use crate::hyp::{VcpuBackend, VcpuExit, VcpuKicker};

/// What every vCPU thread of a VM shares.
pub struct VcpuContext {
    /// VM id, for logs.
    pub vm_id: i32,
    /// Where state changes go.
    pub events: Arc<VmEvents>,
    /// Where MMIO exits go.
    pub mmio: Arc<MmioRouter>,
    /// Set before the threads are kicked for teardown.
    pub stop: AtomicBool,
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
    done: mpsc::Receiver<u32>,
}

fn run_loop(mut vcpu: Box<dyn VcpuBackend>, ctx: &VcpuContext) {
    let id = vcpu.id();
    while !ctx.stop.load(Ordering::SeqCst) {
        match vcpu.run() {
            Ok(VcpuExit::Mmio {
                phys_addr,
                len,
                write: None,
            }) => {
                let value = ctx.mmio.read(ctx.vm_id, phys_addr, len);
                vcpu.set_mmio_read_data(value);
            }
            Ok(VcpuExit::Mmio {
                phys_addr,
                len,
                write: Some(value),
            }) => {
                ctx.mmio.write(ctx.vm_id, phys_addr, len, value);
            }
            Ok(VcpuExit::Status(status)) => {
                log::info!("vm {} vcpu {id}: guest stopped: {status:?}", ctx.vm_id);
                ctx.events.guest_stopped(&status);
                ctx.events.deliver();
                return;
            }
            // Kicked (teardown) or interrupted by a signal: the loop condition decides.
            Err(e) if e.errno == Errno::EINTR => {}
            Err(e) => {
                log::error!("vm {} vcpu {id}: {e}; vCPU thread ends", ctx.vm_id);
                return;
            }
        }
    }
}

impl VcpuThreads {
    /// Starts one thread per vCPU. On failure the threads already started are stopped.
    pub fn spawn(ctx: Arc<VcpuContext>, vcpus: Vec<Box<dyn VcpuBackend>>) -> std::io::Result<Self> {
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
            let done_tx = done_tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("vm{}-vcpu{id}", ctx.vm_id))
                .spawn(move || {
                    ON_VCPU_THREAD.with(|on| on.set(true));
                    run_loop(vcpu, &ctx);
                    // The vCPU (and its fd) is dropped before the thread reports done.
                    let _ = done_tx.send(id);
                })?;
            threads.threads.push(VcpuThread { id, handle, kicker });
        }
        Ok(threads)
    }

    /// Stops every vCPU and joins the threads, waiting at most `bound` in total. Threads that
    /// do not finish in time (a vCPU blocked in a client's MMIO handler) are detached and
    /// logged; they release their vCPU when the handler returns or its client dies.
    ///
    /// Never waits for the calling thread: when teardown runs on one of these vCPU threads
    /// (see `Vm`'s `Drop`), that thread has been told to stop and ends, releasing its vCPU, as
    /// soon as it returns to its run loop.
    pub fn stop_and_join(self, bound: Duration) {
        self.ctx.stop.store(true, Ordering::SeqCst);
        for t in &self.threads {
            t.kicker.kick();
        }
        let me = std::thread::current().id();
        let (own, threads): (Vec<_>, Vec<_>) = self
            .threads
            .into_iter()
            .partition(|t| t.handle.thread().id() == me);
        for t in own {
            log::debug!(
                "vm {} vcpu {}: torn down from its own thread",
                self.ctx.vm_id,
                t.id
            );
        }
        let deadline = Instant::now() + bound;
        let mut finished = Vec::with_capacity(threads.len());
        while finished.len() < threads.len() {
            match self
                .done
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(id) => finished.push(id),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        for t in threads {
            if finished.contains(&t.id) {
                if t.handle.join().is_err() {
                    log::error!("vm {} vcpu {}: thread panicked", self.ctx.vm_id, t.id);
                }
            } else {
                log::error!(
                    "vm {} vcpu {}: did not stop within {bound:?}; detached",
                    self.ctx.vm_id,
                    t.id
                );
            }
        }
    }
}
