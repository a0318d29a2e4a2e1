//! Validation of a client's `VmConfig` into a `VmPlan`: every rule of the AIDL contract that
//! can be checked without touching file descriptors or the driver. The memfds are checked
//! (and mapped) by `memory`.

use std::collections::HashMap;

use android_hardware_gunyah::aidl::android::hardware::gunyah::{
    BootRegisterSet::BootRegisterSet, GuestRange::GuestRange as AidlRange,
    MemoryShareType::MemoryShareType, VmAuthType::VmAuthType, VmConfig::VmConfig,
};

use crate::error::{Error, Result};
use crate::hyp::{BootReg, BootRegSet, GuestRange, MemAccess, QtvmAuthArg, ShareMode};

/// Limits the service enforces on every config (reported in `Capabilities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Page size: alignment of sizes, offsets and addresses.
    pub page_size: u64,
    /// Largest `vcpuCount`.
    pub max_vcpus_per_vm: u32,
    /// Largest number of memory regions (RPC carries at most 64 fds in one message).
    pub max_memory_regions: usize,
    /// Longest name in bytes.
    pub max_name_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            page_size: 4096,
            max_vcpus_per_vm: 8,
            max_memory_regions: 32,
            max_name_length: 64,
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

/// A validated memory region (the fd stays in the config, at the same index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionPlan {
    /// Index in `VmConfig.memoryRegions` (for field paths).
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
    u64::try_from(value).map_err(|_| Error::invalid(field, format!("negative ({value})")))
}

fn aligned(field: &str, value: i64, page: u64) -> Result<u64> {
    let v = non_negative(field, value)?;
    if v % page != 0 {
        return Err(Error::invalid(
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
        return Err(Error::invalid(format!("{field}.size"), "must not be 0"));
    }
    if g.end().is_none() {
        return Err(Error::invalid(field, "guestPhysAddr + size overflows"));
    }
    Ok(g)
}

fn inside_a_region(field: &str, r: GuestRange, regions: &[RegionPlan]) -> Result<()> {
    if regions.iter().any(|region| region.range.contains(&r)) {
        Ok(())
    } else {
        Err(Error::invalid(
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
        return Err(Error::invalid("name", "must not be empty"));
    }
    if name.len() > limits.max_name_length {
        return Err(Error::invalid(
            "name",
            format!(
                "{} bytes long, at most {}",
                name.len(),
                limits.max_name_length
            ),
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(Error::invalid(
            "name",
            format!("contains the control character {c:?}"),
        ));
    }
    Ok(())
}

fn validate_region(
    index: usize,
    region: &android_hardware_gunyah::aidl::android::hardware::gunyah::MemoryRegion::MemoryRegion,
    limits: &Limits,
) -> Result<RegionPlan> {
    let field = |name: &str| format!("memoryRegions[{index}].{name}");
    let page = limits.page_size;
    let label = u32::try_from(region.label)
        .map_err(|_| Error::invalid(field("label"), format!("negative ({})", region.label)))?;
    let guest_phys_addr = aligned(&field("guestPhysAddr"), region.guestPhysAddr, page)?;
    let size = aligned(&field("size"), region.size, page)?;
    if size == 0 {
        return Err(Error::invalid(field("size"), "must not be 0"));
    }
    let memory_offset = aligned(&field("memoryOffset"), region.memoryOffset, page)?;
    let access = u32::try_from(region.access)
        .ok()
        .filter(|a| a & !MemAccess::ALL == 0)
        .ok_or_else(|| {
            Error::invalid(
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
            return Err(Error::invalid(
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
        return Err(Error::invalid(
            format!("memoryRegions[{index}]"),
            "guestPhysAddr + size overflows",
        ));
    }
    if memory_offset.checked_add(size).is_none() {
        return Err(Error::invalid(
            field("memoryOffset"),
            "memoryOffset + size overflows",
        ));
    }
    Ok(RegionPlan {
        index,
        label,
        range,
        access: MemAccess(access),
        share,
        memory_offset,
    })
}

fn validate_regions(config: &VmConfig, limits: &Limits) -> Result<Vec<RegionPlan>> {
    let count = config.memoryRegions.len();
    if count == 0 {
        return Err(Error::invalid(
            "memoryRegions",
            "at least one region is required",
        ));
    }
    if count > limits.max_memory_regions {
        return Err(Error::invalid(
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
            return Err(Error::invalid(
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
            return Err(Error::invalid(
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
                    return Err(Error::invalid(
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
                    Error::invalid(
                        format!("bootContext[{i}].index"),
                        format!("{} is out of range for {set:?} (0..={max})", reg.index),
                    )
                })?;
            let boot_reg = BootReg { set, index };
            if let Some(first) = seen.insert(boot_reg, i) {
                return Err(Error::invalid(
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
            Error::invalid("firmware", "only allowed with authType ANDROID_PVM"),
        ),
        VmAuthType::UNAUTHENTICATED | VmAuthType::ANDROID_PVM if qtvm.is_some() => Err(
            Error::invalid("qtvmAuth", "only allowed with authType QCOM_TRUSTED_VM"),
        ),
        VmAuthType::UNAUTHENTICATED => Ok(VmKind::Unauthenticated),
        VmAuthType::ANDROID_PVM => {
            let fw = firmware
                .ok_or_else(|| Error::invalid("firmware", "required with authType ANDROID_PVM"))?;
            let fw = range("firmware", fw)?;
            inside_a_region("firmware", fw, regions)?;
            Ok(VmKind::AndroidPvm { firmware: fw })
        }
        VmAuthType::QCOM_TRUSTED_VM => {
            let auth = qtvm.ok_or_else(|| {
                Error::invalid("qtvmAuth", "required with authType QCOM_TRUSTED_VM")
            })?;
            let vm_id = u16::try_from(auth.vmId).map_err(|_| {
                Error::invalid(
                    "qtvmAuth.vmId",
                    format!("{} is out of range (0..=65535)", auth.vmId),
                )
            })?;
            let pas_id = u32::try_from(auth.pasId).map_err(|_| {
                Error::invalid("qtvmAuth.pasId", format!("negative ({})", auth.pasId))
            })?;
            let image = range("qtvmAuth.image", &auth.image)?;
            inside_a_region("qtvmAuth.image", image, regions)?;
            Ok(VmKind::QcomTrustedVm(QtvmAuthArg {
                vm_id,
                pas_id,
                image,
            }))
        }
        other => Err(Error::invalid(
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
            Error::invalid(
                "vcpuCount",
                format!(
                    "{} is out of range (1..={})",
                    config.vcpuCount, limits.max_vcpus_per_vm
                ),
            )
        })?;
    let regions = validate_regions(config, limits)?;
    let dtb = range("dtb", &config.dtb)?;
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
