//! The gunyahctl subcommands.

use std::path::Path;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use clap::Args;
use nix::sys::signal::{SigSet, Signal};

use gunyah_vm::aidl::{
    IGunyahVmCallback::{BnGunyahVmCallback, IGunyahVmCallback},
    VmExitInfo::VmExitInfo,
    VmState::VmState,
};
use gunyah_vm::binder::{BinderResult, Interface, Status};
use gunyah_vm::client::{connect::connect, demo};
use gunyah_vm::names;
use gunyah_vm::size::parse_size;

fn status_error(what: &str, status: Status) -> anyhow::Error {
    anyhow!("{what}: {}", names::call_error(&status))
}

/// `gunyahctl info`.
pub fn info(socket: &Path) -> Result<()> {
    let client = connect(socket, 0)?;
    let caps = client
        .manager
        .getCapabilities()
        .map_err(|s| status_error("getCapabilities", s))?;
    println!("backend:                    {}", caps.backend);
    println!(
        "driver ABI:                 {}",
        names::driver_abi(caps.driverAbi)
    );
    let kinds: Vec<_> = caps
        .authTypes
        .iter()
        .map(|a| names::auth_type(*a))
        .collect();
    println!("VM kinds:                   {}", kinds.join(", "));
    println!("page size:                  {}", caps.pageSize);
    println!("max vCPUs per VM:           {}", caps.maxVcpusPerVm);
    println!("max memory regions per VM:  {}", caps.maxMemoryRegions);
    println!("max name length:            {}", caps.maxNameLength);
    println!("max VMs per client:         {}", caps.maxVmsPerClient);
    println!("max vCPUs per client:       {}", caps.maxVcpusPerClient);
    println!(
        "max guest memory per client: {}",
        caps.maxGuestMemoryPerClient
    );
    Ok(())
}

/// `gunyahctl list`.
pub fn list(socket: &Path) -> Result<()> {
    let client = connect(socket, 0)?;
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
pub fn dump(socket: &Path) -> Result<()> {
    let client = connect(socket, 0)?;
    gunyah_vm::binder::dump(client.manager.as_binder(), &std::io::stdout(), &[])
        .map_err(|e| anyhow!("dump: {e:?}"))
}

/// `gunyahctl dump`: the host's diagnostics socket beside the service socket.
#[cfg(not(aosp))]
pub fn dump(socket: &Path) -> Result<()> {
    use gunyah_vm::host::diag_socket;
    let path = gunyah_vm::host::socket::diagnostics_path(socket);
    let text = diag_socket::read(&path).with_context(|| format!("reading {}", path.display()))?;
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
    /// How long to keep the VM running before destroying it, in seconds; 0 waits for Ctrl-C.
    #[arg(long, default_value_t = 0)]
    hold: u64,
}

/// Prints state changes and exits, and forwards the states to the command.
struct PrintCallback(Mutex<mpsc::Sender<VmState>>);

impl Interface for PrintCallback {}

impl IGunyahVmCallback for PrintCallback {
    fn onStateChanged(&self, state: VmState) -> BinderResult<()> {
        println!("state: {}", names::vm_state(state));
        let _ = self.0.lock().map(|tx| tx.send(state));
        Ok(())
    }

    fn onExit(&self, info: &VmExitInfo) -> BinderResult<()> {
        println!(
            "exit: {} type {} reason {:02x?}",
            names::vm_state(info.state),
            names::exit_type(info.r#type),
            info.reason
        );
        Ok(())
    }
}

/// How long `run` waits for the last state notification after destroy().
const CALLBACK_GRACE: Duration = Duration::from_secs(2);

/// Waits for SIGINT/SIGTERM (or `hold`), from a thread that owns the blocked signals.
fn wait_for_stop(signals: SigSet, hold: u64) -> Option<Signal> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(sig) = signals.wait() {
            let _ = tx.send(sig);
        }
    });
    if hold == 0 {
        rx.recv().ok()
    } else {
        rx.recv_timeout(Duration::from_secs(hold)).ok()
    }
}

/// `gunyahctl run`.
pub fn run(socket: &Path, args: &RunArgs) -> Result<()> {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.thread_block()?;

    let client = connect(socket, args.cpus.max(1) as u32 + 1)?;
    let config =
        demo::demo_config(&args.name, args.mem, args.cpus).context("preparing guest memory")?;
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
    let (states_tx, states) = mpsc::channel();
    let callback = gunyah_vm::new_binder!(BnGunyahVmCallback, PrintCallback(Mutex::new(states_tx)));
    vm.registerCallback(&callback)
        .map_err(|s| status_error("registerCallback", s))?;
    vm.start().map_err(|s| status_error("start", s))?;
    if args.hold == 0 {
        println!("running; Ctrl-C destroys the VM");
    }
    if let Some(sig) = wait_for_stop(signals, args.hold) {
        println!("{sig:?}: destroying vm {id}");
    }
    vm.destroy().map_err(|s| status_error("destroy", s))?;
    // Callbacks are oneway: the DESTROYED notification may still be on its way when destroy()
    // returns. Wait for it (bounded) so the output is complete and in order.
    let deadline = Instant::now() + CALLBACK_GRACE;
    while let Ok(state) = states.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if state == VmState::DESTROYED {
            break;
        }
    }
    let state = vm.getState().map_err(|s| status_error("getState", s))?;
    println!("vm {id}: {}", names::vm_state(state));
    Ok(())
}
