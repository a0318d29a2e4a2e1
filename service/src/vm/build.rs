//! Builds a VM from an accepted spec (the checked plan and its memfds), in the order docs/ARCHITECTURE.md gives. Every
//! resource is owned as soon as it exists, so an error at any step releases everything built
//! so far: no half-built VM and no leaked fd.

use std::os::fd::AsFd;
use std::sync::Arc;

use crate::config::{VmKind, VmSpec};
use crate::error::{Error, Result};
use crate::memory;
use crate::quota::Reservation;
use crate::trace::{self, Who};
use gunyah_hypervisor::{Hypervisor, UserMemory, UserMemoryRegion, VcpuBackend, VmBackend};
use gunyah_sys::eventfd::Shared;
use gunyah_sys::mman::SharedMapping;

/// Everything a built VM owns. Fields drop in declaration order, which is the teardown order:
/// vCPU fds, then the VM fd (the driver unbinds its functions), then the service's copies of
/// the functions' eventfds, then the memory mappings, then the quota.
pub struct Resources {
    /// vCPUs not yet handed to their threads (all of them before start).
    pub vcpus: Vec<Box<dyn VcpuBackend>>,
    /// The VM fd.
    pub backend: Box<dyn VmBackend>,
    /// The service's copies of irqfd/ioeventfd eventfds, shared with the client: the service
    /// never reads or writes them (the driver does, without sleeping).
    pub eventfds: Vec<Shared>,
    /// The service's mappings of guest memory (the backend holds them too, until the driver
    /// is done with them).
    pub memory: Vec<Arc<SharedMapping>>,
    /// The caller's quota held by this VM (and by every thread that serves it: `ThreadCharge`).
    pub reservation: Arc<Reservation>,
}

/// Maps the client's memory and configures a new driver VM per `spec`, for `who`.
pub fn build(
    spec: &VmSpec,
    hyp: &dyn Hypervisor,
    reservation: Reservation,
    who: Who,
) -> Result<Resources> {
    let plan = &spec.plan;
    // Client-supplied memory is mapped before the driver is touched.
    let memory = {
        let _span = trace::phase!("createVm.map_memory", who).entered();
        plan.regions
            .iter()
            .zip(&spec.memory)
            .map(|(r, fd)| memory::map_region(fd.as_fd(), r).map(Arc::new))
            .collect::<Result<Vec<_>>>()?
    };
    let _build = trace::phase!("createVm.build", who).entered();
    let backend = {
        let _span = trace::phase!("driver.create_vm", who).entered();
        hyp.create_vm()
            .map_err(|e| Error::hypervisor("createVm", e))?
    };
    for (r, mapping) in plan.regions.iter().zip(&memory) {
        // The backend keeps its own reference to the mapping while the driver may use it.
        let region = UserMemoryRegion {
            label: r.label,
            access: r.access,
            guest_phys_addr: r.range.guest_phys_addr,
            memory: UserMemory::of(mapping.clone()),
        };
        let _span = trace::phase!("driver.set_user_memory", who, region = r.index).entered();
        backend
            .set_user_memory(&region, r.share)
            .map_err(|e| Error::hypervisor(format!("memoryRegions[{}]", r.index), e))?;
    }
    let vcpus = (0..plan.vcpu_count)
        .map(|id| {
            let _span = trace::phase!("driver.add_vcpu", who, vcpu = id).entered();
            backend
                .add_vcpu(id)
                .map_err(|e| Error::hypervisor(format!("vcpu {id}"), e))
        })
        .collect::<Result<Vec<_>>>()?;
    match &plan.kind {
        VmKind::Unauthenticated => {}
        VmKind::AndroidPvm { firmware } => {
            let _span = trace::phase!("driver.set_firmware_config", who).entered();
            backend
                .set_firmware_config(*firmware)
                .map_err(|e| Error::hypervisor("firmware", e))?
        }
        VmKind::QcomTrustedVm(arg) => {
            let _span = trace::phase!("driver.set_qtvm_auth", who).entered();
            backend
                .set_qtvm_auth(arg)
                .map_err(|e| Error::hypervisor("qtvmAuth", e))?
        }
    }
    {
        let _span = trace::phase!("driver.set_dtb_config", who).entered();
        backend
            .set_dtb_config(plan.dtb)
            .map_err(|e| Error::hypervisor("dtb", e))?;
    }
    for (i, (reg, value)) in plan.boot_context.iter().enumerate() {
        let _span = trace::phase!("driver.set_boot_context", who, register = i).entered();
        backend
            .set_boot_context(*reg, *value)
            .map_err(|e| Error::hypervisor(format!("bootContext[{i}]"), e))?;
    }
    Ok(Resources {
        vcpus,
        backend,
        eventfds: Vec::new(),
        memory,
        reservation: Arc::new(reservation),
    })
}
