//! The VM manager's logic, independent of binder: access checks, validation, quotas, building
//! VMs and the weak registry behind `listVms` and diagnostics.

use gunyah_sys::sync::IgnorePoison;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::aidl::{
    Capabilities::Capabilities, DriverAbi::DriverAbi, VmAuthType::VmAuthType, VmConfig::VmConfig,
    VmDescriptor::VmDescriptor, VmState::VmState,
};

use crate::access::AccessPolicy;
use crate::binder::Caller;
use crate::config::{self, Limits, VmKind, VmPlan};
use crate::diag::{self, Counter, Diagnostics};
use crate::error::{Error, Result};
use crate::quota::{QuotaLimits, Quotas};
use crate::trace::{self, Who};
use crate::vm::reaper::Reaper;
use crate::vm::Vm;
use gunyah_contract::generation::driver_abi;
use gunyah_hypervisor::{BackendKind, DriverAuth, DriverIoctl, Hypervisor};

/// Everything the manager is configured with.
pub struct ManagerConfig {
    /// The driver.
    pub hypervisor: Arc<dyn Hypervisor>,
    /// Who may call.
    pub policy: AccessPolicy,
    /// Per-config limits. Their `page_size` is replaced by the driver's
    /// (`HypCapabilities::page_size`): alignment is the driver's rule, not a setting.
    pub limits: Limits,
    /// Per-uid quotas.
    pub quotas: QuotaLimits,
    /// The most destroyed VMs whose driver objects may be in release at once before
    /// `createVm` is refused (`reaper::DEFAULT_MAX_PENDING`).
    pub max_releasing_vms: usize,
}

/// The manager.
pub struct VmManager {
    hyp: Arc<dyn Hypervisor>,
    policy: AccessPolicy,
    limits: Limits,
    quotas: Arc<Quotas>,
    /// Releases destroyed VMs' driver objects off the caller's thread.
    reaper: Arc<Reaper>,
    /// Weak: a VM lives exactly as long as its binder object (held by clients), never because
    /// the manager lists it.
    vms: Mutex<Vec<Weak<Vm>>>,
    next_id: AtomicI32,
    created_total: AtomicU64,
    failed_total: AtomicU64,
}

/// How many VM objects, destroyed ones a client still references included, a client may hold
/// per VM of its quota.
pub const VM_OBJECTS_PER_VM_QUOTA: u32 = 4;

impl VmManager {
    /// A manager over `config.hypervisor`.
    pub fn new(config: ManagerConfig) -> Self {
        let limits = Limits {
            page_size: config.hypervisor.capabilities().page_size,
            ..config.limits
        };
        // The process's one AIO context (what signals eventfds a client shares without ever
        // sleeping) is made now, so that it is part of the service's footprint from the start
        // rather than the first VM's.
        if !gunyah_sys::eventfd::Shared::can_signal() {
            log::warn!(
                "no Linux AIO in this kernel: setMmioRing answers UNSUPPORTED (clients fall back \
                 to binder handlers)"
            );
        }
        Self {
            hyp: config.hypervisor,
            policy: config.policy,
            limits,
            quotas: Quotas::new(config.quotas),
            reaper: Reaper::new(config.max_releasing_vms),
            vms: Mutex::default(),
            next_id: AtomicI32::new(1),
            created_total: AtomicU64::new(0),
            failed_total: AtomicU64::new(0),
        }
    }

    /// Checks that `caller` may call `method`.
    pub fn check_access(&self, caller: &Caller, method: &str) -> Result<()> {
        let _span = trace::phase!("access_check", Who::caller(caller), method).entered();
        self.policy.check(caller, method)
    }

    /// The access policy (for the transport's connection gate).
    pub fn policy(&self) -> &AccessPolicy {
        &self.policy
    }

    fn live_vms(&self) -> Vec<Arc<Vm>> {
        let mut vms = self.vms.lock().ignore_poison();
        vms.retain(|w| w.strong_count() > 0);
        vms.iter().filter_map(Weak::upgrade).collect()
    }

    fn check_kind_supported(&self, kind: &VmKind) -> Result<()> {
        let (needed, name) = match kind {
            VmKind::Unauthenticated => return Ok(()),
            VmKind::AndroidPvm { .. } => (DriverAuth::AndroidPvm, VmAuthType::ANDROID_PVM),
            VmKind::QcomTrustedVm(_) => (DriverAuth::QcomTrustedVm, VmAuthType::QCOM_TRUSTED_VM),
        };
        if self.hyp.capabilities().auth.contains(&needed) {
            Ok(())
        } else {
            Err(Error::unsupported(
                "authType",
                format!(
                    "the driver does not support {} VMs",
                    crate::names::auth_type(name)
                ),
            ))
        }
    }

    /// Boot registers the driver would not apply are refused, naming the field, instead of
    /// dropped: a14 has no `GH_VM_SET_BOOT_CONTEXT`, and the later drivers apply boot
    /// registers only to unauthenticated VMs (a pVM's or QTVM's firmware picks its entry).
    fn check_boot_context_supported(&self, plan: &VmPlan) -> Result<()> {
        if plan.boot_context.is_empty() {
            return Ok(());
        }
        let generation = self.hyp.capabilities().generation;
        if !generation.handles(DriverIoctl::SetBootContext) {
            return Err(Error::unsupported(
                "bootContext",
                format!(
                    "the {generation} driver ({}) has no GH_VM_SET_BOOT_CONTEXT, so boot \
                     registers cannot be set; leave bootContext empty (the guest starts at the \
                     base of the DTB's region)",
                    generation.kernels()
                ),
            ));
        }
        if plan.kind != VmKind::Unauthenticated {
            return Err(Error::unsupported(
                "bootContext",
                format!(
                    "the {generation} driver ignores boot registers of authenticated VMs (their \
                     firmware chooses the entry); leave bootContext empty"
                ),
            ));
        }
        Ok(())
    }

    /// Validates `config` and builds a VM for `caller`: either all of it or nothing.
    pub fn create_vm(&self, caller: &Caller, config: &VmConfig) -> Result<Arc<Vm>> {
        // `vm` is recorded once the VM has an id.
        let span = trace::phase!("createVm", Who::caller(caller));
        let _entered = span.enter();
        self.check_access(caller, "createVm")?;
        let result = self.create_vm_unchecked(caller, config, &span);
        match &result {
            Ok(_) => self.created_total.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed_total.fetch_add(1, Ordering::Relaxed),
        };
        result
    }

    fn create_vm_unchecked(
        &self,
        caller: &Caller,
        config: &VmConfig,
        span: &tracing::Span,
    ) -> Result<Arc<Vm>> {
        let spec = {
            let _validate = trace::phase!("createVm.validate", Who::caller(caller)).entered();
            let spec = config::accept(config, &self.limits)?;
            self.check_kind_supported(&spec.plan.kind)?;
            self.check_boot_context_supported(&spec.plan)?;
            spec
        };
        let plan = &spec.plan;
        if self.reaper.is_full(caller.uid) {
            return Err(Error::exhausted(
                "createVm",
                format!(
                    "{} destroyed VMs of uid {} are still being released by the driver (at most \
                     {}); try again once they are",
                    self.reaper.pending_of(caller.uid),
                    caller.uid,
                    self.reaper.max_pending()
                ),
            ));
        }
        self.check_vm_objects(caller.uid)?;
        let reservation = self
            .quotas
            .reserve(caller.uid, plan.vcpu_count, plan.memory_bytes())
            .map_err(|e| match self.reaper.pending_of(caller.uid) {
                0 => e,
                // destroy() returns before the release ends; the quota comes back after.
                n => e.with_note(format!(
                    "{n} of them destroyed and still being released; their quota comes back \
                     once they are"
                )),
            })?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        span.record("vm", id);
        let vm = Vm::build(
            Who::caller(caller).with_vm(id),
            &spec,
            self.hyp.as_ref(),
            reservation,
            self.reaper.clone(),
        )?;
        let mut vms = self.vms.lock().ignore_poison();
        vms.retain(|w| w.strong_count() > 0);
        vms.push(Arc::downgrade(&vm));
        Ok(vm)
    }

    /// `RESOURCE_EXHAUSTED` when `uid` references as many VM objects as it may: its live VMs
    /// and the destroyed ones it still holds (each costs the service memory and a dump line
    /// until the client drops it), at most four times its VM quota.
    fn check_vm_objects(&self, uid: u32) -> Result<()> {
        let most = self
            .quotas
            .limits()
            .max_vms
            .saturating_mul(VM_OBJECTS_PER_VM_QUOTA) as usize;
        let held = self
            .live_vms()
            .iter()
            .filter(|vm| vm.info().owner_uid == uid)
            .count();
        if held >= most {
            return Err(Error::exhausted(
                "quota.vm_objects",
                format!(
                    "uid {uid} holds {held} VM objects, destroyed ones included, at most {most} \
                     ({VM_OBJECTS_PER_VM_QUOTA} × its VM quota): drop the destroyed ones"
                ),
            ));
        }
        Ok(())
    }

    /// What the service offers.
    pub fn capabilities(&self, caller: &Caller) -> Result<Capabilities> {
        self.check_access(caller, "getCapabilities")?;
        let caps = self.hyp.capabilities();
        let mut auth_types = vec![VmAuthType::UNAUTHENTICATED];
        auth_types.extend(caps.auth.iter().map(|a| match a {
            DriverAuth::AndroidPvm => VmAuthType::ANDROID_PVM,
            DriverAuth::QcomTrustedVm => VmAuthType::QCOM_TRUSTED_VM,
        }));
        let q = self.quotas.limits();
        Ok(Capabilities {
            backend: caps.backend.to_string(),
            driverAbi: if caps.backend == BackendKind::Mock {
                DriverAbi::MOCK
            } else {
                driver_abi(caps.generation)
            },
            driverGeneration: driver_abi(caps.generation),
            authTypes: auth_types,
            maxVcpusPerVm: aidl_int(self.limits.max_vcpus_per_vm),
            maxVmsPerClient: aidl_int(q.max_vms),
            pageSize: aidl_long(self.limits.page_size),
            maxMemoryRegions: aidl_int(self.limits.max_memory_regions),
            maxGuestMemoryPerClient: aidl_long(q.max_memory),
            maxNameLength: aidl_int(self.limits.max_name_length),
            maxVcpusPerClient: aidl_int(q.max_vcpus),
        })
    }

    /// The caller's live (not destroyed) VMs, in creation order.
    pub fn list_vms(&self, caller: &Caller) -> Result<Vec<VmDescriptor>> {
        self.check_access(caller, "listVms")?;
        Ok(self
            .live_vms()
            .iter()
            .filter(|vm| vm.info().owner_uid == caller.uid && vm.state() != VmState::DESTROYED)
            .map(|vm| {
                let info = vm.info();
                VmDescriptor {
                    id: info.id,
                    name: info.name.clone(),
                    state: vm.state(),
                    ownerUid: info.owner_uid as i32,
                    vcpuCount: info.vcpu_count as i32,
                    memoryBytes: info.memory_bytes as i64,
                }
            })
            .collect())
    }

    /// The diagnostics text (binder `dump()` / `dumpsys`, and the host diagnostics socket):
    /// one `key: value` per line, then one line per VM.
    pub fn dump_text(&self) -> String {
        let caps = self.hyp.capabilities();
        let stats = self.hyp.stats();
        let process = diag::process_counts();
        let vms = self.live_vms();
        let live = vms
            .iter()
            .filter(|vm| vm.state() != VmState::DESTROYED)
            .count();
        let counters = [
            (Counter::OpenFds, process.open_fds as u64),
            (Counter::Threads, process.threads as u64),
            (Counter::Mappings, process.mappings as u64),
            (Counter::BackendLiveVms, stats.live_vms as u64),
            (Counter::BackendLiveVcpus, stats.live_vcpus as u64),
            (Counter::BackendRegisteredBytes, stats.registered_bytes),
            (Counter::VmObjects, vms.len() as u64),
            (Counter::LiveVms, live as u64),
            (Counter::ReleasingVms, self.reaper.pending() as u64),
            (
                Counter::CreatedTotal,
                self.created_total.load(Ordering::Relaxed),
            ),
            (
                Counter::FailedTotal,
                self.failed_total.load(Ordering::Relaxed),
            ),
        ];
        Diagnostics {
            backend: caps.backend.to_string(),
            generation: format!("{} ({})", caps.generation, caps.generation.kernels()),
            counters: counters.into_iter().collect(),
            allowed_uids: match self.policy.allowed_uids() {
                Some(uids) => uids
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                None => "any (SELinux decides)".to_string(),
            },
            lingering_threads: self.quotas.lingering_threads(),
            vms: vms.iter().map(|vm| vm.dump_line()).collect(),
        }
        .format()
    }
}

/// A limit as an AIDL `int`: a limit beyond its range is reported as the largest it can hold
/// (it limits nothing a client could ask for anyway).
fn aidl_int<T: TryInto<i32>>(limit: T) -> i32 {
    limit.try_into().unwrap_or(i32::MAX)
}

/// A limit as an AIDL `long`, likewise.
fn aidl_long<T: TryInto<i64>>(limit: T) -> i64 {
    limit.try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::aidl::{GuestRange::GuestRange, VmConfig::VmConfig};
    use gunyah_contract::memfd::sealed_ram_region;

    /// `memory` bytes of RAM at 0x8000_0000 holding a guest that idles until it is stopped, the
    /// DTB in its last page, `vcpus` vCPUs.
    pub(crate) fn demo_config(name: &str, memory: u64, vcpus: i32) -> std::io::Result<VmConfig> {
        const RAM: i64 = 0x8000_0000;
        let idle = gunyah_guest::asm::assemble("idle", RAM as u64).expect("the idle program");
        Ok(VmConfig {
            name: name.into(),
            memoryRegions: vec![sealed_ram_region(0, RAM, memory, &idle)?],
            dtb: GuestRange {
                guestPhysAddr: RAM + memory as i64 - 4096,
                size: 4096,
            },
            vcpuCount: vcpus,
            ..Default::default()
        })
    }
    use gunyah_hypervisor::{HypCapabilities, HypResult, VmBackend};
    use gunyah_mock::MockHypervisor;

    pub(crate) fn caller(uid: u32) -> Caller {
        Caller { uid, pid: 1 }
    }

    pub(crate) fn manager_with(hyp: Arc<dyn Hypervisor>, quotas: QuotaLimits) -> VmManager {
        VmManager::new(ManagerConfig {
            hypervisor: hyp,
            policy: AccessPolicy::allow_uids([10, 11]),
            limits: Limits::default(),
            quotas,
            max_releasing_vms: crate::vm::reaper::DEFAULT_MAX_PENDING,
        })
    }

    #[test]
    fn test_create_list_destroy() -> Result<()> {
        let hyp = Arc::new(MockHypervisor::new());
        let m = manager_with(hyp.clone(), QuotaLimits::default());
        let a = m.create_vm(&caller(10), &demo_config("a", 1 << 20, 2).unwrap())?;
        let b = m.create_vm(&caller(11), &demo_config("b", 1 << 20, 1).unwrap())?;
        assert_eq!((hyp.stats().live_vms, hyp.stats().live_vcpus), (2, 3));
        let mine = m.list_vms(&caller(10))?;
        assert_eq!(mine.len(), 1);
        assert_eq!(
            (mine[0].name.as_str(), mine[0].vcpuCount, mine[0].ownerUid),
            ("a", 2, 10)
        );
        a.start()?;
        assert_eq!(a.state(), VmState::RUNNING);
        a.destroy();
        assert!(
            m.list_vms(&caller(10))?.is_empty(),
            "destroyed VMs are not listed"
        );
        assert!(m
            .reaper
            .wait_until_released(std::time::Duration::from_secs(10)));
        assert_eq!(hyp.stats().live_vms, 1);
        drop(b);
        assert!(m
            .reaper
            .wait_until_released(std::time::Duration::from_secs(10)));
        assert_eq!(hyp.stats(), Default::default());
        assert_eq!(
            Diagnostics::parse(&m.dump_text())
                .unwrap()
                .count(Counter::CreatedTotal),
            2
        );
        Ok(())
    }

    #[test]
    fn test_denied_caller() {
        let m = manager_with(Arc::new(MockHypervisor::new()), QuotaLimits::default());
        let err = m
            .create_vm(&caller(12), &demo_config("x", 4096 * 4, 1).unwrap())
            .unwrap_err();
        assert!(matches!(err, Error::AccessDenied(_)));
        assert!(m.list_vms(&caller(12)).is_err());
        assert!(m.capabilities(&caller(12)).is_err());
    }

    #[test]
    fn test_failed_build_leaves_nothing() {
        // The a14 driver refuses the second region (memlock at the ioctl): the VM fd, vCPUs and mappings made
        // so far must all be gone, and the quota released.
        let hyp = Arc::new(
            MockHypervisor::with_memlock_limit(1 << 20)
                .with_generation(gunyah_hypervisor::Generation::A14Late)
                .unwrap(),
        );
        let m = manager_with(hyp.clone(), QuotaLimits::default());
        let mut config = demo_config("big", 1 << 20, 1).unwrap();
        config
            .memoryRegions
            .push(sealed_ram_region(1, 0x1_0000_0000, 4096, &[]).unwrap());
        let err = m.create_vm(&caller(10), &config).unwrap_err();
        assert_eq!(
            err.code(),
            Some(crate::aidl::ErrorCode::ErrorCode::RESOURCE_EXHAUSTED),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("memoryRegions[1]: GH_VM_SET_USER_MEM_REGION failed: ENOMEM"),
            "{err}"
        );
        assert_eq!(hyp.stats(), Default::default());
        assert_eq!(m.quotas.vms_of(10), 0);
    }

    #[test]
    fn test_quota_vms() -> Result<()> {
        let hyp = Arc::new(MockHypervisor::new());
        let m = manager_with(
            hyp,
            QuotaLimits {
                max_vms: 2,
                ..QuotaLimits::default()
            },
        );
        let _a = m.create_vm(&caller(10), &demo_config("a", 4096 * 4, 1).unwrap())?;
        let _b = m.create_vm(&caller(10), &demo_config("b", 4096 * 4, 1).unwrap())?;
        let err = m
            .create_vm(&caller(10), &demo_config("c", 4096 * 4, 1).unwrap())
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("quota.vms: uid 10 holds 2 VMs, at most 2"),
            "{err}"
        );
        // Another uid has its own quota.
        m.create_vm(&caller(11), &demo_config("d", 4096 * 4, 1).unwrap())?;
        Ok(())
    }

    /// A driver without authenticated VM kinds.
    struct PlainDriver(MockHypervisor);

    impl Hypervisor for PlainDriver {
        fn capabilities(&self) -> HypCapabilities {
            HypCapabilities {
                auth: vec![],
                ..self.0.capabilities()
            }
        }
        fn create_vm(&self) -> HypResult<Box<dyn VmBackend>> {
            self.0.create_vm()
        }
    }

    #[test]
    fn test_unsupported_kind() {
        let m = manager_with(
            Arc::new(PlainDriver(MockHypervisor::new())),
            QuotaLimits::default(),
        );
        let mut config = demo_config("pvm", 4096 * 4, 1).unwrap();
        config.authType = VmAuthType::ANDROID_PVM;
        config.firmware = Some(config.dtb.clone());
        let err = m.create_vm(&caller(10), &config).unwrap_err();
        assert_eq!(
            err.code(),
            Some(crate::aidl::ErrorCode::ErrorCode::UNSUPPORTED)
        );
        assert_eq!(
            err.to_string(),
            "authType: the driver does not support ANDROID_PVM VMs"
        );
        let caps = m.capabilities(&caller(10)).unwrap();
        assert_eq!(caps.authTypes, vec![VmAuthType::UNAUTHENTICATED]);
    }
}
