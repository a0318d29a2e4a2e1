//! VM config files (TOML, or the same keys as JSON; the format is documented in
//! docs/VM_CONFIG.md, with examples in examples/configs/). Parsed into a [`VmFileSpec`], which
//! `gunyahctl run` flags may override, and turned into a [`VmBuilder`]. Every error names the
//! key (or file position) at fault.
//!
//! TOML needs the `toml` feature (on by default). An AOSP tree offers the toml crate to host
//! modules only, so the device build reads JSON files (`*.json`) alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::demo::DEMO_RAM_BASE;
use gunyah_binder::aidl::{
    BootRegisterSet::BootRegisterSet, MemoryRegion as region, MemoryShareType::MemoryShareType,
};
use gunyah_contract::size::{parse_addr, parse_size};

use crate::builder::{Auth, Region, VmBuilder};
use crate::error::{Error, Result};
use crate::image::Image;

/// Guest RAM when a spec gives none: 2 MiB at 0x80000000.
pub const DEFAULT_MEMORY: u64 = 2 << 20;

/// The guest when a spec gives neither a kernel nor a program: a scripted guest that idles
/// until it is stopped (the mock drivers run it).
pub const IDLE_PROGRAM: &str = crate::demo::IDLE_PROGRAM;

/// A number written as a TOML integer or a string (`"0x8000_0000"`, `"256M"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Number {
    /// `4096`, `0x8000_0000`.
    Int(u64),
    /// `"256M"`, `"0x8000_0000"`.
    Text(String),
}

impl Number {
    fn addr(&self, key: &str) -> Result<u64> {
        match self {
            Number::Int(v) => Ok(*v),
            Number::Text(s) => parse_addr(s).map_err(|e| Error::invalid(key, e)),
        }
    }

    fn size(&self, key: &str) -> Result<u64> {
        match self {
            Number::Int(v) => Ok(*v),
            Number::Text(s) => parse_size(s).map_err(|e| Error::invalid(key, e)),
        }
    }
}

/// `[[memory]]`: one region.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySpec {
    /// Guest physical address.
    pub base: Number,
    /// Bytes, e.g. `"256M"`.
    pub size: Number,
    /// `"r"`, `"rw"`, `"rx"` or `"rwx"` (default).
    pub access: Option<String>,
    /// `"share"` (default) or `"lend"`.
    pub share: Option<String>,
    /// Driver label (default: the region's index).
    pub label: Option<i32>,
}

/// `kernel`, `dtb`, `firmware`, `program`, `[[images]]`: a file at a guest address.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// The file, relative to the config file.
    pub path: PathBuf,
    /// Where its first byte goes (for `program`: default the first region's base).
    pub addr: Option<Number>,
}

/// `[qtvm]`: the data of a Qualcomm trusted VM.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QtvmSpec {
    /// `QtvmAuth.vmId`.
    pub vm_id: i32,
    /// `QtvmAuth.pasId`.
    pub pas_id: i32,
    /// The signed image's guest address.
    pub image_addr: Number,
    /// Its size.
    pub image_size: Number,
}

/// A VM as a config file (or gunyahctl's flags) describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmFileSpec {
    /// VM name (default `demo`).
    pub name: Option<String>,
    /// vCPUs (default 1).
    pub cpus: Option<i32>,
    /// `"unauthenticated"` (default), `"android-pvm"` or `"qcom-trusted-vm"`.
    pub auth: Option<String>,
    /// Memory regions (default: [`DEFAULT_MEMORY`] at 0x80000000).
    #[serde(default)]
    pub memory: Vec<MemorySpec>,
    /// The kernel: entry point and `x0` = DTB address unless `boot` says otherwise.
    pub kernel: Option<ImageSpec>,
    /// A scripted-guest program (docs/GUEST_ISA.md) instead of a kernel.
    pub program: Option<ImageSpec>,
    /// The device tree blob (default: an empty page at the end of the first region).
    pub dtb: Option<ImageSpec>,
    /// Firmware (`android-pvm` needs it).
    pub firmware: Option<ImageSpec>,
    /// Other images (initrd, payloads).
    #[serde(default)]
    pub images: Vec<ImageSpec>,
    /// Boot registers: `pc`, `sp`, `x0` … `x30`.
    #[serde(default)]
    pub boot: BTreeMap<String, Number>,
    /// `gunyahctl run`: serve a console (UART transmit register) at this address.
    pub console: Option<Number>,
    /// `[qtvm]`, for `auth = "qcom-trusted-vm"`.
    pub qtvm: Option<QtvmSpec>,
}

impl VmFileSpec {
    /// Reads a config file: JSON when its name ends in `.json`, TOML otherwise. Relative image
    /// paths are taken relative to its directory.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("config {}", path.display()), e))?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            Self::parse_json(&text)
        } else {
            Self::parse(&text)
        };
        let mut spec = parsed
            .map_err(|(at, reason)| Error::invalid(format!("{}{at}", path.display()), reason))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        spec.for_each_image(|image| {
            if image.path.is_relative() {
                image.path = dir.join(&image.path);
            }
        });
        Ok(spec)
    }

    /// Parses JSON text with the keys of the TOML format; errors are (`:line:column`, message).
    pub fn parse_json(text: &str) -> std::result::Result<Self, (String, String)> {
        serde_json::from_str(text).map_err(|e| {
            let message = e.to_string();
            // serde_json appends " at line L column C"; the position goes in front instead.
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            (format!(":{}:{}", e.line(), e.column()), message.to_string())
        })
    }

    /// Parses TOML text; errors are (`:line:column`, message). Without the `toml` feature (the
    /// AOSP device build) every text is refused with a pointer to JSON.
    #[cfg(not(feature = "toml"))]
    pub fn parse(_text: &str) -> std::result::Result<Self, (String, String)> {
        Err((
            String::new(),
            "TOML config files need the host build (AOSP builds the toml crate for host \
             modules only): write the same keys as JSON, in a file named *.json"
                .to_string(),
        ))
    }

    /// Parses TOML text; errors are (`:line:column`, message).
    #[cfg(feature = "toml")]
    pub fn parse(text: &str) -> std::result::Result<Self, (String, String)> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let at = e.span().map_or(String::new(), |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{column}")
            });
            (at, e.message().trim().replace('\n', " "))
        })
    }

    fn for_each_image(&mut self, mut f: impl FnMut(&mut ImageSpec)) {
        let singles = [
            &mut self.kernel,
            &mut self.program,
            &mut self.dtb,
            &mut self.firmware,
        ];
        singles.into_iter().flatten().for_each(&mut f);
        self.images.iter_mut().for_each(f);
    }

    /// `other`'s settings replace this spec's (flags over a file). Lists are replaced when
    /// `other` has any; boot registers merge.
    pub fn overlay(&mut self, other: VmFileSpec) {
        macro_rules! take {
            ($($field:ident),*) => {$(
                if other.$field.is_some() {
                    self.$field = other.$field;
                }
            )*};
        }
        take!(name, cpus, auth, kernel, program, dtb, firmware, console, qtvm);
        if !other.memory.is_empty() {
            self.memory = other.memory;
        }
        if !other.images.is_empty() {
            self.images = other.images;
        }
        self.boot.extend(other.boot);
    }

    /// The console address, if any.
    pub fn console_addr(&self) -> Result<Option<u64>> {
        self.console.as_ref().map(|c| c.addr("console")).transpose()
    }

    /// The builder for this spec.
    pub fn to_builder(&self) -> Result<VmBuilder> {
        let mut b = VmBuilder::new(self.name.as_deref().unwrap_or("demo"))
            .vcpus(self.cpus.unwrap_or(1))
            .auth(self.auth()?);
        if self.memory.is_empty() {
            b = b.memory(DEMO_RAM_BASE as u64, DEFAULT_MEMORY);
        }
        for (i, m) in self.memory.iter().enumerate() {
            b = b.region(memory(i, m)?);
        }
        let first_base = match self.memory.first() {
            Some(m) => m.base.addr("memory[0].base")?,
            None => DEMO_RAM_BASE as u64,
        };
        if self.kernel.is_some() && self.program.is_some() {
            return Err(Error::invalid(
                "program",
                "give a kernel or a program, not both",
            ));
        }
        if let Some(k) = &self.kernel {
            b = b.kernel(placed("kernel", k)?);
        }
        match &self.program {
            Some(p) => {
                let source = std::fs::read_to_string(&p.path)
                    .map_err(|e| Error::io(format!("program ({})", p.path.display()), e))?;
                let addr = match &p.addr {
                    Some(a) => a.addr("program.addr")?,
                    None => first_base,
                };
                b = b.program(&source, addr)?;
            }
            None if self.kernel.is_none() => b = b.program(IDLE_PROGRAM, first_base)?,
            None => {}
        }
        if let Some(d) = &self.dtb {
            b = b.dtb(placed("dtb", d)?);
        }
        if let Some(f) = &self.firmware {
            b = b.firmware(placed("firmware", f)?);
        }
        for (i, image) in self.images.iter().enumerate() {
            b = b.image(placed(&format!("images[{i}]"), image)?);
        }
        for (name, value) in &self.boot {
            let key = format!("boot.{name}");
            let (set, index) = boot_register(name)
                .ok_or_else(|| Error::invalid(&key, "unknown register (pc, sp, x0 … x30)"))?;
            b = b.boot_register(set, index, value.addr(&key)?);
        }
        Ok(b)
    }

    fn auth(&self) -> Result<Auth> {
        let auth = match self.auth.as_deref().unwrap_or("unauthenticated") {
            "unauthenticated" => Auth::Unauthenticated,
            "android-pvm" => Auth::AndroidPvm,
            "qcom-trusted-vm" => {
                let q = self.qtvm.as_ref().ok_or_else(|| {
                    Error::invalid("qtvm", "auth = \"qcom-trusted-vm\" needs a [qtvm] table")
                })?;
                Auth::QcomTrustedVm {
                    vm_id: q.vm_id,
                    pas_id: q.pas_id,
                    image: (
                        q.image_addr.addr("qtvm.image_addr")?,
                        q.image_size.size("qtvm.image_size")?,
                    ),
                }
            }
            other => {
                return Err(Error::invalid(
                    "auth",
                    format!(
                        "unknown VM kind {other:?} (unauthenticated, android-pvm, qcom-trusted-vm)"
                    ),
                ))
            }
        };
        if self.qtvm.is_some() && !matches!(auth, Auth::QcomTrustedVm { .. }) {
            return Err(Error::invalid(
                "qtvm",
                "only for auth = \"qcom-trusted-vm\"",
            ));
        }
        Ok(auth)
    }
}

/// `pc`, `sp`, `x0` … `x30`.
pub fn boot_register(name: &str) -> Option<(BootRegisterSet, i32)> {
    match name {
        "pc" => Some((BootRegisterSet::PC, 0)),
        "sp" => Some((BootRegisterSet::SP, 0)),
        _ => name
            .strip_prefix('x')
            .and_then(|n| n.parse::<i32>().ok())
            .filter(|n| (0..=30).contains(n) && !name[1..].starts_with('+'))
            .map(|n| (BootRegisterSet::X, n)),
    }
}

fn memory(i: usize, m: &MemorySpec) -> Result<Region> {
    let key = |k: &str| format!("memory[{i}].{k}");
    let access = match m.access.as_deref().unwrap_or("rwx") {
        "r" => region::ACCESS_READ,
        "rw" => region::ACCESS_READ | region::ACCESS_WRITE,
        "rx" => region::ACCESS_READ | region::ACCESS_EXEC,
        "rwx" => region::ACCESS_READ | region::ACCESS_WRITE | region::ACCESS_EXEC,
        other => {
            return Err(Error::invalid(
                key("access"),
                format!("{other:?} is not one of r, rw, rx, rwx"),
            ))
        }
    };
    let share = match m.share.as_deref().unwrap_or("share") {
        "share" => MemoryShareType::SHARE,
        "lend" => MemoryShareType::LEND,
        other => {
            return Err(Error::invalid(
                key("share"),
                format!("{other:?} is not share or lend"),
            ))
        }
    };
    Ok(Region {
        label: m.label,
        guest_phys_addr: m.base.addr(&key("base"))?,
        size: m.size.size(&key("size"))?,
        access,
        share,
    })
}

fn placed(key: &str, spec: &ImageSpec) -> Result<Image> {
    let addr = spec
        .addr
        .as_ref()
        .ok_or_else(|| Error::invalid(format!("{key}.addr"), "missing: where the image goes"))?;
    Ok(Image::file(&spec.path, addr.addr(&format!("{key}.addr"))?))
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;

    fn spec(text: &str) -> VmFileSpec {
        VmFileSpec::parse(text).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn test_parse_full_file() {
        let s = spec(
            r#"
            name = "guest"
            cpus = 2
            auth = "unauthenticated"
            console = 0x9000_0000
            [[memory]]
            base = 0x8000_0000
            size = "256M"
            [[memory]]
            base = "0x1_0000_0000"
            size = 4096
            access = "r"
            share = "lend"
            label = 7
            [kernel]
            path = "Image"
            addr = 0x8000_0000
            [boot]
            x1 = 5
            "#,
        );
        assert_eq!(s.name.as_deref(), Some("guest"));
        assert_eq!(s.memory.len(), 2);
        assert_eq!(s.console_addr().unwrap(), Some(0x9000_0000));
        let r = memory(1, &s.memory[1]).unwrap();
        assert_eq!(
            r,
            Region {
                label: Some(7),
                guest_phys_addr: 0x1_0000_0000,
                size: 4096,
                access: region::ACCESS_READ,
                share: MemoryShareType::LEND
            }
        );
        assert_eq!(memory(0, &s.memory[0]).unwrap().size, 256 << 20);
    }

    #[test]
    fn test_errors_name_the_key_or_position() {
        let (at, msg) = VmFileSpec::parse("name = \"a\"\ncpu = 2\n").unwrap_err();
        assert_eq!(at, ":2:1");
        assert!(msg.starts_with("unknown field `cpu`"), "{msg}");
        let (at, msg) = VmFileSpec::parse("cpus = \"two\"\n").unwrap_err();
        assert_eq!(at, ":1:8");
        assert!(msg.contains("invalid type"), "{msg}");

        let bad = |text: &str| spec(text).to_builder().unwrap_err().to_string();
        assert_eq!(
            bad("[[memory]]\nbase = 0\nsize = \"2X\"\n"),
            "memory[0].size: unknown size suffix 'X' in \"2X\" (use K, M, G or T)"
        );
        assert!(bad("auth = \"pvm\"\n").starts_with("auth: unknown VM kind \"pvm\""));
        assert_eq!(
            bad("[boot]\nx31 = 1\n"),
            "boot.x31: unknown register (pc, sp, x0 … x30)"
        );
        assert_eq!(
            bad("[kernel]\npath = \"I\"\n"),
            "kernel.addr: missing: where the image goes"
        );
        assert!(bad("[[memory]]\nbase = 0\nsize = 4096\naccess = \"w\"\n")
            .starts_with("memory[0].access: \"w\""));
        assert!(bad("auth = \"qcom-trusted-vm\"\n").starts_with("qtvm: "));
    }

    #[test]
    fn test_flags_override_the_file() {
        let mut file = spec("name = \"a\"\ncpus = 2\n[boot]\nx1 = 1\n");
        let flags = VmFileSpec {
            cpus: Some(4),
            boot: [("x2".to_string(), Number::Int(2))].into(),
            ..Default::default()
        };
        file.overlay(flags);
        assert_eq!(file.name.as_deref(), Some("a"));
        assert_eq!(file.cpus, Some(4));
        assert_eq!(file.boot.len(), 2);
    }

    #[test]
    fn test_boot_register_names() {
        assert_eq!(boot_register("pc"), Some((BootRegisterSet::PC, 0)));
        assert_eq!(boot_register("x30"), Some((BootRegisterSet::X, 30)));
        assert_eq!(boot_register("x31"), None);
        assert_eq!(boot_register("x+1"), None);
        assert_eq!(boot_register("y"), None);
    }

    #[test]
    fn test_load_resolves_paths_relative_to_the_file() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("gunyah-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("tmp", e))?;
        let file = dir.join("vm.toml");
        std::fs::write(&file, "[program]\npath = \"hello.s\"\n")
            .map_err(|e| Error::io("tmp", e))?;
        let s = VmFileSpec::load(&file)?;
        assert_eq!(s.program.unwrap().path, dir.join("hello.s"));
        std::fs::write(&file, "cpus = [").map_err(|e| Error::io("tmp", e))?;
        let e = VmFileSpec::load(&file).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:1:", file.display())), "{e}");
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}

/// The JSON form, which every build reads (the device build has no TOML).
#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn test_parse_json_has_the_toml_keys() {
        let s = VmFileSpec::parse_json(
            r#"{"name": "guest", "cpus": 2, "console": "0x9000_0000",
                "memory": [{"base": 2147483648, "size": "256M", "share": "lend"}],
                "kernel": {"path": "Image", "addr": "0x8000_0000"}, "boot": {"x1": 5}}"#,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(s.name.as_deref(), Some("guest"));
        assert_eq!(s.cpus, Some(2));
        assert_eq!(s.console_addr().unwrap(), Some(0x9000_0000));
        assert_eq!(memory(0, &s.memory[0]).unwrap().size, 256 << 20);
        assert_eq!(
            memory(0, &s.memory[0]).unwrap().share,
            MemoryShareType::LEND
        );
        assert_eq!(s.boot.len(), 1);
    }

    #[test]
    fn test_json_errors_name_the_position() {
        let (at, msg) = VmFileSpec::parse_json("{\"name\": \"a\",\n \"cpu\": 2}").unwrap_err();
        assert_eq!(at, ":2:6");
        assert!(msg.starts_with("unknown field `cpu`"), "{msg}");
        assert!(!msg.contains(" at line "), "{msg}");
    }

    #[test]
    fn test_load_picks_the_format_by_extension() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("gunyah-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("tmp", e))?;
        let file = dir.join("vm.json");
        std::fs::write(&file, r#"{"program": {"path": "hello.s"}}"#)
            .map_err(|e| Error::io("tmp", e))?;
        let s = VmFileSpec::load(&file)?;
        assert_eq!(s.program.unwrap().path, dir.join("hello.s"));
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}
