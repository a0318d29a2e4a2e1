//! Per-uid quotas on VMs, vCPUs and guest memory. A reservation is taken before a VM is built
//! and released when the VM is torn down — and when every thread that served the VM has ended:
//! a thread that does not stop in time (docs/THREAT_MODEL.md) keeps its VM charged to the
//! client, so no client gets past its quota by wedging threads. The dump counts such threads
//! per client (`Quotas::lingering_threads`).

use gunyah_sys::sync::IgnorePoison;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::error::{Error, Result};

/// Quota limits per caller uid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimits {
    /// Live VMs per uid.
    pub max_vms: u32,
    /// vCPUs across a uid's live VMs.
    pub max_vcpus: u32,
    /// Guest memory bytes across a uid's live VMs.
    pub max_memory: u64,
}

impl Default for QuotaLimits {
    fn default() -> Self {
        Self {
            max_vms: 64,
            max_vcpus: 256,
            max_memory: 4 << 30,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Usage {
    vms: u32,
    vcpus: u32,
    memory: u64,
}

/// The quota book of one service.
#[derive(Debug)]
pub struct Quotas {
    limits: QuotaLimits,
    usage: Mutex<HashMap<u32, Usage>>,
    /// Reservations of VMs torn down while threads still held them.
    retired: Mutex<Vec<Weak<Reservation>>>,
}

/// Resources held against a uid's quota until dropped.
#[derive(Debug)]
pub struct Reservation {
    quotas: Arc<Quotas>,
    uid: u32,
    held: Usage,
    /// Threads holding a [`ThreadCharge`] on it.
    threads: AtomicU32,
}

/// A thread's hold on its VM's reservation (a vCPU thread, an MMIO handler call): the quota
/// stays charged until the thread ends, even when its VM was torn down without it.
#[derive(Debug)]
pub struct ThreadCharge(Arc<Reservation>);

impl ThreadCharge {
    /// A hold on `reservation` for the calling thread's life (drop it as the thread ends).
    pub fn new(reservation: &Arc<Reservation>) -> Self {
        reservation.threads.fetch_add(1, Ordering::SeqCst);
        Self(reservation.clone())
    }
}

impl Drop for ThreadCharge {
    fn drop(&mut self) {
        self.0.threads.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A VM's reservation, kept by a part of the VM that starts threads for it (the handler
/// callers, the courier) until teardown: each such thread takes a [`ThreadCharge`] from it.
#[derive(Debug, Default)]
pub struct ChargeSlot(Mutex<Option<Arc<Reservation>>>);

impl ChargeSlot {
    /// Threads started from now on are charged to `reservation`.
    pub fn set(&self, reservation: &Arc<Reservation>) {
        *self.0.lock().ignore_poison() = Some(reservation.clone());
    }

    /// A charge for a thread about to start (none before `set` or after `clear`).
    pub fn thread_charge(&self) -> Option<ThreadCharge> {
        self.0
            .lock()
            .ignore_poison()
            .as_ref()
            .map(ThreadCharge::new)
    }

    /// Teardown: threads started later are charged to nobody; running ones keep theirs.
    pub fn clear(&self) {
        self.0.lock().ignore_poison().take();
    }
}

impl Reservation {
    /// Its VM is torn down: the quota comes back when the last thread holding it ends (now,
    /// if none does); until then `Quotas::lingering_threads` counts those threads.
    pub fn retire(self: Arc<Self>) {
        if self.threads.load(Ordering::SeqCst) > 0 {
            let mut retired = self.quotas.retired.lock().ignore_poison();
            retired.retain(|r| r.strong_count() > 0);
            retired.push(Arc::downgrade(&self));
        }
    }
}

impl Quotas {
    /// A quota book with `limits`.
    pub fn new(limits: QuotaLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            usage: Mutex::default(),
            retired: Mutex::default(),
        })
    }

    /// The limits.
    pub fn limits(&self) -> QuotaLimits {
        self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Usage>> {
        self.usage.lock().ignore_poison()
    }

    /// Reserves one VM with `vcpus` vCPUs and `memory` bytes for `uid`.
    pub fn reserve(self: &Arc<Self>, uid: u32, vcpus: u32, memory: u64) -> Result<Reservation> {
        let mut usage = self.lock();
        let used = usage.get(&uid).copied().unwrap_or_default();
        let l = self.limits;
        if used.vms + 1 > l.max_vms {
            return Err(Error::exhausted(
                "quota.vms",
                format!("uid {uid} holds {} VMs, at most {}", used.vms, l.max_vms),
            ));
        }
        if used.vcpus.saturating_add(vcpus) > l.max_vcpus {
            return Err(Error::exhausted(
                "vcpuCount",
                format!(
                    "uid {uid} holds {} vCPUs; {vcpus} more exceeds the quota of {}",
                    used.vcpus, l.max_vcpus
                ),
            ));
        }
        if used.memory.saturating_add(memory) > l.max_memory {
            return Err(Error::exhausted(
                "memoryRegions",
                format!(
                    "uid {uid} holds {} bytes of guest memory; {memory} more exceeds the quota of {}",
                    used.memory, l.max_memory
                ),
            ));
        }
        let held = Usage {
            vms: 1,
            vcpus,
            memory,
        };
        let entry = usage.entry(uid).or_default();
        entry.vms += held.vms;
        entry.vcpus += held.vcpus;
        entry.memory += held.memory;
        Ok(Reservation {
            quotas: self.clone(),
            uid,
            held,
            threads: AtomicU32::new(0),
        })
    }

    /// Per uid, the threads still running for VMs that were torn down (their VMs stay charged
    /// to that uid until they end); uids with none are absent.
    pub fn lingering_threads(&self) -> BTreeMap<u32, u64> {
        let mut by_uid = BTreeMap::new();
        let mut retired = self.retired.lock().ignore_poison();
        retired.retain(|r| r.strong_count() > 0);
        for reservation in retired.iter().filter_map(Weak::upgrade) {
            let n = reservation.threads.load(Ordering::SeqCst);
            if n > 0 {
                *by_uid.entry(reservation.uid).or_insert(0) += u64::from(n);
            }
        }
        by_uid
    }

    /// Number of VMs `uid` holds (diagnostics).
    pub fn vms_of(&self, uid: u32) -> u32 {
        self.lock().get(&uid).map_or(0, |u| u.vms)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut usage = self.quotas.lock();
        if let Some(entry) = usage.get_mut(&self.uid) {
            entry.vms -= self.held.vms;
            entry.vcpus -= self.held.vcpus;
            entry.memory -= self.held.memory;
            if *entry == Usage::default() {
                usage.remove(&self.uid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_reserve_counts_and_releases() -> Result<()> {
        let q = Quotas::new(QuotaLimits {
            max_vms: 2,
            max_vcpus: 3,
            max_memory: 1 << 20,
        });
        let a = q.reserve(10, 2, 4096)?;
        let err = q.reserve(10, 2, 4096).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("vcpuCount: uid 10 holds 2 vCPUs"),
            "{err}"
        );
        let b = q.reserve(10, 1, 4096)?;
        assert_eq!(q.vms_of(10), 2);
        assert!(q
            .reserve(10, 0, 0)
            .unwrap_err()
            .to_string()
            .starts_with("quota.vms:"));
        // Another uid is not affected.
        let _c = q.reserve(11, 3, 1 << 20)?;
        drop((a, b));
        assert_eq!(q.vms_of(10), 0);
        assert!(q
            .reserve(10, 1, (1 << 20) + 1)
            .unwrap_err()
            .to_string()
            .starts_with("memoryRegions:"));
        Ok(())
    }

    /// A VM torn down while a thread of it still runs stays charged until the thread ends.
    #[test]
    fn a_lingering_thread_keeps_its_vm_charged() -> Result<()> {
        let q = Quotas::new(QuotaLimits {
            max_vms: 1,
            ..QuotaLimits::default()
        });
        let reservation = Arc::new(q.reserve(10, 1, 4096)?);
        let charge = ThreadCharge::new(&reservation);
        reservation.retire();
        assert!(q.reserve(10, 1, 4096).is_err(), "still charged");
        assert_eq!(q.lingering_threads(), BTreeMap::from([(10, 1)]));
        drop(charge);
        assert!(q.lingering_threads().is_empty());
        assert_eq!(q.vms_of(10), 0);
        let again = Arc::new(q.reserve(10, 1, 4096)?);
        again.retire();
        assert_eq!(q.vms_of(10), 0, "no thread held it: back at once");
        Ok(())
    }
}
