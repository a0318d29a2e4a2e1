//! What the `/dev/gunyah` backend holds of the driver, for diagnostics and leak checks: the VMs
//! whose fds it keeps open (a VM lives in the driver while its VM fd or any of its vCPU fds is
//! open), the vCPU fds, and the guest memory registered with those VMs. The driver itself
//! reports none of this; these are the service's own references, dropped as its fds close.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::BackendStats;

/// The backend's counters.
#[derive(Debug, Default)]
pub(super) struct Counters {
    live_vms: AtomicUsize,
    live_vcpus: AtomicUsize,
    registered_bytes: AtomicU64,
}

impl Counters {
    pub fn stats(&self) -> BackendStats {
        BackendStats {
            live_vms: self.live_vms.load(Ordering::Relaxed),
            live_vcpus: self.live_vcpus.load(Ordering::Relaxed),
            registered_bytes: self.registered_bytes.load(Ordering::Relaxed),
        }
    }

    /// A VM fd was created: the VM is live until its last [`VmRef`] drops.
    pub fn new_vm(self: &Arc<Self>) -> Arc<VmRef> {
        self.live_vms.fetch_add(1, Ordering::Relaxed);
        Arc::new(VmRef {
            counters: self.clone(),
            registered: AtomicU64::new(0),
        })
    }
}

/// One VM's share of the counters, held by its VM fd and by each of its vCPUs. Keep it after
/// the fd in a struct's fields, so it drops after the fd closes.
#[derive(Debug)]
pub(super) struct VmRef {
    counters: Arc<Counters>,
    registered: AtomicU64,
}

impl VmRef {
    /// `bytes` of guest memory were registered with the VM (the driver releases them with it).
    pub fn registered(&self, bytes: u64) {
        self.registered.fetch_add(bytes, Ordering::Relaxed);
        self.counters
            .registered_bytes
            .fetch_add(bytes, Ordering::Relaxed);
    }

    /// A vCPU fd was created; the guard counts it until it drops.
    pub fn new_vcpu(self: &Arc<Self>) -> VcpuRef {
        self.counters.live_vcpus.fetch_add(1, Ordering::Relaxed);
        VcpuRef { vm: self.clone() }
    }
}

impl Drop for VmRef {
    fn drop(&mut self) {
        let c = &self.counters;
        c.registered_bytes
            .fetch_sub(*self.registered.get_mut(), Ordering::Relaxed);
        c.live_vms.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A vCPU fd's share of the counters (and its hold on the VM's).
#[derive(Debug)]
pub(super) struct VcpuRef {
    vm: Arc<VmRef>,
}

impl Drop for VcpuRef {
    fn drop(&mut self) {
        self.vm.counters.live_vcpus.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_vm_lives_until_its_last_vcpu() {
        let counters = Arc::new(Counters::default());
        let vm = counters.new_vm();
        vm.registered(8192);
        let vcpu = vm.new_vcpu();
        let stats = |live_vms, live_vcpus, registered_bytes| BackendStats {
            live_vms,
            live_vcpus,
            registered_bytes,
        };
        assert_eq!(counters.stats(), stats(1, 1, 8192));
        drop(vm);
        assert_eq!(
            counters.stats(),
            stats(1, 1, 8192),
            "the vCPU fd holds the VM"
        );
        drop(vcpu);
        assert_eq!(counters.stats(), stats(0, 0, 0));
    }
}
