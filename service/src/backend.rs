//! Which driver the service runs on: `/dev/gunyah` (real, or the gunyah_mock.ko kernel mock) or
//! the userspace mock, chosen once at start-up from what the entry point was told (the host
//! binary's `--backend` and `--mock-*` flags, the AOSP binary's `ro.vendor.gunyah.*`
//! properties). Both entry points call [`open`]; neither builds a driver itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;

use gunyah_hypervisor::gunyah::{GunyahHypervisor, OpenError};
use gunyah_hypervisor::{BackendKind, Generation, Hypervisor};
use gunyah_mock::MockHypervisor;

/// Which driver to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// The device when it exists, else the userspace mock (a host developer's default; never
    /// on Android, where a missing driver must fail loudly).
    DeviceIfPresent,
    /// The device; failing to open it is an error, never a fall-back.
    Device,
    /// The userspace mock.
    Mock,
}

/// How the userspace mock is built. Each field left at its default keeps the mock's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockOptions {
    /// The driver generation to model.
    pub generation: Generation,
    /// The pinned-memory budget across all VMs (RLIMIT_MEMLOCK of the real driver).
    pub memlock_limit: Option<u64>,
    /// The page size of the modelled kernel (`MockHypervisor::with_page_size`).
    pub page_size: Option<u64>,
    /// Ioctls to fail, by name, with the errno each fails with.
    pub faults: Vec<(String, Errno)>,
    /// Model a driver without the Android additions.
    pub without_android_ext: bool,
    /// How long the modelled hypervisor takes to reset a VM after its last fd is closed.
    pub reset_delay: Option<Duration>,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            generation: gunyah_mock::DEFAULT_GENERATION,
            memlock_limit: None,
            page_size: None,
            faults: Vec::new(),
            without_android_ext: false,
            reset_delay: None,
        }
    }
}

/// Everything [`open`] needs.
#[derive(Debug, Clone)]
pub struct BackendRequest {
    /// Which driver.
    pub choice: BackendChoice,
    /// Where the device is.
    pub device: PathBuf,
    /// How to build the mock; must be the default unless the mock is used.
    pub mock: MockOptions,
}

/// The driver could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The device could not be opened or identified.
    #[error("{device}: {source}")]
    Device {
        /// The device path.
        device: PathBuf,
        /// Why.
        #[source]
        source: OpenError,
    },
    /// Mock options were given, but the device is used.
    #[error("mock options apply to the mock backend only, and {device} is used")]
    MockOptionsWithDevice {
        /// The device path.
        device: PathBuf,
    },
    /// A mock option was refused.
    #[error("mock: {0}")]
    Mock(String),
}

/// The driver the service runs on, and how its start-up line names it.
pub struct Backend {
    /// The driver.
    pub hypervisor: Arc<dyn Hypervisor>,
    /// E.g. "the ack66-late driver at /dev/gunyah (...)" or "the userspace mock driver, ...".
    pub description: String,
}

/// Opens the driver `request` asks for.
pub fn open(request: &BackendRequest) -> Result<Backend, BackendError> {
    let use_device = match request.choice {
        BackendChoice::Mock => false,
        BackendChoice::Device => true,
        BackendChoice::DeviceIfPresent => {
            let present = request.device.exists();
            log::debug!(
                "{} {}: using the {}",
                request.device.display(),
                if present { "exists" } else { "is absent" },
                if present { "device" } else { "userspace mock" }
            );
            present
        }
    };
    let hypervisor: Arc<dyn Hypervisor> = if use_device {
        if request.mock != MockOptions::default() {
            return Err(BackendError::MockOptionsWithDevice {
                device: request.device.clone(),
            });
        }
        Arc::new(open_device(&request.device)?)
    } else {
        Arc::new(build_mock(&request.mock)?)
    };
    let description = describe(hypervisor.as_ref(), &request.device);
    Ok(Backend {
        hypervisor,
        description,
    })
}

fn open_device(device: &Path) -> Result<GunyahHypervisor, BackendError> {
    GunyahHypervisor::open(device).map_err(|source| BackendError::Device {
        device: device.to_path_buf(),
        source,
    })
}

fn build_mock(options: &MockOptions) -> Result<MockHypervisor, BackendError> {
    let mut mock = MockHypervisor::with_memlock_limit(options.memlock_limit.unwrap_or(u64::MAX))
        .with_generation(options.generation)
        .map_err(BackendError::Mock)?;
    if let Some(size) = options.page_size {
        mock = mock.with_page_size(size).map_err(BackendError::Mock)?;
    }
    if options.without_android_ext {
        mock = mock.without_android_ext();
    }
    if let Some(delay) = options.reset_delay {
        mock = mock.with_reset_delay(delay);
    }
    for (ioctl, errno) in &options.faults {
        mock.inject_fault(ioctl, *errno)
            .map_err(BackendError::Mock)?;
        log::warn!("mock: every {ioctl} fails with {errno}");
    }
    Ok(mock)
}

/// How the start-up line names the driver: the userspace mock and the generation it models,
/// or the generation probed at `device`.
fn describe(hypervisor: &dyn Hypervisor, device: &Path) -> String {
    let caps = hypervisor.capabilities();
    match caps.backend {
        BackendKind::Mock => format!(
            "the userspace mock driver, modelling {} with {}-byte pages",
            caps.generation, caps.page_size
        ),
        BackendKind::Gunyah => format!(
            "the {} driver at {} ({})",
            caps.generation,
            device.display(),
            caps.generation.kernels()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock_request(mock: MockOptions) -> BackendRequest {
        BackendRequest {
            choice: BackendChoice::Mock,
            device: PathBuf::from("/nonexistent/gunyah"),
            mock,
        }
    }

    #[test]
    fn an_absent_device_falls_back_to_the_mock_only_when_asked_to() {
        let auto = BackendRequest {
            choice: BackendChoice::DeviceIfPresent,
            ..mock_request(MockOptions::default())
        };
        let backend = open(&auto).unwrap();
        assert_eq!(backend.hypervisor.capabilities().backend, BackendKind::Mock);
        let device = BackendRequest {
            choice: BackendChoice::Device,
            ..auto
        };
        let err = open(&device).err().unwrap();
        assert!(matches!(err, BackendError::Device { .. }), "{err}");
        assert!(
            err.to_string().starts_with("/nonexistent/gunyah: "),
            "{err}"
        );
    }

    #[test]
    fn mock_options_reach_the_mock_and_are_refused_with_the_device() {
        let options = MockOptions {
            generation: Generation::A14Late,
            page_size: Some(4 * gunyah_sys::mman::page_size()),
            ..MockOptions::default()
        };
        let backend = open(&mock_request(options.clone())).unwrap();
        let caps = backend.hypervisor.capabilities();
        assert_eq!(caps.generation, Generation::A14Late);
        assert_eq!(caps.page_size, 4 * gunyah_sys::mman::page_size());
        assert!(
            backend.description.contains("a14-late"),
            "{}",
            backend.description
        );
        let device = BackendRequest {
            choice: BackendChoice::Device,
            ..mock_request(options)
        };
        assert!(matches!(
            open(&device).err().unwrap(),
            BackendError::MockOptionsWithDevice { .. }
        ));
    }

    #[test]
    fn a_bad_mock_option_is_an_error_naming_it() {
        let bad_page = MockOptions {
            page_size: Some(3000),
            ..MockOptions::default()
        };
        let err = open(&mock_request(bad_page)).err().unwrap();
        assert!(err.to_string().contains("page size 3000"), "{err}");
        let bad_fault = MockOptions {
            faults: vec![("GH_NO_SUCH".to_string(), Errno::EIO)],
            ..MockOptions::default()
        };
        let err = open(&mock_request(bad_fault)).err().unwrap();
        assert!(err.to_string().contains("GH_NO_SUCH"), "{err}");
    }
}
