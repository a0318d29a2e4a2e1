//! Routes guest MMIO exits to the client handlers registered for guest address ranges.

use gunyah_sys::sync::IgnorePoison;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::aidl::IGunyahMmioHandler::IGunyahMmioHandler;

use crate::binder::Strong;
use crate::diag::UnhandledMmio;
use crate::error::{Error, Result};
use gunyah_hypervisor::GuestRange;

struct Route {
    range: GuestRange,
    handler: Strong<dyn IGunyahMmioHandler>,
}

/// The MMIO handlers of one VM.
#[derive(Default)]
pub struct MmioRouter {
    routes: RwLock<Vec<Route>>,
    unhandled_reads: AtomicU64,
    unhandled_writes: AtomicU64,
    last_unhandled_log: Mutex<Option<Instant>>,
}

const UNHANDLED_LOG_INTERVAL: Duration = Duration::from_secs(5);

impl MmioRouter {
    /// Sets (`Some`) or removes (`None`) the handler of `range` (checked by the contract:
    /// not empty, no overflow).
    pub fn set(
        &self,
        range: GuestRange,
        handler: Option<Strong<dyn IGunyahMmioHandler>>,
    ) -> Result<()> {
        let mut routes = self.routes.write().ignore_poison();
        match handler {
            None => {
                let before = routes.len();
                routes.retain(|r| r.range != range);
                if routes.len() == before {
                    return Err(Error::invalid(
                        "range",
                        "no handler is set for exactly this range",
                    ));
                }
            }
            Some(handler) => {
                if let Some(other) = routes.iter().find(|r| r.range.overlaps(&range)) {
                    return Err(Error::invalid(
                        "range",
                        format!(
                            "overlaps the handler of [{:#x}, {:#x})",
                            other.range.guest_phys_addr,
                            other.range.guest_phys_addr + other.range.size
                        ),
                    ));
                }
                routes.push(Route { range, handler });
            }
        }
        Ok(())
    }

    fn handler_for(&self, addr: u64, len: u32) -> Option<Strong<dyn IGunyahMmioHandler>> {
        let access = GuestRange {
            guest_phys_addr: addr,
            size: u64::from(len.max(1)),
        };
        let routes = self.routes.read().ignore_poison();
        routes
            .iter()
            .find(|r| r.range.contains(&access))
            .map(|r| r.handler.clone())
    }

    fn note_unhandled(&self, vm_id: i32, what: &str, addr: u64) {
        let mut last = self.last_unhandled_log.lock().ignore_poison();
        if last.map_or(true, |t| t.elapsed() >= UNHANDLED_LOG_INTERVAL) {
            *last = Some(Instant::now());
            log::info!(
                "vm {vm_id}: unhandled MMIO {what} at {addr:#x} ({} reads, {} writes so far)",
                self.unhandled_reads.load(Ordering::Relaxed),
                self.unhandled_writes.load(Ordering::Relaxed)
            );
        }
    }

    /// A guest read: the handler's value, or 0 without a handler or when it fails.
    pub fn read(&self, vm_id: i32, addr: u64, len: u32) -> u64 {
        let Some(handler) = self.handler_for(addr, len) else {
            self.unhandled_reads.fetch_add(1, Ordering::Relaxed);
            self.note_unhandled(vm_id, "read", addr);
            return 0;
        };
        // Addresses are u64 in the guest; AIDL longs carry the same bits.
        match handler.onRead(addr as i64, len as i32) {
            Ok(value) => value as u64,
            Err(e) => {
                log::warn!("vm {vm_id}: MMIO read handler at {addr:#x} failed: {e:?}");
                0
            }
        }
    }

    /// A guest write: given to the handler, or dropped.
    pub fn write(&self, vm_id: i32, addr: u64, len: u32, value: u64) {
        let Some(handler) = self.handler_for(addr, len) else {
            self.unhandled_writes.fetch_add(1, Ordering::Relaxed);
            self.note_unhandled(vm_id, "write", addr);
            return;
        };
        if let Err(e) = handler.onWrite(addr as i64, len as i32, value as i64) {
            log::warn!("vm {vm_id}: MMIO write handler at {addr:#x} failed: {e:?}");
        }
    }

    /// Drops every handler (teardown).
    pub fn clear(&self) {
        let all = std::mem::take(&mut *self.routes.write().ignore_poison());
        drop(all);
    }

    /// Number of handlers (diagnostics).
    pub fn handler_count(&self) -> usize {
        self.routes.read().ignore_poison().len()
    }

    /// Unhandled reads and writes so far (diagnostics).
    pub fn unhandled(&self) -> UnhandledMmio {
        UnhandledMmio {
            reads: self.unhandled_reads.load(Ordering::Relaxed),
            writes: self.unhandled_writes.load(Ordering::Relaxed),
        }
    }
}
