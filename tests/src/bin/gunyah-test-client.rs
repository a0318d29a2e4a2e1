//! A client process for lifetime tests: creates VMs (optionally starts them and registers a
//! callback), prints `READY <ids>` and then waits to be killed.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Parser;

use gunyah_vm::aidl::{
    IGunyahVmCallback::{BnGunyahVmCallback, IGunyahVmCallback},
    VmExitInfo::VmExitInfo,
    VmState::VmState,
};
use gunyah_vm::binder::{BinderResult, Interface};
use gunyah_vm::client::{connect::connect, demo};

#[derive(Parser)]
struct Args {
    /// Service socket.
    #[arg(long)]
    socket: PathBuf,
    /// VMs to create.
    #[arg(long, default_value_t = 1)]
    vms: u32,
    /// vCPUs per VM.
    #[arg(long, default_value_t = 1)]
    cpus: i32,
    /// Start the VMs.
    #[arg(long)]
    start: bool,
    /// Register a callback on each VM.
    #[arg(long)]
    callback: bool,
}

struct Quiet;
impl Interface for Quiet {}
impl IGunyahVmCallback for Quiet {
    fn onStateChanged(&self, _state: VmState) -> BinderResult<()> {
        Ok(())
    }
    fn onExit(&self, _info: &VmExitInfo) -> BinderResult<()> {
        Ok(())
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let client = connect(
        &args.socket,
        if args.callback {
            args.cpus as u32 + 1
        } else {
            0
        },
    )?;
    let callback = gunyah_vm::new_binder!(BnGunyahVmCallback, Quiet);
    let mut vms = Vec::new();
    for i in 0..args.vms {
        let config = demo::demo_config(&format!("held-{i}"), 1 << 20, args.cpus)?;
        let vm = client
            .manager
            .createVm(&config)
            .map_err(|s| anyhow!("createVm: {s:?}"))?;
        if args.callback {
            vm.registerCallback(&callback)
                .map_err(|s| anyhow!("registerCallback: {s:?}"))?;
        }
        if args.start {
            vm.start().map_err(|s| anyhow!("start: {s:?}"))?;
        }
        vms.push(vm);
    }
    let ids: Vec<String> = vms
        .iter()
        .map(|vm| vm.getId().map(|id| id.to_string()))
        .collect::<Result<_, _>>()
        .map_err(|s| anyhow!("{s:?}"))?;
    println!("READY {}", ids.join(" "));
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}
