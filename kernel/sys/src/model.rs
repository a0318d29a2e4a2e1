//! The typed VM model the driver calls take, and a validated config is made of: guest ranges,
//! memory access and sharing, boot registers, irqfds and ioeventfds, Qualcomm trusted-VM
//! authentication. Plain data: the hypervisor traits (`gunyah-hypervisor`) take it, the contract
//! (`gunyah-contract`) validates an AIDL `VmConfig` into it, neither depends on the other.

#![forbid(unsafe_code)]

/// What the guest may do with a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemAccess {
    /// Read.
    pub read: bool,
    /// Write.
    pub write: bool,
    /// Execute.
    pub exec: bool,
}

impl MemAccess {
    /// Read and write.
    pub const READ_WRITE: MemAccess = MemAccess {
        read: true,
        write: true,
        exec: false,
    };
    /// Read, write and execute.
    pub const ALL: MemAccess = MemAccess {
        read: true,
        write: true,
        exec: true,
    };

    /// Whether the guest may write.
    pub fn writable(self) -> bool {
        self.write
    }
}

/// Shared with the guest, or lent to it (the host loses access while it runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareMode {
    /// GH_VM_SET_USER_MEM_REGION.
    Share,
    /// GH_VM_ANDROID_LEND_USER_MEM.
    Lend,
}

/// A guest physical range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestRange {
    /// Start address.
    pub guest_phys_addr: u64,
    /// Size in bytes.
    pub size: u64,
}

impl GuestRange {
    /// End of the range (exclusive); `None` on overflow.
    pub fn end(&self) -> Option<u64> {
        self.guest_phys_addr.checked_add(self.size)
    }

    /// Whether `other` lies entirely inside this range.
    pub fn contains(&self, other: &GuestRange) -> bool {
        match (self.end(), other.end()) {
            (Some(end), Some(other_end)) => {
                other.guest_phys_addr >= self.guest_phys_addr && other_end <= end
            }
            _ => false,
        }
    }

    /// Whether the two half-open ranges share an address.
    pub fn overlaps(&self, other: &GuestRange) -> bool {
        let (Some(end), Some(other_end)) = (self.end(), other.end()) else {
            return true;
        };
        self.guest_phys_addr < other_end && other.guest_phys_addr < end
    }
}

/// `gunyah_qtvm_auth_arg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QtvmAuthArg {
    /// Trusted VM id.
    pub vm_id: u16,
    /// PAS id.
    pub pas_id: u32,
    /// Where the image lies.
    pub image: GuestRange,
}

/// Register sets of the boot context (`GH_VM_BOOT_CONTEXT_REG_SET_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BootRegSet {
    /// X0..X31.
    X = 0,
    /// PC (index 0).
    Pc = 1,
    /// SP_EL0..SP_EL2.
    Sp = 2,
}

impl std::fmt::Display for BootRegSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BootRegSet::X => "X",
            BootRegSet::Pc => "PC",
            BootRegSet::Sp => "SP",
        })
    }
}

/// One boot-context register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BootReg {
    /// The set.
    pub set: BootRegSet,
    /// Index in the set.
    pub index: u8,
}

impl BootReg {
    /// The program counter.
    pub const PC: BootReg = BootReg {
        set: BootRegSet::Pc,
        index: 0,
    };

    /// Highest index allowed in `set`.
    pub fn max_index(set: BootRegSet) -> u8 {
        match set {
            BootRegSet::X => 31,
            BootRegSet::Pc => 0,
            BootRegSet::Sp => 2,
        }
    }

    /// The driver's encoding: `(set & 0xff) << 8 | (index & 0xff)`.
    pub fn encode(self) -> u32 {
        ((self.set as u32) << 8) | u32::from(self.index)
    }

    /// Decodes and checks the driver's encoding (`None`: the driver answers EINVAL).
    pub fn decode(reg: u32) -> Option<BootReg> {
        if reg >> 16 != 0 {
            return None;
        }
        let set = match (reg >> 8) & 0xff {
            0 => BootRegSet::X,
            1 => BootRegSet::Pc,
            2 => BootRegSet::Sp,
            _ => return None,
        };
        let index = (reg & 0xff) as u8;
        (index <= Self::max_index(set)).then_some(BootReg { set, index })
    }
}

/// How an irqfd's doorbell fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerMode {
    /// Each write to the eventfd rings the doorbell once.
    Edge,
    /// The doorbell stays asserted until the guest acknowledges it.
    Level,
}

/// An irqfd: writing its eventfd rings doorbell `label`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Irqfd {
    /// The doorbell label, unique among the VM's irqfds.
    pub label: u32,
    /// Edge or level.
    pub trigger: TriggerMode,
}

/// Which guest writes an ioeventfd takes (crosvm's `Datamatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datamatch {
    /// Any value.
    Any,
    /// Only this value (the access's bytes, zero-extended to 64 bits).
    Value(u64),
}

/// An ioeventfd: guest writes at `addr` that match signal its eventfd instead of exiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoEventfd {
    /// Guest physical address.
    pub addr: u64,
    /// Access size in bytes: 1, 2, 4 or 8, or 0 for any (not with a datamatch value).
    pub len: u32,
    /// Which written values it takes.
    pub datamatch: Datamatch,
}
