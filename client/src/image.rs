//! Images placed in guest memory — a kernel, a DTB, firmware, a payload — each a file or bytes
//! at a guest physical address, copied into its region's memfd before the memfd is sealed.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use gunyah_contract::size::parse_addr;

use crate::error::{Error, Result};

/// Where an image's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file, read when the VM is built.
    File(PathBuf),
    /// Bytes in memory (e.g. an assembled scripted-guest program).
    Bytes(Vec<u8>),
}

/// An image and where it goes in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The bytes.
    pub source: Source,
    /// The guest physical address of its first byte.
    pub guest_addr: u64,
}

impl Image {
    /// The file at `path`, placed at `guest_addr`.
    pub fn file(path: impl Into<PathBuf>, guest_addr: u64) -> Self {
        Self {
            source: Source::File(path.into()),
            guest_addr,
        }
    }

    /// `bytes`, placed at `guest_addr`.
    pub fn bytes(bytes: Vec<u8>, guest_addr: u64) -> Self {
        Self {
            source: Source::Bytes(bytes),
            guest_addr,
        }
    }

    /// Parses `FILE@ADDR`, e.g. `Image@0x80000000` (the last `@` separates the address).
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let (path, addr) = spec
            .rsplit_once('@')
            .ok_or_else(|| format!("{spec:?}: expected FILE@ADDR, e.g. Image@0x80000000"))?;
        if path.is_empty() {
            return Err(format!("{spec:?}: the file name is empty"));
        }
        Ok(Self::file(path, parse_addr(addr)?))
    }

    /// Its length in bytes; `key` names it in errors.
    pub(crate) fn len(&self, key: &str) -> Result<u64> {
        let len = match &self.source {
            Source::Bytes(bytes) => bytes.len() as u64,
            Source::File(path) => std::fs::metadata(path)
                .map_err(|e| Error::io(format!("{key} ({})", path.display()), e))?
                .len(),
        };
        if len == 0 {
            return Err(Error::invalid(key, "the image is empty"));
        }
        Ok(len)
    }

    /// Copies the image to `offset` of `memory`, reporting to `progress`.
    pub(crate) fn copy_into(
        &self,
        key: &str,
        memory: &File,
        offset: u64,
        progress: &mut Loading<'_>,
    ) -> Result<()> {
        match &self.source {
            Source::Bytes(bytes) => {
                memory
                    .write_all_at(bytes, offset)
                    .map_err(|e| Error::io(format!("{key}: writing guest memory"), e))?;
                progress.advance(key, bytes.len() as u64);
            }
            Source::File(path) => {
                let what = || format!("{key} ({})", path.display());
                let mut file = File::open(path).map_err(|e| Error::io(what(), e))?;
                let mut buf = vec![0u8; CHUNK];
                let mut at = offset;
                loop {
                    let n = file.read(&mut buf).map_err(|e| Error::io(what(), e))?;
                    if n == 0 {
                        break;
                    }
                    memory
                        .write_all_at(&buf[..n], at)
                        .map_err(|e| Error::io(format!("{}: writing guest memory", what()), e))?;
                    at += n as u64;
                    progress.advance(key, n as u64);
                }
            }
        }
        Ok(())
    }
}

/// Bytes copied per read: also the granularity of progress reports.
const CHUNK: usize = 4 << 20;

/// How far loading the images has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The image being loaded (`kernel`, `dtb`, …).
    pub image: String,
    /// Bytes of all images loaded so far.
    pub loaded: u64,
    /// Bytes of all images.
    pub total: u64,
}

/// Progress across all images of one build.
pub(crate) struct Loading<'a> {
    loaded: u64,
    total: u64,
    report: &'a mut dyn FnMut(Progress),
}

impl<'a> Loading<'a> {
    pub(crate) fn new(total: u64, report: &'a mut dyn FnMut(Progress)) -> Self {
        Self {
            loaded: 0,
            total,
            report,
        }
    }

    fn advance(&mut self, image: &str, bytes: u64) {
        self.loaded += bytes;
        (self.report)(Progress {
            image: image.to_string(),
            loaded: self.loaded,
            total: self.total,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_placement() {
        assert_eq!(
            Image::parse("out/Image@0x8000_0000"),
            Ok(Image::file("out/Image", 0x8000_0000))
        );
        assert_eq!(
            Image::parse("a@b@4096"),
            Ok(Image::file("a@b", 4096)),
            "the last @ separates"
        );
        assert!(Image::parse("Image").unwrap_err().contains("FILE@ADDR"));
        assert!(Image::parse("@0x1000").unwrap_err().contains("empty"));
        assert!(Image::parse("Image@zz")
            .unwrap_err()
            .contains("not an address"));
    }

    #[test]
    fn test_copy_reports_progress_per_chunk() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("gunyah-image-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("tmp", e))?;
        let path = dir.join("big.img");
        let data: Vec<u8> = (0..CHUNK * 2 + 7).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).map_err(|e| Error::io("tmp", e))?;
        let image = Image::file(&path, 0);
        let len = image.len("kernel")?;
        let memory =
            gunyah_sys::memfd::create("t", len + 4096).map_err(|e| Error::io("memfd", e))?;
        let mut reports = Vec::new();
        let mut record = |p: Progress| reports.push(p.loaded);
        image.copy_into("kernel", &memory, 4096, &mut Loading::new(len, &mut record))?;
        assert_eq!(reports, [CHUNK as u64, 2 * CHUNK as u64, len]);
        let mut back = vec![0u8; data.len()];
        memory
            .read_exact_at(&mut back, 4096)
            .map_err(|e| Error::io("read", e))?;
        assert_eq!(back, data);
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}
