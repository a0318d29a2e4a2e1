//! vendor.gunyahvm.hardware.gunyah-service: the AOSP entry point (built by Soong only). init starts it
//! (see vendor.gunyahvm.hardware.gunyah-service.rc); it registers `IGunyahVmManager/default` with the
//! service manager and serves on the binder thread pool.
//!
//! The driver comes from `ro.vendor.gunyah.backend`: `gunyah` (the default: `/dev/gunyah`, or
//! `ro.vendor.gunyah.device`) or `mock` (Cuttlefish and other devices without Gunyah; it models
//! the generation `ro.vendor.gunyah.mock_generation` names, default ack66-late). A
//! device whose driver cannot be opened fails loudly and is restarted by init: there is never a
//! silent fall-back to the mock.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use rustutils::system_properties;

use gunyah_binder::{self as binder, ServeOptions, Target};
use gunyah_contract::vm_config::Limits;
use gunyah_hypervisor::gunyah::DEFAULT_DEVICE;
use gunyah_hypervisor::Generation;
use gunyah_vm::access::AccessPolicy;
use gunyah_vm::backend::{self, BackendChoice, BackendRequest, MockOptions};
use gunyah_vm::manager::ManagerConfig;
use gunyah_vm::quota::QuotaLimits;
use gunyah_vm::serve;
use gunyah_vm::vm::reaper;

const LOG_TAG: &str = "vendor.gunyahvm.hardware.gunyah-service";
const BACKEND_PROPERTY: &str = "ro.vendor.gunyah.backend";
const DEVICE_PROPERTY: &str = "ro.vendor.gunyah.device";
const MOCK_GENERATION_PROPERTY: &str = "ro.vendor.gunyah.mock_generation";

/// What the `ro.vendor.gunyah.*` properties ask for.
fn backend_request() -> Result<BackendRequest> {
    let backend = system_properties::read(BACKEND_PROPERTY)
        .context(BACKEND_PROPERTY)?
        .unwrap_or_else(|| "gunyah".to_string());
    let device = system_properties::read(DEVICE_PROPERTY)
        .context(DEVICE_PROPERTY)?
        .unwrap_or_else(|| DEFAULT_DEVICE.to_string());
    let (choice, mock) = match backend.as_str() {
        "gunyah" => (BackendChoice::Device, MockOptions::default()),
        "mock" => {
            log::warn!("{BACKEND_PROPERTY}=mock: serving the userspace mock driver, not Gunyah");
            let generation = match system_properties::read(MOCK_GENERATION_PROPERTY)
                .context(MOCK_GENERATION_PROPERTY)?
            {
                None => MockOptions::default().generation,
                Some(name) => Generation::from_name(&name).ok_or_else(|| {
                    anyhow!("{MOCK_GENERATION_PROPERTY}={name:?}: not a driver generation")
                })?,
            };
            let options = MockOptions {
                generation,
                ..MockOptions::default()
            };
            (BackendChoice::Mock, options)
        }
        other => bail!("{BACKEND_PROPERTY}={other:?}: expected \"gunyah\" or \"mock\""),
    };
    Ok(BackendRequest {
        choice,
        device: PathBuf::from(device),
        mock,
    })
}

fn inner_main() -> Result<()> {
    let backend = backend::open(&backend_request()?)?;
    let config = ManagerConfig {
        hypervisor: backend.hypervisor,
        policy: AccessPolicy::selinux_only(),
        limits: Limits::default(),
        quotas: QuotaLimits::default(),
        max_releasing_vms: reaper::DEFAULT_MAX_PENDING,
    };
    let options = ServeOptions {
        max_threads: 16,
        max_connections: gunyah_binder::DEFAULT_MAX_CONNECTIONS,
    };
    let _service = serve::start(
        config,
        &Target::ServiceManager,
        &options,
        &backend.description,
    )?;
    binder::join_thread_pool();
    bail!("the binder thread pool ended")
}

/// Sends the service's trace spans (docs/TRACING.md) to atrace under the HAL tag, so that a
/// Perfetto system trace with the `hal` atrace category shows them beside system_server's
/// binder transactions. `with_filter`: while the tag is off, the layer's `enabled` says so and
/// no span is built.
fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    let layer =
        atrace_tracing_subscriber::AtraceSubscriber::new(atrace::AtraceTag::Hal).with_filter();
    if let Err(e) =
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
    {
        log::warn!("no atrace spans: {e}");
    }
}

fn main() {
    init_tracing();
    android_logger::init_once(
        android_logger::Config::default()
            .with_tag(LOG_TAG)
            .with_max_level(log::LevelFilter::Info),
    );
    std::panic::set_hook(Box::new(|info| log::error!("panic: {info}")));
    if let Err(e) = inner_main() {
        log::error!("{e:?}");
        std::process::exit(1);
    }
}
