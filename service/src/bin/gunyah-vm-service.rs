//! gunyah-vm-service (host build): serves `vendor.gunyahvm.hardware.gunyah.IGunyahVmManager/default`
//! over RPC binder on a Unix socket, with the userspace mock driver where `/dev/gunyah` is
//! absent. On Android the service is started by init from the AOSP build instead.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};

use gunyah_binder::host::{diagnostics, socket};
use gunyah_binder::{ServeOptions, Target};
use gunyah_contract::size::parse_size;
use gunyah_contract::vm_config::Limits;
use gunyah_hypervisor::gunyah::DEFAULT_DEVICE;
use gunyah_hypervisor::Generation;
use gunyah_vm::access::AccessPolicy;
use gunyah_vm::backend::{self, BackendChoice, BackendRequest, MockOptions};
use gunyah_vm::manager::ManagerConfig;
use gunyah_vm::quota::QuotaLimits;
use gunyah_vm::serve;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    /// /dev/gunyah when it exists, else the userspace mock.
    Auto,
    /// The userspace mock driver.
    Mock,
    /// The /dev/gunyah driver (real, or the gunyah_mock.ko kernel mock).
    Gunyah,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BinderChoice {
    /// RPC binder on the Unix socket (--socket).
    Socket,
    /// Kernel binder, registered with the service manager (rsb_hub on a Linux host).
    Kernel,
}

/// The Gunyah VM service: creates VMs on request and owns them for its clients.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Unix socket to serve on [default: $XDG_RUNTIME_DIR/gunyah-vm.sock, else
    /// /run/gunyah-vm.sock for root, else /tmp/gunyah-vm-$UID.sock].
    #[arg(long, env = socket::SOCKET_ENV)]
    socket: Option<PathBuf>,
    /// Permission bits of the socket, in octal.
    #[arg(long, default_value = "0660", value_parser = parse_mode)]
    socket_mode: u32,
    /// Which binder to serve on.
    #[arg(long, value_enum, default_value_t = BinderChoice::Socket)]
    binder: BinderChoice,
    /// Which driver to use.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    backend: BackendArg,
    /// Path of the Gunyah device for the gunyah backend.
    #[arg(long, default_value = DEFAULT_DEVICE)]
    device: PathBuf,
    /// A uid allowed to use the service; repeatable. Replaces the default set {the service's
    /// uid, root}.
    #[arg(long = "allow-uid", value_name = "UID")]
    allow_uids: Vec<u32>,
    /// Live VMs per client uid.
    #[arg(long, default_value_t = QuotaLimits::default().max_vms)]
    max_vms_per_client: u32,
    /// vCPUs per client uid, across its VMs.
    #[arg(long, default_value_t = QuotaLimits::default().max_vcpus)]
    max_vcpus_per_client: u32,
    /// Guest memory per client uid, across its VMs (K/M/G suffixes).
    #[arg(long, default_value = "4G", value_parser = parse_size)]
    max_memory_per_client: u64,
    /// vCPUs per VM.
    #[arg(long, default_value_t = Limits::default().max_vcpus_per_vm)]
    max_vcpus_per_vm: u32,
    /// Memory regions per VM (at most 60: one RPC message carries at most 64 fds).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=60))]
    max_memory_regions: u16,
    /// Destroyed VMs whose driver objects may be in release at once (a later driver's last
    /// close waits for the hypervisor's reset); createVm is refused beyond that.
    #[arg(long, default_value_t = gunyah_vm::vm::reaper::DEFAULT_MAX_PENDING)]
    max_releasing_vms: usize,
    /// Mock backend: pinned-memory budget across all VMs (the driver's RLIMIT_MEMLOCK);
    /// registering more fails with ENOMEM.
    #[arg(long, value_parser = parse_size)]
    mock_memlock_limit: Option<u64>,
    /// Mock backend: the page size of the kernel the mock models (a power of two, a multiple of
    /// this kernel's; K suffix), for trying a 16 KB-page device's alignment rules on a 4 KB
    /// host. Default: this kernel's page size.
    #[arg(long, value_parser = parse_size)]
    mock_page_size: Option<u64>,
    /// Mock backend: make an ioctl fail, e.g. `GH_VM_START=EIO`; repeatable. For exercising
    /// error paths of clients and of the service.
    #[arg(long, value_name = "IOCTL=ERRNO", value_parser = parse_fault)]
    mock_fault: Vec<(String, Errno)>,
    /// Mock backend: model a driver without the Android additions (no ANDROID_PVM or
    /// QCOM_TRUSTED_VM VMs).
    #[arg(long)]
    mock_no_android_ext: bool,
    /// Mock backend: how long the hypervisor takes to reset a VM after its last fd is closed
    /// (the later generations' last close waits for it; a14 frees the VM that much later).
    #[arg(long, value_name = "MS")]
    mock_reset_delay_ms: Option<u64>,
    /// Mock backend: the driver generation to model (a14-early, a14-late, ack66-early,
    /// ack66-late, ack-newest); see docs/GENERATIONS.md.
    #[arg(long, value_parser = parse_generation, default_value = gunyah_mock::DEFAULT_GENERATION.name())]
    mock_generation: Generation,
    /// Binder threads serving calls.
    #[arg(long, default_value_t = 16)]
    threads: u32,
    /// Connections (RPC sessions and their callback connections) served at once on the
    /// socket, each with a thread of its own; more wait until one closes.
    #[arg(long, default_value_t = gunyah_binder::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Write a trace of every VM's life to FILE, as Chrome JSON (ui.perfetto.dev opens it;
    /// docs/TRACING.md), until the service ends.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// More log output (-v info, -vv debug, -vvv trace); the default is warnings.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("not an octal permission mode: {s:?}"))
}

fn parse_generation(s: &str) -> Result<Generation, String> {
    Generation::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Generation::ALL.iter().map(|g| g.name()).collect();
        format!("unknown generation {s:?}; one of {}", names.join(", "))
    })
}

fn parse_errno(name: &str) -> Option<Errno> {
    if let Ok(n) = name.parse::<i32>() {
        return Some(Errno::from_raw(n));
    }
    (1..4096)
        .map(Errno::from_raw)
        .find(|e| format!("{e:?}") == name)
}

fn parse_fault(s: &str) -> Result<(String, Errno), String> {
    let (ioctl, errno) = s
        .split_once('=')
        .ok_or_else(|| format!("expected IOCTL=ERRNO, got {s:?}"))?;
    let errno = parse_errno(errno).ok_or_else(|| format!("unknown errno {errno:?}"))?;
    Ok((ioctl.to_string(), errno))
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        2 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    // By default only trouble is logged, plus this binary's own start-up and shutdown lines
    // (INFO, target gunyah_vm_service): nothing per VM. rsbinder warns of every connection that
    // closes before the RPC handshake (a readiness probe, a client killed early): that is the
    // peer's business, so by default only its errors are shown.
    let rsbinder = if verbose == 0 {
        log::LevelFilter::Error
    } else {
        level
    };
    env_logger::Builder::new()
        .filter_level(level)
        .filter_module(module_path!(), level.max(log::LevelFilter::Info))
        .filter_module("gunyah_vm::serve", level.max(log::LevelFilter::Info))
        .filter_module("rsbinder", rsbinder)
        .parse_env("GUNYAH_VM_LOG")
        .format_timestamp_millis()
        .init();
    std::panic::set_hook(Box::new(|info| log::error!("panic: {info}")));
}

/// What `--backend`, `--device` and `--mock-*` ask for.
fn backend_request(args: &Args) -> BackendRequest {
    BackendRequest {
        choice: match args.backend {
            BackendArg::Auto => BackendChoice::DeviceIfPresent,
            BackendArg::Gunyah => BackendChoice::Device,
            BackendArg::Mock => BackendChoice::Mock,
        },
        device: args.device.clone(),
        mock: MockOptions {
            generation: args.mock_generation,
            memlock_limit: args.mock_memlock_limit,
            page_size: args.mock_page_size,
            faults: args.mock_fault.clone(),
            without_android_ext: args.mock_no_android_ext,
            reset_delay: args.mock_reset_delay_ms.map(Duration::from_millis),
        },
    }
}

fn block_termination_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    // Blocked before any thread starts, so every thread inherits the mask and only the main
    // thread's sigwait sees these signals.
    set.thread_block().context("blocking SIGTERM/SIGINT")?;
    Ok(set)
}

fn remove_socket(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            log::warn!("cannot remove {}: {e}", path.display());
        }
    }
}

/// Sends the service's trace spans to `path` as a Chrome JSON trace; the file is complete
/// once the returned guard is dropped.
fn start_trace(path: &Path) -> Result<tracing_chrome::FlushGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    let file = std::fs::File::create(path)
        .with_context(|| format!("creating the trace file {}", path.display()))?;
    let (layer, guard) = tracing_chrome::ChromeLayerBuilder::new()
        .writer(file)
        .include_args(true)
        .include_locations(false)
        .build();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .context("installing the trace subscriber")?;
    log::info!("tracing to {}", path.display());
    Ok(guard)
}

fn inner_main(args: Args) -> Result<()> {
    let signals = block_termination_signals()?;
    // After the signals are blocked (the trace's writer thread inherits the mask), and before
    // the service, so dropped after it: the trace is complete when the service has ended.
    let _trace = args.trace.as_deref().map(start_trace).transpose()?;
    let socket_path = args
        .socket
        .clone()
        .unwrap_or_else(socket::default_socket_path);
    let diag_path = socket::diagnostics_path(&socket_path);
    let policy = if args.allow_uids.is_empty() {
        AccessPolicy::host_default()
    } else {
        AccessPolicy::allow_uids(args.allow_uids.iter().copied())
    };
    let backend = backend::open(&backend_request(&args))?;
    let driver = backend.description;
    let config = ManagerConfig {
        hypervisor: backend.hypervisor,
        policy: policy.clone(),
        limits: Limits {
            max_vcpus_per_vm: args.max_vcpus_per_vm,
            max_memory_regions: usize::from(args.max_memory_regions),
            ..Limits::default()
        },
        quotas: QuotaLimits {
            max_vms: args.max_vms_per_client,
            max_vcpus: args.max_vcpus_per_client,
            max_memory: args.max_memory_per_client,
        },
        max_releasing_vms: args.max_releasing_vms,
    };
    let options = ServeOptions {
        max_threads: args.threads,
        max_connections: args.max_connections,
    };
    if args.binder == BinderChoice::Kernel {
        let _service = serve::start(config, &Target::ServiceManager, &options, &driver)?;
        let signal = signals.wait().context("waiting for a signal")?;
        log::info!("{signal:?}: shutting down");
        return Ok(());
    }
    socket::clear_stale(&socket_path)?;
    socket::clear_stale(&diag_path)?;
    // Every connection is accepted (the socket's mode limits who can connect); each manager
    // call is checked, so a caller not on the allowlist gets EX_SECURITY with a reason instead
    // of a dropped connection it cannot interpret.
    let service = serve::start(
        config,
        &Target::Socket(socket_path.clone()),
        &options,
        &driver,
    )?;
    socket::set_mode(&socket_path, args.socket_mode)
        .with_context(|| format!("chmod {}", socket_path.display()))?;
    let listener = diagnostics::bind(&diag_path)
        .with_context(|| format!("binding {}", diag_path.display()))?;
    socket::set_mode(&diag_path, args.socket_mode)?;
    let manager = service.manager.clone();
    diagnostics::spawn(
        listener,
        Box::new(move |uid| {
            if manager.policy().allows_uid(uid) {
                Ok(manager.dump_text())
            } else {
                Err(format!("uid {uid} may not use the Gunyah VM service"))
            }
        }),
    )?;

    let signal = signals.wait().context("waiting for a signal")?;
    log::info!("{signal:?}: shutting down");
    // Ends every client session; their VMs are torn down as the sessions' objects drop.
    drop(service);
    remove_socket(&socket_path);
    remove_socket(&diag_path);
    Ok(())
}

fn main() {
    let args = Args::parse();
    init_logging(args.verbose);
    if let Err(e) = inner_main(args) {
        log::error!("{e:#}");
        eprintln!("gunyah-vm-service: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn test_args_debug_assert() {
        Args::command().debug_assert();
    }

    #[test]
    fn test_parse_fault() {
        assert_eq!(
            parse_fault("GH_VM_START=EIO"),
            Ok(("GH_VM_START".into(), Errno::EIO))
        );
        assert_eq!(
            parse_fault("GH_VM_START=12"),
            Ok(("GH_VM_START".into(), Errno::ENOMEM))
        );
        assert!(parse_fault("GH_VM_START").is_err());
        assert!(parse_fault("GH_VM_START=ENOPE").is_err());
    }

    #[test]
    fn test_parse_mode() {
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert!(parse_mode("999").is_err());
    }
}
