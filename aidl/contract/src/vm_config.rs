//! Validation of a client's `VmConfig`: `validate` checks every rule that needs no file
//! descriptor into a `VmPlan`; `accept` also takes a duplicate of each region's memfd and
//! checks it (`memfd`), giving a `VmSpec` that owns everything the VM is built from.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};

use crate::aidl::{
    BootRegisterSet::BootRegisterSet, Capabilities::Capabilities,
    GuestRange::GuestRange as AidlRange, MemoryShareType::MemoryShareType, VmAuthType::VmAuthType,
    VmConfig::VmConfig,
};

use crate::aidl::MemoryRegion as region_access;
use crate::binder;
use crate::error::{FieldError, Result};
use crate::memfd::check_memfd;
use gunyah_sys::driver_call::DriverIoctl;
use gunyah_sys::model::{BootReg, BootRegSet, GuestRange, MemAccess, QtvmAuthArg, ShareMode};

/// Limits the service enforces on every config (reported in `Capabilities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Page size: alignment of sizes, offsets and addresses. The kernel's, by default.
    pub page_size: u64,
    /// Largest `vcpuCount`.
    pub max_vcpus_per_vm: u32,
    /// Largest number of memory regions (RPC carries at most 64 fds in one message).
    pub max_memory_regions: usize,
    /// Longest name in bytes.
    pub max_name_length: usize,
    /// Whether the driver applies boot registers (a14 has no `GH_VM_SET_BOOT_CONTEXT`; the
    /// later drivers apply them to unauthenticated VMs only).
    pub boot_registers: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            page_size: gunyah_sys::mman::page_size(),
            max_vcpus_per_vm: 8,
            max_memory_regions: 32,
            max_name_length: 64,
            boot_registers: true,
        }
    }
}

impl Limits {
    /// The limits a service reports in its `Capabilities` (clients validate against these
    /// before calling `createVm`). Nonsensical values (zero or negative) keep the default.
    pub fn from_capabilities(caps: &Capabilities) -> Self {
        let default = Self::default();
        let positive = |v: i64| u64::try_from(v).ok().filter(|v| *v > 0);
        Self {
            page_size: positive(caps.pageSize).unwrap_or(default.page_size),
            max_vcpus_per_vm: positive(caps.maxVcpusPerVm.into())
                .map_or(default.max_vcpus_per_vm, |v| v as u32),
            max_memory_regions: positive(caps.maxMemoryRegions.into())
                .map_or(default.max_memory_regions, |v| v as usize),
            max_name_length: positive(caps.maxNameLength.into())
                .map_or(default.max_name_length, |v| v as usize),
            // A V1 service reports no generation: assume boot registers work, as V1 did.
            boot_registers: crate::generation::generation(caps.driverGeneration)
                .map_or(true, |g| g.handles(DriverIoctl::SetBootContext)),
        }
    }
}

/// The VM kind with the data that kind needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmKind {
    /// No auth call.
    Unauthenticated,
    /// Android pVM with its firmware configuration.
    AndroidPvm {
        /// VmConfig.firmware.
        firmware: GuestRange,
    },
    /// Qualcomm trusted VM.
    QcomTrustedVm(QtvmAuthArg),
}

/// A validated memory region (its memfd is in the `VmSpec`, at the same position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionPlan {
    /// Index in `VmConfig.memoryRegions` (for field paths in the driver's errors).
    pub index: usize,
    /// Driver label.
    pub label: u32,
    /// Where the region lies in the guest.
    pub range: GuestRange,
    /// Guest access.
    pub access: MemAccess,
    /// Share or lend.
    pub share: ShareMode,
    /// Offset in the memfd.
    pub memory_offset: u64,
}

/// A config that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmPlan {
    /// VmConfig.name.
    pub name: String,
    /// The kind and its data.
    pub kind: VmKind,
    /// Memory regions in config order.
    pub regions: Vec<RegionPlan>,
    /// The DTB.
    pub dtb: GuestRange,
    /// Boot registers, in config order.
    pub boot_context: Vec<(BootReg, u64)>,
    /// Number of vCPUs.
    pub vcpu_count: u32,
}

impl VmPlan {
    /// Total guest memory in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.regions.iter().map(|r| r.range.size).sum()
    }

    /// The guest's entry point: the PC boot register, else offset 0 of the DTB's region.
    pub fn entry_point(&self) -> u64 {
        self.boot_context
            .iter()
            .find(|(reg, _)| *reg == BootReg::PC)
            .map(|(_, value)| *value)
            .or_else(|| {
                self.regions
                    .iter()
                    .find(|r| r.range.contains(&self.dtb))
                    .map(|r| r.range.guest_phys_addr)
            })
            .unwrap_or(0)
    }
}

fn non_negative(field: &str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| FieldError::new(field, format!("negative ({value})")))
}

fn aligned(field: &str, value: i64, page: u64) -> Result<u64> {
    let v = non_negative(field, value)?;
    if v % page != 0 {
        return Err(FieldError::new(
            field,
            format!("not a multiple of the page size ({page})"),
        ));
    }
    Ok(v)
}

fn range(field: &str, r: &AidlRange) -> Result<GuestRange> {
    let g = GuestRange {
        guest_phys_addr: non_negative(&format!("{field}.guestPhysAddr"), r.guestPhysAddr)?,
        size: non_negative(&format!("{field}.size"), r.size)?,
    };
    if g.size == 0 {
        return Err(FieldError::new(format!("{field}.size"), "must not be 0"));
    }
    if g.end().is_none() {
        return Err(FieldError::new(field, "guestPhysAddr + size overflows"));
    }
    Ok(g)
}

/// `r` widened to whole pages. The later drivers share the DTB with the guest as whole pages,
/// truncating a size that is not a multiple of the page size (a DTB under one page would be
/// zero pages and fail START), so the service gives the driver the page-rounded range.
fn whole_pages(r: GuestRange, page: u64) -> GuestRange {
    let start = r.guest_phys_addr - r.guest_phys_addr % page;
    // `range` checked that the end fits; rounding it up can overflow only past the last page.
    let end = r
        .guest_phys_addr
        .saturating_add(r.size)
        .div_ceil(page)
        .saturating_mul(page);
    GuestRange {
        guest_phys_addr: start,
        size: end - start,
    }
}

fn inside_a_region(field: &str, r: GuestRange, regions: &[RegionPlan]) -> Result<()> {
    if regions.iter().any(|region| region.range.contains(&r)) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "[{:#x}, {:#x}) does not lie inside one memory region",
                r.guest_phys_addr,
                r.guest_phys_addr.saturating_add(r.size)
            ),
        ))
    }
}

fn validate_name(name: &str, limits: &Limits) -> Result<()> {
    if name.is_empty() {
        return Err(FieldError::new("name", "must not be empty"));
    }
    if name.len() > limits.max_name_length {
        return Err(FieldError::new(
            "name",
            format!(
                "{} bytes long, at most {}",
                name.len(),
                limits.max_name_length
            ),
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(FieldError::new(
            "name",
            format!("contains the control character {c:?}"),
        ));
    }
    Ok(())
}

fn validate_region(
    index: usize,
    region: &crate::aidl::MemoryRegion::MemoryRegion,
    limits: &Limits,
) -> Result<RegionPlan> {
    let field = |name: &str| format!("memoryRegions[{index}].{name}");
    let page = limits.page_size;
    let label = u32::try_from(region.label)
        .map_err(|_| FieldError::new(field("label"), format!("negative ({})", region.label)))?;
    let guest_phys_addr = aligned(&field("guestPhysAddr"), region.guestPhysAddr, page)?;
    let size = aligned(&field("size"), region.size, page)?;
    if size == 0 {
        return Err(FieldError::new(field("size"), "must not be 0"));
    }
    let memory_offset = aligned(&field("memoryOffset"), region.memoryOffset, page)?;
    const ALL_ACCESS: i32 =
        region_access::ACCESS_READ | region_access::ACCESS_WRITE | region_access::ACCESS_EXEC;
    let access = Some(region.access)
        .filter(|a| a & !ALL_ACCESS == 0)
        .map(|a| MemAccess {
            read: a & region_access::ACCESS_READ != 0,
            write: a & region_access::ACCESS_WRITE != 0,
            exec: a & region_access::ACCESS_EXEC != 0,
        })
        .ok_or_else(|| {
            FieldError::new(
                field("access"),
                format!(
                    "unknown access bits {:#x} (allowed: ACCESS_READ | ACCESS_WRITE | ACCESS_EXEC)",
                    region.access
                ),
            )
        })?;
    let share = match region.shareType {
        MemoryShareType::SHARE => ShareMode::Share,
        MemoryShareType::LEND => ShareMode::Lend,
        other => {
            return Err(FieldError::new(
                field("shareType"),
                format!("unknown value {}", other.0),
            ))
        }
    };
    let range = GuestRange {
        guest_phys_addr,
        size,
    };
    if range.end().is_none() {
        return Err(FieldError::new(
            format!("memoryRegions[{index}]"),
            "guestPhysAddr + size overflows",
        ));
    }
    if memory_offset.checked_add(size).is_none() {
        return Err(FieldError::new(
            field("memoryOffset"),
            "memoryOffset + size overflows",
        ));
    }
    Ok(RegionPlan {
        index,
        label,
        range,
        access,
        share,
        memory_offset,
    })
}

fn validate_regions(config: &VmConfig, limits: &Limits) -> Result<Vec<RegionPlan>> {
    let count = config.memoryRegions.len();
    if count == 0 {
        return Err(FieldError::new(
            "memoryRegions",
            "at least one region is required",
        ));
    }
    if count > limits.max_memory_regions {
        return Err(FieldError::new(
            "memoryRegions",
            format!("{count} regions, at most {}", limits.max_memory_regions),
        ));
    }
    let regions = config
        .memoryRegions
        .iter()
        .enumerate()
        .map(|(i, r)| validate_region(i, r, limits))
        .collect::<Result<Vec<_>>>()?;

    let mut labels = HashMap::with_capacity(count);
    for r in &regions {
        if let Some(first) = labels.insert(r.label, r.index) {
            return Err(FieldError::new(
                format!("memoryRegions[{}].label", r.index),
                format!("{} is already used by memoryRegions[{first}]", r.label),
            ));
        }
    }
    // Sorted by start, a region overlaps another only if it overlaps its predecessor.
    let mut by_start: Vec<&RegionPlan> = regions.iter().collect();
    by_start.sort_by_key(|r| (r.range.guest_phys_addr, r.index));
    for pair in by_start.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.range.overlaps(&b.range) {
            let (first, second) = if a.index < b.index { (a, b) } else { (b, a) };
            return Err(FieldError::new(
                format!("memoryRegions[{}].guestPhysAddr", second.index),
                format!("overlaps memoryRegions[{}]", first.index),
            ));
        }
    }
    Ok(regions)
}

fn validate_boot_context(config: &VmConfig) -> Result<Vec<(BootReg, u64)>> {
    let mut seen = HashMap::new();
    config
        .bootContext
        .iter()
        .enumerate()
        .map(|(i, reg)| {
            let set = match reg.set {
                BootRegisterSet::X => BootRegSet::X,
                BootRegisterSet::PC => BootRegSet::Pc,
                BootRegisterSet::SP => BootRegSet::Sp,
                other => {
                    return Err(FieldError::new(
                        format!("bootContext[{i}].set"),
                        format!("unknown value {}", other.0),
                    ))
                }
            };
            let max = BootReg::max_index(set);
            let index = u8::try_from(reg.index)
                .ok()
                .filter(|idx| *idx <= max)
                .ok_or_else(|| {
                    FieldError::new(
                        format!("bootContext[{i}].index"),
                        format!("{} is out of range for {set} (0..={max})", reg.index),
                    )
                })?;
            let boot_reg = BootReg { set, index };
            if let Some(first) = seen.insert(boot_reg, i) {
                return Err(FieldError::new(
                    format!("bootContext[{i}]"),
                    format!("register already set by bootContext[{first}]"),
                ));
            }
            // Register values are raw 64-bit values; negative longs are their two's complement.
            Ok((boot_reg, reg.value as u64))
        })
        .collect()
}

fn validate_kind(config: &VmConfig, regions: &[RegionPlan]) -> Result<VmKind> {
    let firmware = config.firmware.as_ref();
    let qtvm = config.qtvmAuth.as_ref();
    match config.authType {
        VmAuthType::UNAUTHENTICATED | VmAuthType::QCOM_TRUSTED_VM if firmware.is_some() => Err(
            FieldError::new("firmware", "only allowed with authType ANDROID_PVM"),
        ),
        VmAuthType::UNAUTHENTICATED | VmAuthType::ANDROID_PVM if qtvm.is_some() => Err(
            FieldError::new("qtvmAuth", "only allowed with authType QCOM_TRUSTED_VM"),
        ),
        VmAuthType::UNAUTHENTICATED => Ok(VmKind::Unauthenticated),
        VmAuthType::ANDROID_PVM => {
            let fw = firmware
                .ok_or_else(|| FieldError::new("firmware", "required with authType ANDROID_PVM"))?;
            let fw = range("firmware", fw)?;
            inside_a_region("firmware", fw, regions)?;
            Ok(VmKind::AndroidPvm { firmware: fw })
        }
        VmAuthType::QCOM_TRUSTED_VM => {
            let auth = qtvm.ok_or_else(|| {
                FieldError::new("qtvmAuth", "required with authType QCOM_TRUSTED_VM")
            })?;
            let vm_id = u16::try_from(auth.vmId).map_err(|_| {
                FieldError::new(
                    "qtvmAuth.vmId",
                    format!("{} is out of range (0..=65535)", auth.vmId),
                )
            })?;
            let pas_id = u32::try_from(auth.pasId).map_err(|_| {
                FieldError::new("qtvmAuth.pasId", format!("negative ({})", auth.pasId))
            })?;
            let image = range("qtvmAuth.image", &auth.image)?;
            inside_a_region("qtvmAuth.image", image, regions)?;
            Ok(VmKind::QcomTrustedVm(QtvmAuthArg {
                vm_id,
                pas_id,
                image,
            }))
        }
        other => Err(FieldError::new(
            "authType",
            format!("unknown value {}", other.0),
        )),
    }
}

/// Checks every rule of the contract that does not need the fds or the driver.
pub fn validate(config: &VmConfig, limits: &Limits) -> Result<VmPlan> {
    validate_name(&config.name, limits)?;
    let vcpu_count = u32::try_from(config.vcpuCount)
        .ok()
        .filter(|n| (1..=limits.max_vcpus_per_vm).contains(n))
        .ok_or_else(|| {
            FieldError::new(
                "vcpuCount",
                format!(
                    "{} is out of range (1..={})",
                    config.vcpuCount, limits.max_vcpus_per_vm
                ),
            )
        })?;
    let regions = validate_regions(config, limits)?;
    let dtb = whole_pages(range("dtb", &config.dtb)?, limits.page_size);
    inside_a_region("dtb", dtb, &regions)?;
    let kind = validate_kind(config, &regions)?;
    let boot_context = validate_boot_context(config)?;
    Ok(VmPlan {
        name: config.name.clone(),
        kind,
        regions,
        dtb,
        boot_context,
        vcpu_count,
    })
}

/// A config that passed every check, with the memory behind each region: what a VM is built
/// from, owning its fds (duplicated from the parcel, so it outlives the call).
#[derive(Debug)]
pub struct VmSpec {
    /// The checked config.
    pub plan: VmPlan,
    /// One memfd per region, in `plan.regions` order, each checked against its region.
    pub memory: Vec<OwnedFd>,
}

/// Checks `config` (see [`validate`]), then takes and checks each region's memfd.
pub fn accept(config: &VmConfig, limits: &Limits) -> Result<VmSpec> {
    let plan = validate(config, limits)?;
    let memory = plan
        .regions
        .iter()
        .zip(&config.memoryRegions)
        .map(|(region, parcel)| {
            let field = format!("memoryRegions[{}].memory", region.index);
            let pfd = parcel
                .memory
                .as_ref()
                .ok_or_else(|| FieldError::new(&field, "missing"))?;
            let fd = binder::pfd_as_fd(pfd)
                .try_clone_to_owned()
                .map_err(|e| FieldError::new(&field, format!("cannot be duplicated: {e}")))?;
            check_memfd(fd.as_fd(), region)?;
            Ok(fd)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(VmSpec { plan, memory })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aidl::{BootRegister::BootRegister, MemoryRegion::MemoryRegion, QtvmAuth::QtvmAuth};
    use crate::memfd::sealed_ram_region;

    const MIB: u64 = 1 << 20;
    const RAM: i64 = 0x8000_0000;

    fn ram_region(label: i32, gpa: i64, size: u64) -> std::io::Result<MemoryRegion> {
        sealed_ram_region(label, gpa, size, &[])
    }

    /// 2 MiB of RAM at `RAM`, the DTB in its last page, one vCPU.
    fn config() -> VmConfig {
        VmConfig {
            name: "test".into(),
            memoryRegions: vec![ram_region(0, RAM, 2 * MIB).expect("memfd")],
            dtb: AidlRange {
                guestPhysAddr: RAM + 2 * MIB as i64 - 4096,
                size: 4096,
            },
            vcpuCount: 1,
            ..Default::default()
        }
    }

    fn region(label: i32, gpa: i64, size: i64) -> MemoryRegion {
        MemoryRegion {
            label,
            guestPhysAddr: gpa,
            size,
            memory: None,
            ..Default::default()
        }
    }

    /// The error's message, which must start with `field: `.
    fn error_of(config: &VmConfig) -> String {
        validate(config, &Limits::default())
            .expect_err("config should be rejected")
            .to_string()
    }

    fn assert_rejected(config: &VmConfig, prefix: &str) {
        let msg = error_of(config);
        assert!(
            msg.starts_with(prefix),
            "{msg:?} does not start with {prefix:?}"
        );
    }

    #[test]
    fn test_limits_from_capabilities() {
        let caps = Capabilities {
            pageSize: 16384,
            maxVcpusPerVm: 4,
            maxMemoryRegions: 0,
            maxNameLength: -3,
            ..Default::default()
        };
        let limits = Limits::from_capabilities(&caps);
        assert_eq!(limits.page_size, 16384);
        assert_eq!(limits.max_vcpus_per_vm, 4);
        assert_eq!(
            limits.max_memory_regions,
            Limits::default().max_memory_regions
        );
        assert_eq!(limits.max_name_length, Limits::default().max_name_length);
    }

    #[test]
    fn test_validate_demo_config() -> Result<()> {
        let plan = validate(&config(), &Limits::default())?;
        assert_eq!(plan.vcpu_count, 1);
        assert_eq!(plan.memory_bytes(), 2 * MIB);
        assert_eq!(plan.kind, VmKind::Unauthenticated);
        // Without a PC boot register the guest starts at offset 0 of the DTB's region.
        assert_eq!(plan.entry_point(), RAM as u64);
        Ok(())
    }

    #[test]
    fn test_validate_entry_point_from_pc() -> Result<()> {
        let mut c = config();
        c.bootContext = vec![BootRegister {
            set: BootRegisterSet::PC,
            index: 0,
            value: 0x8000_1000,
        }];
        assert_eq!(validate(&c, &Limits::default())?.entry_point(), 0x8000_1000);
        Ok(())
    }

    #[test]
    fn test_validate_name() {
        let mut c = config();
        c.name = String::new();
        assert_rejected(&c, "name: must not be empty");
        c.name = "x".repeat(1 << 20);
        assert_rejected(&c, "name: 1048576 bytes long, at most 64");
        c.name = "bad\nname".into();
        assert_rejected(&c, "name: contains the control character");
    }

    #[test]
    fn test_validate_vcpu_count() {
        for n in [0, -1, i32::MAX, 9] {
            let mut c = config();
            c.vcpuCount = n;
            assert_rejected(&c, &format!("vcpuCount: {n} is out of range (1..=8)"));
        }
    }

    #[test]
    fn test_validate_region_fields() {
        type Mutation = Box<dyn Fn(&mut MemoryRegion)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|r| r.size = 0),
                "memoryRegions[0].size: must not be 0",
            ),
            (
                Box::new(|r| r.size = 4097),
                "memoryRegions[0].size: not a multiple of the page size (4096)",
            ),
            (
                Box::new(|r| r.size = -4096),
                "memoryRegions[0].size: negative",
            ),
            (
                Box::new(|r| r.guestPhysAddr = 0x8000_0800),
                "memoryRegions[0].guestPhysAddr: not a multiple",
            ),
            (
                Box::new(|r| r.guestPhysAddr = -4096),
                "memoryRegions[0].guestPhysAddr: negative",
            ),
            (
                Box::new(|r| r.memoryOffset = 100),
                "memoryRegions[0].memoryOffset: not a multiple",
            ),
            (
                Box::new(|r| r.memoryOffset = -4096),
                "memoryRegions[0].memoryOffset: negative",
            ),
            (
                Box::new(|r| r.access = 8),
                "memoryRegions[0].access: unknown access bits 0x8",
            ),
            (
                Box::new(|r| r.access = -1),
                "memoryRegions[0].access: unknown access bits",
            ),
            (
                Box::new(|r| r.shareType = MemoryShareType(7)),
                "memoryRegions[0].shareType: unknown value 7",
            ),
            (
                Box::new(|r| r.label = -1),
                "memoryRegions[0].label: negative",
            ),
        ];
        for (mutate, prefix) in cases {
            let mut c = config();
            mutate(&mut c.memoryRegions[0]);
            assert_rejected(&c, prefix);
        }
    }

    #[test]
    fn test_validate_region_set() {
        let mut c = config();
        c.memoryRegions = vec![];
        assert_rejected(&c, "memoryRegions: at least one region is required");

        // Adjacent is legal; overlapping and reused labels are not.
        let mut c = config();
        c.memoryRegions.push(region(1, RAM + 2 * MIB as i64, 4096));
        assert!(validate(&c, &Limits::default()).is_ok());
        c.memoryRegions.push(region(2, RAM + MIB as i64, 4096));
        assert_rejected(
            &c,
            "memoryRegions[2].guestPhysAddr: overlaps memoryRegions[0]",
        );
        c.memoryRegions[2] = region(1, 0, 4096);
        assert_rejected(
            &c,
            "memoryRegions[2].label: 1 is already used by memoryRegions[1]",
        );
    }

    #[test]
    fn test_validate_many_regions_is_bounded() {
        let mut c = config();
        c.memoryRegions = (0..100_000)
            .map(|i| region(i, i64::from(i) * 4096, 4096))
            .collect();
        let start = std::time::Instant::now();
        assert_rejected(&c, "memoryRegions: 100000 regions, at most 32");
        // Rejected by count before any per-region work.
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn test_validate_dtb() {
        let mut c = config();
        c.dtb = AidlRange {
            guestPhysAddr: 0x1000,
            size: 4096,
        };
        assert_rejected(
            &c,
            "dtb: [0x1000, 0x2000) does not lie inside one memory region",
        );
        c.dtb = AidlRange {
            guestPhysAddr: RAM,
            size: 0,
        };
        assert_rejected(&c, "dtb.size: must not be 0");
        // Straddling the end of the region is outside.
        c.dtb = AidlRange {
            guestPhysAddr: RAM + 2 * MIB as i64 - 4096,
            size: 8192,
        };
        assert_rejected(&c, "dtb: ");
        // 100 bytes in the last page: the driver gets that whole page.
        c.dtb = AidlRange {
            guestPhysAddr: RAM + 2 * MIB as i64 - 4096,
            size: 100,
        };
        let plan = validate(&c, &Limits::default()).expect("a DTB inside the last page");
        assert_eq!(
            (plan.dtb.guest_phys_addr, plan.dtb.size),
            ((RAM + 2 * MIB as i64 - 4096) as u64, 4096)
        );
        // 100 bytes that end 50 bytes past the region: refused, naming the rounded range.
        c.dtb = AidlRange {
            guestPhysAddr: RAM + 2 * MIB as i64 - 50,
            size: 100,
        };
        assert_rejected(&c, "dtb: [0x801ff000, 0x80201000) does not lie inside");
    }

    #[test]
    fn test_validate_vm_kind() {
        let fw = AidlRange {
            guestPhysAddr: RAM,
            size: 4096,
        };
        let qtvm = QtvmAuth {
            vmId: 45,
            pasId: 28,
            image: fw.clone(),
        };

        let mut c = config();
        c.authType = VmAuthType(9);
        assert_rejected(&c, "authType: unknown value 9");

        let mut c = config();
        c.firmware = Some(fw.clone());
        assert_rejected(&c, "firmware: only allowed with authType ANDROID_PVM");
        c.authType = VmAuthType::ANDROID_PVM;
        assert_eq!(
            validate(&c, &Limits::default()).map(|p| p.kind),
            Ok(VmKind::AndroidPvm {
                firmware: GuestRange {
                    guest_phys_addr: RAM as u64,
                    size: 4096
                }
            })
        );
        c.firmware = None;
        assert_rejected(&c, "firmware: required with authType ANDROID_PVM");
        c.qtvmAuth = Some(qtvm.clone());
        assert_rejected(&c, "qtvmAuth: only allowed with authType QCOM_TRUSTED_VM");

        let mut c = config();
        c.authType = VmAuthType::QCOM_TRUSTED_VM;
        assert_rejected(&c, "qtvmAuth: required with authType QCOM_TRUSTED_VM");
        c.qtvmAuth = Some(QtvmAuth {
            vmId: 70_000,
            ..qtvm.clone()
        });
        assert_rejected(&c, "qtvmAuth.vmId: 70000 is out of range (0..=65535)");
        c.qtvmAuth = Some(QtvmAuth {
            pasId: -1,
            ..qtvm.clone()
        });
        assert_rejected(&c, "qtvmAuth.pasId: negative");
        c.qtvmAuth = Some(QtvmAuth {
            image: AidlRange {
                guestPhysAddr: 0,
                size: 4096,
            },
            ..qtvm.clone()
        });
        assert_rejected(&c, "qtvmAuth.image: ");
        c.qtvmAuth = Some(qtvm);
        assert!(matches!(
            validate(&c, &Limits::default()).map(|p| p.kind),
            Ok(VmKind::QcomTrustedVm(_))
        ));
    }

    #[test]
    fn test_validate_boot_context() {
        let reg = |set, index| BootRegister {
            set,
            index,
            value: 1,
        };
        let cases = [
            (
                vec![reg(BootRegisterSet::X, 32)],
                "bootContext[0].index: 32 is out of range for X (0..=31)",
            ),
            (
                vec![reg(BootRegisterSet::PC, 1)],
                "bootContext[0].index: 1 is out of range for PC (0..=0)",
            ),
            (
                vec![reg(BootRegisterSet::SP, 3)],
                "bootContext[0].index: 3 is out of range for SP (0..=2)",
            ),
            (
                vec![reg(BootRegisterSet::X, -1)],
                "bootContext[0].index: -1 is out of range",
            ),
            (
                vec![reg(BootRegisterSet(5), 0)],
                "bootContext[0].set: unknown value 5",
            ),
            (
                vec![reg(BootRegisterSet::X, 3), reg(BootRegisterSet::X, 3)],
                "bootContext[1]: register already set by bootContext[0]",
            ),
        ];
        for (regs, prefix) in cases {
            let mut c = config();
            c.bootContext = regs;
            assert_rejected(&c, prefix);
        }
        let mut c = config();
        c.bootContext = vec![
            reg(BootRegisterSet::X, 31),
            reg(BootRegisterSet::SP, 2),
            reg(BootRegisterSet::PC, 0),
        ];
        assert!(validate(&c, &Limits::default()).is_ok());
    }

    #[test]
    fn test_validate_second_region_via_helper() -> std::io::Result<()> {
        let mut c = config();
        c.memoryRegions.push(ram_region(7, 0x1_0000_0000, 4096)?);
        assert!(validate(&c, &Limits::default()).is_ok());
        Ok(())
    }

    #[test]
    fn test_accept_owns_and_checks_each_memfd() -> std::io::Result<()> {
        let mut c = config();
        c.memoryRegions.push(ram_region(7, 0x1_0000_0000, 4096)?);
        let spec = accept(&c, &Limits::default()).expect("accepted");
        assert_eq!(spec.memory.len(), 2);
        // The spec's fds are its own: the config's can go.
        drop(c);
        assert!(gunyah_sys::fd::stat(spec.memory[1].as_fd()).is_ok());

        let mut missing = config();
        missing.memoryRegions[0].memory = None;
        assert_eq!(
            accept(&missing, &Limits::default())
                .expect_err("no memfd")
                .to_string(),
            "memoryRegions[0].memory: missing"
        );
        let mut short = config();
        short
            .memoryRegions
            .push(ram_region(7, 0x1_0000_0000, 4096)?);
        short.memoryRegions[1].size = 8192;
        let message = accept(&short, &Limits::default())
            .expect_err("memfd too small")
            .to_string();
        assert!(
            message.starts_with("memoryRegions[1].memoryOffset: "),
            "{message}"
        );
        Ok(())
    }
}
