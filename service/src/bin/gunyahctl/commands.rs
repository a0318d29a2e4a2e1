//! The gunyahctl subcommands.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use clap::Args;
use nix::sys::signal::{SigSet, Signal};

use gunyah_vm::aidl::{
    GuestRange::GuestRange,
    IGunyahMmioHandler::{BnGunyahMmioHandler, IGunyahMmioHandler},
    IGunyahVmCallback::{BnGunyahVmCallback, IGunyahVmCallback},
    VmExitInfo::VmExitInfo,
    VmExitType::VmExitType,
    VmState::VmState,
};
use gunyah_vm::binder::{BinderResult, Interface, Status};
use gunyah_vm::client::connect::{connect, ManagerClient};
use gunyah_vm::client::demo;
use gunyah_vm::names;
use gunyah_vm::size::parse_size;

/// Where the service is.
pub struct Target {
    /// Its socket (host RPC binder).
    pub socket: PathBuf,
    /// Use kernel binder instead (a Linux host with binder and rsb_hub).
    pub kernel_binder: bool,
}

impl Target {
    fn connect(&self, incoming_connections: u32) -> Result<ManagerClient> {
        #[cfg(not(aosp))]
        if self.kernel_binder {
            return gunyah_vm::client::connect::connect_kernel();
        }
        connect(&self.socket, incoming_connections)
    }
}

fn status_error(what: &str, status: Status) -> anyhow::Error {
    anyhow!("{what}: {}", names::call_error(&status))
}

/// `gunyahctl info`.
pub fn info(target: &Target) -> Result<()> {
    let client = target.connect(0)?;
    let caps = client
        .manager
        .getCapabilities()
        .map_err(|s| status_error("getCapabilities", s))?;
    let kinds: Vec<_> = caps
        .authTypes
        .iter()
        .map(|a| names::auth_type(*a))
        .collect();
    println!("backend:                    {}", caps.backend);
    println!(
        "driver ABI:                 {}",
        names::driver_abi(caps.driverAbi)
    );
    println!("VM kinds:                   {}", kinds.join(", "));
    println!("page size:                  {}", caps.pageSize);
    println!("max vCPUs per VM:           {}", caps.maxVcpusPerVm);
    println!("max memory regions per VM:  {}", caps.maxMemoryRegions);
    println!("max name length:            {}", caps.maxNameLength);
    println!("max VMs per client:         {}", caps.maxVmsPerClient);
    println!("max vCPUs per client:       {}", caps.maxVcpusPerClient);
    println!(
        "max memory per client:      {} MiB",
        caps.maxGuestMemoryPerClient >> 20
    );
    Ok(())
}

/// `gunyahctl list`.
pub fn list(target: &Target) -> Result<()> {
    let client = target.connect(0)?;
    let vms = client
        .manager
        .listVms()
        .map_err(|s| status_error("listVms", s))?;
    println!(
        "{:>5}  {:<12} {:>5} {:>12}  NAME",
        "ID", "STATE", "VCPUS", "MEMORY"
    );
    for vm in vms {
        println!(
            "{:>5}  {:<12} {:>5} {:>12}  {}",
            vm.id,
            names::vm_state(vm.state),
            vm.vcpuCount,
            vm.memoryBytes,
            vm.name
        );
    }
    Ok(())
}

/// `gunyahctl dump`: binder `dump()`, as dumpsys does.
#[cfg(aosp)]
pub fn dump(target: &Target) -> Result<()> {
    let client = target.connect(0)?;
    gunyah_vm::binder::dump(client.manager.as_binder(), &std::io::stdout(), &[])
        .map_err(|e| anyhow!("dump: {e:?}"))
}

/// `gunyahctl dump`: binder `dump()` over kernel binder; over the socket, the diagnostics
/// socket beside it (an RPC client cannot send binder dump).
#[cfg(not(aosp))]
pub fn dump(target: &Target) -> Result<()> {
    use std::os::fd::AsFd;
    if target.kernel_binder {
        let client = target.connect(0)?;
        let stdout = std::io::stdout().as_fd().try_clone_to_owned()?;
        return gunyah_vm::binder::dump(client.manager.as_binder(), stdout, &[])
            .map_err(|e| anyhow!("dump: {e:?}"));
    }
    let path = gunyah_vm::host::socket::diagnostics_path(&target.socket);
    let text = gunyah_vm::host::diag_socket::read(&path)
        .with_context(|| format!("reading {}", path.display()))?;
    print!("{text}");
    Ok(())
}

/// `gunyahctl abi`.
pub fn abi(json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&gunyah_vm::uapi::abi::to_json())?
        );
        return Ok(());
    }
    for g in gunyah_vm::uapi::abi::generations() {
        println!("[{}]", g.name);
        for (name, number) in &g.ioctls {
            println!("  {name:<32} {number:#010x}");
        }
        for s in &g.structs {
            let fields: Vec<String> = s.fields.iter().map(|(f, o)| format!("{f}@{o}")).collect();
            println!(
                "  struct {} ({} bytes): {}",
                s.name,
                s.size,
                fields.join(", ")
            );
        }
    }
    Ok(())
}

fn parse_addr(s: &str) -> Result<i64, String> {
    let v = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => s.replace('_', "").parse::<u64>(),
    };
    v.ok()
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| format!("not a guest address: {s:?}"))
}

/// Options of `gunyahctl run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// VM name.
    #[arg(long, default_value = "demo")]
    name: String,
    /// Guest memory (K/M/G suffixes).
    #[arg(long, default_value = "2M", value_parser = parse_size)]
    mem: u64,
    /// Number of vCPUs.
    #[arg(long, default_value_t = 1)]
    cpus: i32,
    /// A scripted-guest program (docs/GUEST_ISA.md) to run instead of the idle demo guest;
    /// it is loaded at the start of guest RAM (0x80000000).
    #[arg(long, value_name = "FILE.s")]
    program: Option<PathBuf>,
    /// Serve a UART transmit register at this guest address and print what the guest writes
    /// to it.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    console: Option<i64>,
    /// Destroy the VM after this many seconds even if the guest runs on; 0 waits for the
    /// guest to exit or for Ctrl-C.
    #[arg(long, default_value_t = 0)]
    hold: u64,
}

enum Event {
    State(VmState),
    Exit(VmExitInfo),
    /// SIGINT or SIGTERM.
    Stop,
}

/// Prints state changes and exits, and forwards them to the command.
struct PrintCallback(Mutex<mpsc::Sender<Event>>);

impl Interface for PrintCallback {}

impl IGunyahVmCallback for PrintCallback {
    fn onStateChanged(&self, state: VmState) -> BinderResult<()> {
        println!("state: {}", names::vm_state(state));
        let _ = self.0.lock().map(|tx| tx.send(Event::State(state)));
        Ok(())
    }

    fn onExit(&self, info: &VmExitInfo) -> BinderResult<()> {
        println!(
            "exit: {} type {} reason {:?}",
            names::vm_state(info.state),
            names::exit_type(info.r#type),
            String::from_utf8_lossy(&info.reason)
        );
        let _ = self.0.lock().map(|tx| tx.send(Event::Exit(info.clone())));
        Ok(())
    }
}

/// A UART transmit register: every byte written is printed.
struct Console;

impl Interface for Console {}

impl IGunyahMmioHandler for Console {
    fn onRead(&self, _address: i64, _size: i32) -> BinderResult<i64> {
        Ok(0)
    }

    fn onWrite(&self, _address: i64, _size: i32, value: i64) -> BinderResult<()> {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&[value as u8]);
        let _ = out.flush();
        Ok(())
    }
}

/// How long `run` waits for the last state notification after destroy().
const CALLBACK_GRACE: Duration = Duration::from_secs(2);

/// The exit status of `run` for a guest that stopped with `info`.
fn exit_code(info: &VmExitInfo) -> i32 {
    match info.state {
        VmState::EXITED
            if matches!(
                info.r#type,
                VmExitType::PSCI_POWER_OFF | VmExitType::VM_EXIT
            ) =>
        {
            0
        }
        VmState::EXITED => 2,
        VmState::CRASHED => 3,
        VmState::LOAD_FAILED => 4,
        _ => 1,
    }
}

fn config(args: &RunArgs) -> Result<gunyah_vm::aidl::VmConfig::VmConfig> {
    match &args.program {
        Some(path) => {
            let source = std::fs::read_to_string(path)
                .with_context(|| format!("--program {}", path.display()))?;
            demo::demo_config_with_program(&args.name, args.mem, args.cpus, &source)
                .with_context(|| format!("--program {}", path.display()))
        }
        None => {
            demo::demo_config(&args.name, args.mem, args.cpus).context("preparing guest memory")
        }
    }
}

/// `gunyahctl run`.
pub fn run(target: &Target, args: &RunArgs) -> Result<i32> {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.thread_block()?;

    let config = config(args)?;
    let client = target.connect(args.cpus.max(1) as u32 + 1)?;
    let vm = client
        .manager
        .createVm(&config)
        .map_err(|s| status_error("createVm", s))?;
    drop(config);
    let id = vm.getId().map_err(|s| status_error("getId", s))?;
    println!(
        "created vm {id} ({:?}, {} bytes, {} vCPUs)",
        args.name, args.mem, args.cpus
    );

    let (tx, events) = mpsc::channel();
    let signal_tx = tx.clone();
    let callback = gunyah_vm::new_binder!(BnGunyahVmCallback, PrintCallback(Mutex::new(tx)));
    vm.registerCallback(&callback)
        .map_err(|s| status_error("registerCallback", s))?;
    if let Some(addr) = args.console {
        let console = gunyah_vm::new_binder!(BnGunyahMmioHandler, Console);
        vm.setMmioHandler(
            &GuestRange {
                guestPhysAddr: addr,
                size: 4096,
            },
            Some(&console),
        )
        .map_err(|s| status_error("setMmioHandler", s))?;
    }
    // Signals arrive as an event too, from a thread that owns them.
    std::thread::spawn(move || {
        if let Ok(sig) = signals.wait() {
            println!("{sig:?}: destroying vm {id}");
            let _ = signal_tx.send(Event::Stop);
        }
    });
    vm.start().map_err(|s| status_error("start", s))?;
    if args.hold == 0 && args.program.is_none() {
        println!("running; Ctrl-C destroys the VM");
    }

    let deadline = (args.hold > 0).then(|| Instant::now() + Duration::from_secs(args.hold));
    let mut exit = None;
    loop {
        let next = match deadline {
            Some(d) => events
                .recv_timeout(d.saturating_duration_since(Instant::now()))
                .ok(),
            None => events.recv().ok(),
        };
        match next {
            Some(Event::Exit(info)) => {
                exit = Some(info);
                break;
            }
            Some(Event::State(_)) => {}
            Some(Event::Stop) | None => break,
        }
    }
    vm.destroy().map_err(|s| status_error("destroy", s))?;
    // Callbacks are oneway: the DESTROYED notification may still be on its way when destroy()
    // returns. Wait for it (bounded) so the output is complete and in order.
    let grace = Instant::now() + CALLBACK_GRACE;
    while let Ok(event) = events.recv_timeout(grace.saturating_duration_since(Instant::now())) {
        if matches!(event, Event::State(VmState::DESTROYED)) {
            break;
        }
    }
    let state = vm.getState().map_err(|s| status_error("getState", s))?;
    println!("vm {id}: {}", names::vm_state(state));
    Ok(exit.as_ref().map_or(0, exit_code))
}
