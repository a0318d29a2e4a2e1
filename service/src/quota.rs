//! Per-uid quotas on VMs, vCPUs and guest memory. A reservation is taken before a VM is built
//! and released when the VM is torn down.

use gunyah_sys::sync::IgnorePoison;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
}

/// Resources held against a uid's quota until dropped.
#[derive(Debug)]
pub struct Reservation {
    quotas: Arc<Quotas>,
    uid: u32,
    held: Usage,
}

impl Quotas {
    /// A quota book with `limits`.
    pub fn new(limits: QuotaLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            usage: Mutex::default(),
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
        })
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
}
