//! `VmBuilder`: a VM described in the caller's terms (memory, images at guest addresses, boot
//! registers, the VM kind) and turned into a `VmConfig` with one sealed memfd per region,
//! checked with the service's own rules before anything is sent.

use std::fs::File;

use gunyah_binder as binder;
use gunyah_binder::aidl::{
    BootRegister::BootRegister,
    BootRegisterSet::BootRegisterSet,
    GuestRange::GuestRange,
    MemoryRegion::{self as region, MemoryRegion},
    MemoryShareType::MemoryShareType,
    QtvmAuth::QtvmAuth,
    VmAuthType::VmAuthType,
    VmConfig::VmConfig,
};
use gunyah_contract::vm_config::{self as config, Limits};
use gunyah_guest::asm::assemble;
use gunyah_sys::memfd;

use crate::error::{Error, Result};
use crate::image::{Image, Loading, Progress};

/// The VM kind (`VmConfig.authType`) and the data it needs beyond the firmware image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Auth {
    /// No authentication.
    #[default]
    Unauthenticated,
    /// An Android protected VM; needs [`VmBuilder::firmware`].
    AndroidPvm,
    /// A Qualcomm trusted VM.
    QcomTrustedVm {
        /// `QtvmAuth.vmId`.
        vm_id: i32,
        /// `QtvmAuth.pasId`.
        pas_id: i32,
        /// The signed image: `QtvmAuth.image`, as (guest address, size).
        image: (u64, u64),
    },
}

impl Auth {
    /// The AIDL value.
    pub fn auth_type(&self) -> VmAuthType {
        match self {
            Auth::Unauthenticated => VmAuthType::UNAUTHENTICATED,
            Auth::AndroidPvm => VmAuthType::ANDROID_PVM,
            Auth::QcomTrustedVm { .. } => VmAuthType::QCOM_TRUSTED_VM,
        }
    }
}

/// One region of guest memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The driver's label; `None` numbers regions in order.
    pub label: Option<i32>,
    /// Guest physical address of its first byte.
    pub guest_phys_addr: u64,
    /// Bytes (a multiple of the page size).
    pub size: u64,
    /// `MemoryRegion.ACCESS_*` bits.
    pub access: i32,
    /// Shared with the host, or lent (the host loses access while the VM runs).
    pub share: MemoryShareType,
}

impl Region {
    /// Guest RAM: readable, writable and executable by the guest, shared.
    pub fn ram(guest_phys_addr: u64, size: u64) -> Self {
        Self {
            label: None,
            guest_phys_addr,
            size,
            access: region::ACCESS_READ | region::ACCESS_WRITE | region::ACCESS_EXEC,
            share: MemoryShareType::SHARE,
        }
    }

    fn contains(&self, start: u64, len: u64) -> bool {
        start >= self.guest_phys_addr
            && start
                .checked_add(len)
                .is_some_and(|end| end <= self.guest_phys_addr.saturating_add(self.size))
    }
}

/// Where the DTB comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dtb {
    /// The last page of the first region, zero-filled (enough for the scripted guest).
    LastPage,
    /// An image; the range is its size rounded up to the page size.
    Image(Image),
    /// A range the guest fills itself (address, size).
    Range(u64, u64),
}

/// A VM to create. Start with [`VmBuilder::new`], add memory and images, then give it to
/// [`Client::create_vm`](crate::Client::create_vm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmBuilder {
    name: String,
    auth: Auth,
    vcpus: i32,
    regions: Vec<Region>,
    /// (key, image): `kernel`, `program`, `images[i]`, `firmware`.
    images: Vec<(String, Image)>,
    dtb: Dtb,
    firmware: Option<Image>,
    boot: Vec<(BootRegisterSet, i32, u64)>,
}

impl VmBuilder {
    /// A VM named `name`: one vCPU, unauthenticated, no memory yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            auth: Auth::Unauthenticated,
            vcpus: 1,
            regions: Vec::new(),
            images: Vec::new(),
            dtb: Dtb::LastPage,
            firmware: None,
            boot: Vec::new(),
        }
    }

    /// The VM kind.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// The number of vCPUs.
    pub fn vcpus(mut self, vcpus: i32) -> Self {
        self.vcpus = vcpus;
        self
    }

    /// Adds guest RAM: `size` bytes at `guest_phys_addr` ([`Region::ram`]).
    pub fn memory(self, guest_phys_addr: u64, size: u64) -> Self {
        self.region(Region::ram(guest_phys_addr, size))
    }

    /// Adds a memory region.
    pub fn region(mut self, region: Region) -> Self {
        self.regions.push(region);
        self
    }

    /// The kernel (or any payload the guest enters): loaded at its address, which becomes the
    /// entry point (PC) unless a PC boot register is given; X0 gets the DTB's address (the
    /// arm64 boot protocol) unless X0 is given.
    pub fn kernel(mut self, image: Image) -> Self {
        self.images.push(("kernel".into(), image));
        self
    }

    /// A scripted-guest program (docs/GUEST_ISA.md), assembled for `guest_addr` and loaded
    /// there; the mock drivers run it. Its address becomes the entry point as for a kernel.
    pub fn program(mut self, source: &str, guest_addr: u64) -> Result<Self> {
        let bytes =
            assemble(source, guest_addr).map_err(|e| Error::invalid("program", e.to_string()))?;
        self.images
            .push(("program".into(), Image::bytes(bytes, guest_addr)));
        Ok(self)
    }

    /// Another image (an initrd, a payload): loaded, nothing else.
    pub fn image(mut self, image: Image) -> Self {
        let key = format!("images[{}]", self.extra_images());
        self.images.push((key, image));
        self
    }

    /// The device tree blob. Its range is the image rounded up to the page size; without one
    /// the last page of the first region is given as an empty DTB.
    pub fn dtb(mut self, image: Image) -> Self {
        self.dtb = Dtb::Image(image);
        self
    }

    /// The DTB range without loading anything into it.
    pub fn dtb_range(mut self, guest_phys_addr: u64, size: u64) -> Self {
        self.dtb = Dtb::Range(guest_phys_addr, size);
        self
    }

    /// The firmware (`VmConfig.firmware`; required by [`Auth::AndroidPvm`]).
    pub fn firmware(mut self, image: Image) -> Self {
        self.firmware = Some(image);
        self
    }

    /// Sets a boot register (`X` with index 0..=30, `PC` or `SP` with index 0).
    pub fn boot_register(mut self, set: BootRegisterSet, index: i32, value: u64) -> Self {
        self.boot.retain(|(s, i, _)| (*s, *i) != (set, index));
        self.boot.push((set, index, value));
        self
    }

    /// The VM's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Total guest memory in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.regions.iter().map(|r| r.size).sum()
    }

    /// The number of vCPUs.
    pub fn vcpu_count(&self) -> i32 {
        self.vcpus
    }

    fn extra_images(&self) -> usize {
        self.images
            .iter()
            .filter(|(k, _)| k.starts_with("images["))
            .count()
    }

    fn has_boot(&self, set: BootRegisterSet, index: i32) -> bool {
        self.boot.iter().any(|(s, i, _)| (*s, *i) == (set, index))
    }

    /// Builds the `VmConfig`: checks the placements, creates and fills one memfd per region,
    /// seals them, and validates the result with the service's rules under `limits`.
    pub fn build(&self, limits: &Limits, progress: &mut dyn FnMut(Progress)) -> Result<VmConfig> {
        if self.regions.is_empty() {
            return Err(Error::invalid("memory", "the VM has no memory"));
        }
        let page = limits.page_size;
        let mut placed: Vec<(String, &Image, u64)> = Vec::new();
        for (key, image) in &self.images {
            placed.push((key.clone(), image, image.len(key)?));
        }
        if let Some(image) = &self.firmware {
            placed.push(("firmware".into(), image, image.len("firmware")?));
        }
        let dtb = match &self.dtb {
            Dtb::LastPage => {
                let first = &self.regions[0];
                (
                    first.guest_phys_addr + first.size.saturating_sub(page),
                    page,
                )
            }
            Dtb::Range(addr, size) => (*addr, *size),
            Dtb::Image(image) => {
                let len = image.len("dtb")?;
                placed.push(("dtb".into(), image, len));
                (image.guest_addr, len.div_ceil(page) * page)
            }
        };
        self.check_placements(&placed, dtb)?;

        let total = placed.iter().map(|(_, _, len)| len).sum();
        let mut loading = Loading::new(total, progress);
        let mut regions = Vec::with_capacity(self.regions.len());
        for (index, r) in self.regions.iter().enumerate() {
            let memory = self.region_memory(index, r, &placed, &mut loading)?;
            regions.push(MemoryRegion {
                label: r.label.unwrap_or(index as i32),
                guestPhysAddr: as_i64(&format!("memory[{index}].base"), r.guest_phys_addr)?,
                size: as_i64(&format!("memory[{index}].size"), r.size)?,
                access: r.access,
                shareType: r.share,
                memory: Some(binder::pfd_from(memory.into())),
                memoryOffset: 0,
            });
        }
        let config = VmConfig {
            name: self.name.clone(),
            authType: self.auth.auth_type(),
            memoryRegions: regions,
            dtb: range("dtb", dtb)?,
            firmware: match &self.firmware {
                Some(image) => Some(range(
                    "firmware",
                    (
                        image.guest_addr,
                        image.len("firmware")?.div_ceil(page) * page,
                    ),
                )?),
                None => None,
            },
            bootContext: self.boot_context(dtb.0, limits),
            vcpuCount: self.vcpus,
            qtvmAuth: match self.auth {
                Auth::QcomTrustedVm {
                    vm_id,
                    pas_id,
                    image,
                } => Some(QtvmAuth {
                    vmId: vm_id,
                    pasId: pas_id,
                    image: range("qtvm.image", image)?,
                }),
                _ => None,
            },
        };
        check(&config, limits)?;
        Ok(config)
    }

    /// Every image inside one region, no two overlapping, none over the DTB.
    fn check_placements(&self, placed: &[(String, &Image, u64)], dtb: (u64, u64)) -> Result<()> {
        for (key, image, len) in placed {
            if !self
                .regions
                .iter()
                .any(|r| r.contains(image.guest_addr, *len))
            {
                return Err(Error::invalid(
                    key.as_str(),
                    format!(
                        "[{:#x}, {:#x}) does not fit in one memory region",
                        image.guest_addr,
                        image.guest_addr.saturating_add(*len)
                    ),
                ));
            }
        }
        let mut spans: Vec<(&str, u64, u64)> = placed
            .iter()
            .map(|(key, image, len)| (key.as_str(), image.guest_addr, *len))
            .collect();
        if !matches!(self.dtb, Dtb::Image(_)) {
            spans.push(("dtb", dtb.0, dtb.1));
        }
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                if a.1 < b.1.saturating_add(b.2) && b.1 < a.1.saturating_add(a.2) {
                    return Err(Error::invalid(
                        b.0,
                        format!("overlaps {} at [{:#x}, {:#x})", a.0, a.1, a.1 + a.2),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A memfd for region `index` with its images copied in, sealed.
    fn region_memory(
        &self,
        index: usize,
        r: &Region,
        placed: &[(String, &Image, u64)],
        loading: &mut Loading<'_>,
    ) -> Result<File> {
        let what = |e| Error::io(format!("memory[{index}]: guest memory"), e);
        let memory =
            memfd::create(&format!("gunyah-{}-{index}", self.name), r.size).map_err(what)?;
        for (key, image, len) in placed {
            if r.contains(image.guest_addr, *len) {
                image.copy_into(key, &memory, image.guest_addr - r.guest_phys_addr, loading)?;
            }
        }
        memfd::seal_size(&memory).map_err(what)?;
        Ok(memory)
    }

    /// The boot registers given, plus PC at the entry image and X0 at the DTB where the driver
    /// applies them (an unauthenticated VM on a driver with `SET_BOOT_CONTEXT`; elsewhere the
    /// guest starts at the base of the DTB's region, or where its firmware says).
    fn boot_context(&self, dtb_addr: u64, limits: &Limits) -> Vec<BootRegister> {
        let mut boot = self.boot.clone();
        let applied = limits.boot_registers && self.auth == Auth::Unauthenticated;
        let entry = self
            .images
            .iter()
            .filter(|_| applied)
            .find(|(key, _)| key == "kernel" || key == "program");
        if let Some((_, image)) = entry {
            if !self.has_boot(BootRegisterSet::PC, 0) {
                boot.push((BootRegisterSet::PC, 0, image.guest_addr));
            }
            if !self.has_boot(BootRegisterSet::X, 0) {
                boot.push((BootRegisterSet::X, 0, dtb_addr));
            }
        }
        boot.into_iter()
            .map(|(set, index, value)| BootRegister {
                set,
                index,
                value: value as i64,
            })
            .collect()
    }
}

fn as_i64(key: &str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::invalid(key, format!("{value:#x} is too large")))
}

fn range(key: &str, (addr, size): (u64, u64)) -> Result<GuestRange> {
    Ok(GuestRange {
        guestPhysAddr: as_i64(key, addr)?,
        size: as_i64(key, size)?,
    })
}

/// The service's checks, here: the config rules, then each memfd.
fn check(config: &VmConfig, limits: &Limits) -> Result<()> {
    config::accept(config, limits)
        .map(drop)
        .map_err(|e| Error::checked_locally("createVm", e))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileExt;

    use super::*;

    const RAM: u64 = 0x8000_0000;
    const MIB: u64 = 1 << 20;

    fn build(b: &VmBuilder) -> Result<VmConfig> {
        b.build(&Limits::default(), &mut |_| {})
    }

    fn read(config: &VmConfig, region: usize, offset: u64, len: usize) -> Vec<u8> {
        let fd = binder::pfd_as_fd(config.memoryRegions[region].memory.as_ref().expect("fd"));
        let file = File::from(fd.try_clone_to_owned().expect("dup"));
        let mut buf = vec![0; len];
        file.read_exact_at(&mut buf, offset).expect("read");
        buf
    }

    #[test]
    fn test_images_land_at_their_addresses_and_set_the_entry() -> Result<()> {
        let b = VmBuilder::new("t")
            .vcpus(2)
            .memory(RAM, 4 * MIB)
            .kernel(Image::bytes(b"KERNEL".to_vec(), RAM + 0x1000))
            .dtb(Image::bytes(b"DTB".to_vec(), RAM + 2 * MIB));
        let config = build(&b)?;
        assert_eq!(read(&config, 0, 0x1000, 6), b"KERNEL");
        assert_eq!(read(&config, 0, 2 * MIB, 3), b"DTB");
        assert_eq!(config.dtb.guestPhysAddr, (RAM + 2 * MIB) as i64);
        assert_eq!(config.dtb.size, 4096, "rounded up to the page");
        let boot: Vec<_> = config
            .bootContext
            .iter()
            .map(|r| (r.set, r.index, r.value))
            .collect();
        assert_eq!(
            boot,
            [
                (BootRegisterSet::PC, 0, (RAM + 0x1000) as i64),
                (BootRegisterSet::X, 0, (RAM + 2 * MIB) as i64)
            ]
        );
        assert_eq!(config.vcpuCount, 2);
        Ok(())
    }

    #[test]
    fn test_explicit_boot_registers_win() -> Result<()> {
        let b = VmBuilder::new("t")
            .memory(RAM, MIB)
            .kernel(Image::bytes(vec![1], RAM))
            .boot_register(BootRegisterSet::PC, 0, RAM + 0x40)
            .boot_register(BootRegisterSet::PC, 0, RAM + 0x80);
        let config = build(&b)?;
        let pcs: Vec<_> = config
            .bootContext
            .iter()
            .filter(|r| r.set == BootRegisterSet::PC)
            .map(|r| r.value)
            .collect();
        assert_eq!(pcs, [(RAM + 0x80) as i64]);
        Ok(())
    }

    #[test]
    fn test_placement_errors_name_the_image() {
        let outside = VmBuilder::new("t")
            .memory(RAM, MIB)
            .kernel(Image::bytes(vec![0; 16], RAM + MIB - 8));
        let e = build(&outside).unwrap_err().to_string();
        assert!(
            e.starts_with("kernel: [0x800ffff8, 0x80100008) does not fit"),
            "{e}"
        );

        let overlap = VmBuilder::new("t")
            .memory(RAM, MIB)
            .kernel(Image::bytes(vec![0; 4096], RAM))
            .image(Image::bytes(vec![0; 16], RAM + 100));
        let e = build(&overlap).unwrap_err().to_string();
        assert_eq!(e, "images[0]: overlaps kernel at [0x80000000, 0x80001000)");

        let on_dtb = VmBuilder::new("t")
            .memory(RAM, MIB)
            .image(Image::bytes(vec![0; 16], RAM + MIB - 16));
        let e = build(&on_dtb).unwrap_err().to_string();
        assert!(e.starts_with("dtb: overlaps images[0]"), "{e}");

        let none = VmBuilder::new("t");
        assert_eq!(
            build(&none).unwrap_err().to_string(),
            "memory: the VM has no memory"
        );

        let missing = VmBuilder::new("t")
            .memory(RAM, MIB)
            .kernel(Image::file("/nonexistent/Image", RAM));
        let e = build(&missing).unwrap_err().to_string();
        assert!(
            e.starts_with("kernel (/nonexistent/Image): No such file"),
            "{e}"
        );
    }

    #[test]
    fn test_service_rules_apply_before_the_call() {
        let b = VmBuilder::new("t").vcpus(99).memory(RAM, MIB);
        let e = build(&b).unwrap_err();
        assert_eq!(
            e.to_string(),
            "createVm: INVALID_ARGUMENT: vcpuCount: 99 is out of range (1..=8)"
        );
        let b = VmBuilder::new("t").memory(RAM, MIB + 1);
        let e = build(&b).unwrap_err().to_string();
        assert!(
            e.contains("memoryRegions[0].size: not a multiple of the page size"),
            "{e}"
        );
        let b = VmBuilder::new("t").auth(Auth::AndroidPvm).memory(RAM, MIB);
        let e = build(&b).unwrap_err().to_string();
        assert!(e.contains("firmware"), "{e}");
    }

    #[test]
    fn test_program_is_assembled_at_its_address() -> Result<()> {
        let b = VmBuilder::new("t")
            .memory(RAM, MIB)
            .program("exit PSCI_POWER_OFF\n", RAM)?;
        let config = build(&b)?;
        assert_eq!(
            &read(&config, 0, 0, 4),
            &assemble("exit PSCI_POWER_OFF\n", RAM).unwrap()[..4]
        );
        let e = VmBuilder::new("t").program("bogus\n", RAM).unwrap_err();
        assert!(e.to_string().starts_with("program: line 1"), "{e}");
        Ok(())
    }
}
