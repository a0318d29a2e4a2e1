//! Routes guest MMIO exits to whatever serves their range: a client's binder handler
//! (`setMmioHandler`, two binder calls per exit) or the VM's MMIO ring (`setMmioRing`, two
//! eventfd wake-ups per exit). A range has one server; accesses no range covers read 0 and
//! drop their writes.

use gunyah_sys::sync::IgnorePoison;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::aidl::{IGunyahMmioHandler::IGunyahMmioHandler, MmioRing::MmioRing};

use super::mmio_handler::{Called, HandlerCalls};
use super::mmio_ring::{Exchange, RingHost};
use crate::binder::Strong;
use crate::diag::{ExitCounts, UnhandledMmio};
use crate::error::{Error, Result};
use crate::quota::Reservation;
use crate::trace::{self, Who};
use gunyah_contract::mmio_ring::{self, Access, Action};
use gunyah_hypervisor::{Generation, GuestRange};

/// What serves a range.
#[derive(Clone)]
enum Server {
    /// A client's `IGunyahMmioHandler`.
    Handler(Strong<dyn IGunyahMmioHandler>),
    /// The VM's ring; whether answers for the range may ask for a fault.
    Ring {
        ring: Arc<RingHost>,
        fault_answers: bool,
    },
}

struct Route {
    range: GuestRange,
    server: Server,
}

/// What a VM's router is built with.
#[derive(Debug, Clone, Copy)]
pub struct MmioConfig {
    /// The VM and its creator, for logs, the ring's name and trace spans.
    pub who: Who,
    /// Its vCPUs: the ring's slots.
    pub vcpus: u32,
    /// The driver generation: whether an answer can inject a fault (`resume_action`, the
    /// later generations).
    pub generation: Generation,
}

/// How the vCPU resumes after an MMIO exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// The access is done; a read returns `read_data`.
    Handled {
        /// The value of a read (ignored for a write).
        read_data: u64,
    },
    /// Inject a fault into the guest for the access.
    Fault,
    /// The VM is stopping while the exit waited for its answer: the vCPU thread returns.
    Stop,
}

/// The MMIO routes of one VM.
pub struct MmioRouter {
    config: MmioConfig,
    routes: RwLock<Vec<Route>>,
    /// Made at the first `set_ring`; dropped at teardown.
    ring: Mutex<Option<Arc<RingHost>>>,
    /// Set by `stop_waits`: a ring made later is born stopped.
    stopping: AtomicBool,
    /// Set by `clear` under the routes' lock: a `set` or `set_ring` racing teardown is refused
    /// rather than leave a route, a ring or a handler on a destroyed VM.
    closed: AtomicBool,
    /// Binder handler calls, off the vCPU threads.
    handlers: HandlerCalls,
    unhandled_reads: AtomicU64,
    unhandled_writes: AtomicU64,
    refused_answers: AtomicU64,
    binder_exits: AtomicU64,
    ring_exits: AtomicU64,
    /// When the router was made; `last_exit` counts from it.
    born: Instant,
    /// Microseconds from `born` to the start of the last exit, plus one (0: none yet).
    last_exit: AtomicU64,
    last_log: Mutex<Option<Instant>>,
}

const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// The most ranges one VM's handlers and ring serve together. Finding the server of an exit is
/// a walk of the list, on every exit, so a client must not grow it without end; 64 is more
/// than a VM's MMIO devices (crosvm's arm64 VMs have a dozen or so).
pub const MAX_MMIO_RANGES: usize = 64;

impl MmioRouter {
    /// A router with no routes.
    pub fn new(config: MmioConfig) -> Self {
        Self {
            config,
            routes: RwLock::default(),
            ring: Mutex::default(),
            stopping: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            handlers: HandlerCalls::new(config.who.vm, config.vcpus),
            unhandled_reads: AtomicU64::new(0),
            unhandled_writes: AtomicU64::new(0),
            refused_answers: AtomicU64::new(0),
            binder_exits: AtomicU64::new(0),
            ring_exits: AtomicU64::new(0),
            born: Instant::now(),
            last_exit: AtomicU64::new(0),
            last_log: Mutex::default(),
        }
    }

    /// Charges the threads that call handlers to `reservation` (see `HandlerCalls`).
    pub fn charge_to(&self, reservation: &Arc<Reservation>) {
        self.handlers.charge_to(reservation);
    }

    /// `INVALID_ARGUMENT` if a range `range` overlaps is served already (`range` is checked by
    /// the contract: not empty, no overflow).
    fn check_free(routes: &[Route], range: &GuestRange) -> Result<()> {
        if let Some(other) = routes.iter().find(|r| r.range.overlaps(range)) {
            return Err(Error::invalid(
                "range",
                format!(
                    "overlaps the {} of [{:#x}, {:#x})",
                    match other.server {
                        Server::Handler(_) => "handler",
                        Server::Ring { .. } => "MMIO ring range",
                    },
                    other.range.guest_phys_addr,
                    other.range.guest_phys_addr + other.range.size
                ),
            ));
        }
        Ok(())
    }

    /// `INVALID_STATE` once `clear` has run (the caller holds the routes' lock).
    fn check_open(&self, method: &str) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::state(format!(
                "{method}: vm {} is destroyed",
                self.config.who.vm
            )));
        }
        Ok(())
    }

    /// `RESOURCE_EXHAUSTED` when `routes` has room for no other range.
    fn check_room(routes: &[Route]) -> Result<()> {
        if routes.len() >= MAX_MMIO_RANGES {
            return Err(Error::exhausted(
                "range",
                format!(
                    "this VM's handlers and ring serve {MAX_MMIO_RANGES} ranges already, the \
                     most a VM may have (MAX_MMIO_RANGES)"
                ),
            ));
        }
        Ok(())
    }

    /// Sets (`Some`) the handler of `range`, or removes (`None`) what serves exactly `range`:
    /// a handler or the ring.
    pub fn set(
        &self,
        range: GuestRange,
        handler: Option<Strong<dyn IGunyahMmioHandler>>,
    ) -> Result<()> {
        let mut routes = self.routes.write().ignore_poison();
        self.check_open("setMmioHandler")?;
        match handler {
            Some(handler) => {
                Self::check_free(&routes, &range)?;
                Self::check_room(&routes)?;
                routes.push(Route {
                    range,
                    server: Server::Handler(handler),
                });
                Ok(())
            }
            None => {
                let before = routes.len();
                routes.retain(|r| r.range != range);
                if routes.len() == before {
                    return Err(Error::invalid(
                        "range",
                        "no handler or ring serves exactly this range",
                    ));
                }
                Ok(())
            }
        }
    }

    /// Serves `range` with the VM's ring (made now if it is the first), and returns the ring
    /// for the client, process `caller_pid`, whose life the ring follows from now on.
    /// `fault_answers` needs a driver with `resume_action`.
    ///
    /// All or nothing: what can fail (the ring, following the caller, new fds) happens before
    /// the route is added, and a failure takes back what it added. The reply can still fail
    /// after this returns (the binder layer needs fds too), so asking again for a range the
    /// ring serves already, with the same `fault_answers`, is no overlap: it answers the ring
    /// again.
    pub fn set_ring(
        &self,
        range: GuestRange,
        fault_answers: bool,
        caller_pid: i32,
    ) -> Result<MmioRing> {
        if fault_answers && !self.config.generation.is_later() {
            return Err(Error::unsupported(
                "request.faultAnswers",
                format!(
                    "the {} driver has no resume_action: an answer cannot inject a fault",
                    self.config.generation
                ),
            ));
        }
        if self.config.vcpus > mmio_ring::MAX_SLOTS {
            return Err(Error::unsupported(
                "setMmioRing",
                format!(
                    "a ring has at most {} slots, one per vCPU (its fds must fit one binder \
                     message), and this VM has {} vCPUs: use setMmioHandler",
                    mmio_ring::MAX_SLOTS,
                    self.config.vcpus
                ),
            ));
        }
        let mut routes = self.routes.write().ignore_poison();
        self.check_open("setMmioRing")?;
        let again = routes.iter().any(|r| {
            r.range == range
                && matches!(r.server, Server::Ring { fault_answers: f, .. } if f == fault_answers)
        });
        if !again {
            // Nothing is made, followed or duplicated for a range that cannot be served.
            Self::check_free(&routes, &range)?;
            Self::check_room(&routes)?;
        }
        let mut slot = self.ring.lock().ignore_poison();
        let ring = match &*slot {
            Some(ring) => ring.clone(),
            None => {
                let made =
                    RingHost::new(self.config.who.vm, self.config.vcpus).map_err(|e| {
                        match e.kind() {
                            std::io::ErrorKind::Unsupported => {
                                Error::unsupported("setMmioRing", e.to_string())
                            }
                            _ => Error::exhausted("setMmioRing", format!("the ring: {e}")),
                        }
                    })?;
                // Checked under the lock `stop_waits` takes after setting the flag.
                if self.stopping.load(Ordering::SeqCst) {
                    made.stop();
                }
                Arc::new(made)
            }
        };
        let new_user = ring.add_user(caller_pid).map_err(|e| {
            Error::exhausted(
                "setMmioRing",
                format!("following process {caller_pid}: {e}"),
            )
        })?;
        let descriptor = ring.descriptor().map_err(|e| {
            if new_user {
                ring.remove_user(caller_pid);
            }
            Error::exhausted("setMmioRing", format!("new fds for the client: {e}"))
        })?;
        // Committed: nothing below fails.
        slot.get_or_insert_with(|| ring.clone());
        if !again {
            routes.push(Route {
                range,
                server: Server::Ring {
                    ring,
                    fault_answers,
                },
            });
        }
        Ok(descriptor)
    }

    fn server_for(&self, access: &Access) -> Option<Server> {
        let covered = GuestRange {
            guest_phys_addr: access.address,
            size: u64::from(access.size.max(1)),
        };
        self.routes
            .read()
            .ignore_poison()
            .iter()
            .find(|r| r.range.contains(&covered))
            .map(|r| r.server.clone())
    }

    /// Logs at most once per interval, so that a guest or a client cannot flood the log.
    fn log_sometimes(&self, what: impl FnOnce() -> String) {
        let mut last = self.last_log.lock().ignore_poison();
        if last.map_or(true, |t| t.elapsed() >= LOG_INTERVAL) {
            *last = Some(Instant::now());
            log::info!("vm {}: {}", self.config.who.vm, what());
        }
    }

    /// Ends every wait for a ring answer, now and from now on: the VM is stopping.
    pub fn stop_waits(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.handlers.stop();
        if let Some(ring) = &*self.ring.lock().ignore_poison() {
            ring.stop();
        }
    }

    /// vCPU `vcpu`'s MMIO exit: asks whatever serves the address, and says how the vCPU
    /// resumes. A handler or ring that fails, or answers with something that is not an
    /// answer, is logged and the access completes as unhandled (a read returns 0).
    /// `stopping` says whether the VM is stopping (see `stop_waits`).
    pub fn exit(&self, vcpu: u32, access: &Access, stopping: &dyn Fn() -> bool) -> Resume {
        let addr = access.address;
        let handled = |read_data| Resume::Handled { read_data };
        let who = self.config.who;
        let since_born = u64::try_from(self.born.elapsed().as_micros()).unwrap_or(u64::MAX - 1);
        self.last_exit.store(since_born + 1, Ordering::Relaxed);
        match self.server_for(access) {
            None => {
                let _span = trace::hot!("mmio.unhandled", who, vcpu).entered();
                let (counter, what) = match access.write {
                    None => (&self.unhandled_reads, "read"),
                    Some(_) => (&self.unhandled_writes, "write"),
                };
                counter.fetch_add(1, Ordering::Relaxed);
                self.log_sometimes(|| {
                    let u = self.unhandled();
                    format!(
                        "unhandled MMIO {what} at {addr:#x} ({} reads, {} writes so far)",
                        u.reads, u.writes
                    )
                });
                handled(0)
            }
            Some(Server::Handler(handler)) => {
                let _span = trace::hot!("mmio.handler", who, vcpu).entered();
                self.binder_exits.fetch_add(1, Ordering::Relaxed);
                let called = {
                    let _wait = trace::hot!("mmio.wait_client", who, vcpu).entered();
                    self.handlers.call(vcpu, handler, access, stopping)
                };
                match called {
                    Called::Done(Ok(value)) => handled(value),
                    Called::Done(Err(e)) => {
                        // At most once per interval: a guest can exit as fast as it likes.
                        self.log_sometimes(|| format!("MMIO handler at {addr:#x} failed: {e}"));
                        handled(0)
                    }
                    Called::Stopped => Resume::Stop,
                }
            }
            Some(Server::Ring {
                ring,
                fault_answers,
            }) => {
                let _span = trace::hot!("mmio.ring", who, vcpu).entered();
                self.ring_exits.fetch_add(1, Ordering::Relaxed);
                let exchanged = {
                    let _wait = trace::hot!("mmio.wait_client", who, vcpu).entered();
                    ring.exchange(vcpu, access, stopping)
                };
                match exchanged {
                    Exchange::Stopped => Resume::Stop,
                    Exchange::Answered(a) => match a.action {
                        Action::Handled => handled(a.read_data),
                        Action::Fault if fault_answers => Resume::Fault,
                        Action::Fault => {
                            self.refused(addr, "FAULT, which its range does not allow")
                        }
                    },
                    Exchange::Refused(e) => self.refused(addr, &e.to_string()),
                    Exchange::Orphaned => {
                        self.refused(addr, "every process that asked for the ring has exited")
                    }
                }
            }
        }
    }

    fn refused(&self, addr: u64, why: &str) -> Resume {
        let n = self.refused_answers.fetch_add(1, Ordering::Relaxed) + 1;
        self.log_sometimes(|| {
            format!("MMIO ring answer for {addr:#x} refused ({n} so far): {why}; the access completes as unhandled")
        });
        Resume::Handled { read_data: 0 }
    }

    /// Drops every route, the ring and the handler callers (teardown, after the vCPU threads
    /// are joined).
    pub fn clear(&self) {
        let all = {
            let mut routes = self.routes.write().ignore_poison();
            self.closed.store(true, Ordering::SeqCst);
            std::mem::take(&mut *routes)
        };
        drop(all);
        drop(self.ring.lock().ignore_poison().take());
        self.handlers.clear();
    }

    /// Ranges served by binder handlers, and by the ring (diagnostics).
    pub fn served_ranges(&self) -> (u64, u64) {
        let routes = self.routes.read().ignore_poison();
        let ring = routes
            .iter()
            .filter(|r| matches!(r.server, Server::Ring { .. }))
            .count() as u64;
        (routes.len() as u64 - ring, ring)
    }

    /// MMIO exits served by binder handlers and by the ring so far, and the milliseconds since
    /// the last exit of any kind (diagnostics; the ioeventfd count is the driver's).
    pub fn exits(&self) -> ExitCounts {
        let last = self.last_exit.load(Ordering::Relaxed);
        let now = u64::try_from(self.born.elapsed().as_micros()).unwrap_or(u64::MAX);
        ExitCounts {
            mmio_binder: self.binder_exits.load(Ordering::Relaxed),
            mmio_ring: self.ring_exits.load(Ordering::Relaxed),
            ioeventfd_signals: None,
            last_exit_ms: last.checked_sub(1).map(|at| now.saturating_sub(at) / 1000),
        }
    }

    /// Unhandled reads and writes so far (diagnostics).
    pub fn unhandled(&self) -> UnhandledMmio {
        UnhandledMmio {
            reads: self.unhandled_reads.load(Ordering::Relaxed),
            writes: self.unhandled_writes.load(Ordering::Relaxed),
        }
    }
}
