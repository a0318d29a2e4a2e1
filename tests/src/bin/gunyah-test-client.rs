//! A client process for lifetime tests: creates VMs (optionally starts them and registers a
//! callback), prints `READY <ids>` and then waits to be killed; or (`--cycles`) runs
//! create/start/destroy cycles with MMIO, an irqfd and a callback, to be killed at random; or
//! (`--block-in-mmio`) runs a VM whose vCPU is inside this client's MMIO handler when it dies;
//! or (`--block-in-ring`) one whose vCPU waits for this client's MMIO ring answer when it dies;
//! or (`--ring-fault`) one whose MMIO ring answer asks for a fault, printing the outcome; or
//! (`--wedge`) one whose every shared eventfd it made blocking and full, printing `WEDGED`; or
//! (`--hostile-fds`) the hostile-fd matrix and random sessions (`gunyah_vm_tests::hostile_fds`),
//! checking the service's dump after each, printing `HOSTILE_FDS PASS <cases>`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Parser;

use gunyah_binder::aidl::{
    GuestRange::GuestRange,
    IGunyahMmioHandler::{BnGunyahMmioHandler, IGunyahMmioHandler},
    IGunyahVmCallback::{BnGunyahVmCallback, IGunyahVmCallback},
    IrqfdConfig::IrqfdConfig,
    MmioRingRequest::MmioRingRequest,
    VmExitInfo::VmExitInfo,
    VmState::VmState,
};
use gunyah_binder::{BinderResult, Interface};
use gunyah_contract::mmio_ring::{Action, Answer};
use gunyah_vm_client::demo;
use gunyah_vm_client::{Client, Target};
use gunyah_vm_tests::raw_ring::RawRing;

fn connect(socket: &std::path::Path, incoming: u32) -> Result<Client> {
    Ok(Client::connect_with(
        &Target::Socket(socket.to_path_buf()),
        incoming,
    )?)
}

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
    /// Guests that block waiting on doorbell 1 (bound to an irqfd this client holds) instead of
    /// idling.
    #[arg(long)]
    waiting: bool,
    /// Register a callback on each VM.
    #[arg(long)]
    callback: bool,
    /// After creating the VMs, also print `LIST <ids>`: what listVms shows this client.
    #[arg(long)]
    list: bool,
    /// Instead of holding VMs: run this many create/start/destroy cycles, each with a guest
    /// doing MMIO reads served by this client, an irqfd and a callback, printing `CYCLE n`.
    #[arg(long)]
    cycles: Option<u32>,
    /// Instead of holding VMs: start one VM whose guest reads a device register, and never
    /// answer the read: print `IN_MMIO` from inside the handler and block there until killed.
    #[arg(long)]
    block_in_mmio: bool,
    /// Instead of holding VMs: start one VM whose guest reads a device register served by the
    /// MMIO ring, and never answer: print `IN_RING` once the exit is posted, then wait to be
    /// killed.
    #[arg(long)]
    block_in_ring: bool,
    /// Instead of holding VMs: ask for a ring range whose answers may inject a fault, answer a
    /// guest read with FAULT, and print `FAULT <final VmState>`, or `FAULT UNSUPPORTED` when
    /// the service refuses such a range (the a14 drivers).
    #[arg(long)]
    ring_fault: bool,
    /// Instead of holding VMs: start one VM whose every shared eventfd this client made
    /// blocking and full, with its vCPU waiting at the ring; print `WEDGED` and wait to be
    /// killed.
    #[arg(long)]
    wedge: bool,
    /// Instead of holding VMs: run the hostile-fd matrix and random sessions against the
    /// service, checking after each that its dump's VMs, vCPUs, fds and threads came back;
    /// print `HOSTILE_FDS PASS <cases>`.
    #[arg(long)]
    hostile_fds: bool,
}

/// The parts of the service's dump a released VM must give back.
fn footprint(socket: &std::path::Path) -> Result<[u64; 5]> {
    use gunyah_contract::diagnostics::{Counter, Diagnostics};
    let text = gunyah_binder::host::diagnostics::read(
        &gunyah_binder::host::socket::diagnostics_path(socket),
    )?;
    let d = Diagnostics::parse(&text)?;
    Ok([
        d.count(Counter::BackendLiveVms),
        d.count(Counter::BackendLiveVcpus),
        d.count(Counter::ReleasingVms),
        d.count(Counter::OpenFds),
        d.count(Counter::Threads),
    ])
}

fn hostile_fds(socket: &std::path::Path) -> Result<()> {
    use gunyah_vm_tests::hostile_fds;
    let client = connect(socket, 0)?;
    drop(hostile_fds::create(&client, "warm")?);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let baseline = footprint(socket)?;
    let back = |case: &str| -> Result<()> {
        let mut last = None;
        let ok = gunyah_vm_tests::wait_until(std::time::Duration::from_secs(20), || {
            last = footprint(socket).ok();
            last == Some(baseline)
        });
        anyhow::ensure!(ok, "{case}: the dump's [vms, vcpus, releasing, fds, threads] went {baseline:?} -> {last:?}");
        Ok(())
    };
    let mut cases = hostile_fds::run_matrix(&client, back)?;
    for seed in 1..=4 {
        hostile_fds::random_session(&client, seed, 30)?;
        back(&format!("random session {seed}"))?;
        cases += 1;
    }
    println!("HOSTILE_FDS PASS {cases}");
    Ok(())
}

fn wedge(client: &Client) -> Result<()> {
    let held = gunyah_vm_tests::hostile_fds::wedge(client)?;
    println!("WEDGED");
    std::io::stdout().flush()?;
    let _held = held;
    loop {
        std::thread::park();
    }
}

/// A guest that waits on doorbell 1 forever.
const WAITING: &str = "again: wait 1\njmp again\n";

/// A guest that reads a device register over MMIO in a loop: every read is a call into the
/// client's handler, so a kill can land inside one.
const MMIO_LOOP: &str = "loop: load4 r0, [0x90000000]\nsleep 1\njmp loop\n";

struct Echo;
impl Interface for Echo {}
impl IGunyahMmioHandler for Echo {
    fn onRead(&self, address: i64, _size: i32) -> BinderResult<i64> {
        Ok(address & 0xff)
    }
    fn onWrite(&self, _address: i64, _size: i32, _value: i64) -> BinderResult<()> {
        Ok(())
    }
}

fn cycle(client: &Client, n: u32) -> Result<()> {
    let callback = gunyah_binder::new_binder!(BnGunyahVmCallback, Quiet);
    let handler = gunyah_binder::new_binder!(BnGunyahMmioHandler, Echo);
    let config = demo::demo_config_with_program(&format!("cycle-{n}"), 1 << 20, 2, MMIO_LOOP)?;
    let vm = client
        .manager()
        .createVm(&config)
        .map_err(|s| anyhow!("createVm: {s:?}"))?;
    vm.registerCallback(&callback)
        .map_err(|s| anyhow!("registerCallback: {s:?}"))?;
    let range = GuestRange {
        guestPhysAddr: 0x9000_0000,
        size: 4096,
    };
    vm.setMmioHandler(&range, Some(&handler))
        .map_err(|s| anyhow!("setMmioHandler: {s:?}"))?;
    let _irqfd = vm
        .createIrqfd(&IrqfdConfig {
            label: 1,
            levelTriggered: false,
        })
        .map_err(|s| anyhow!("createIrqfd: {s:?}"))?;
    vm.start().map_err(|s| anyhow!("start: {s:?}"))?;
    std::thread::sleep(std::time::Duration::from_millis(u64::from(n % 4)));
    if n % 2 == 0 {
        vm.destroy().map_err(|s| anyhow!("destroy: {s:?}"))?;
    }
    Ok(())
}

/// An MMIO handler that announces the read it was given and never returns.
struct Stuck;
impl Interface for Stuck {}
impl IGunyahMmioHandler for Stuck {
    fn onRead(&self, _address: i64, _size: i32) -> BinderResult<i64> {
        println!("IN_MMIO");
        let _ = std::io::stdout().flush();
        loop {
            std::thread::park();
        }
    }
    fn onWrite(&self, _address: i64, _size: i32, _value: i64) -> BinderResult<()> {
        Ok(())
    }
}

/// Runs a VM whose vCPU ends up inside `Stuck::onRead`, and waits to be killed there.
fn block_in_mmio(client: &Client) -> Result<()> {
    let handler = gunyah_binder::new_binder!(BnGunyahMmioHandler, Stuck);
    let config =
        demo::demo_config_with_program("stuck", 1 << 20, 1, "load4 r0, [0x90000000]\nidle\n")?;
    let vm = client
        .manager()
        .createVm(&config)
        .map_err(|s| anyhow!("createVm: {s:?}"))?;
    let range = GuestRange {
        guestPhysAddr: 0x9000_0000,
        size: 4096,
    };
    vm.setMmioHandler(&range, Some(&handler))
        .map_err(|s| anyhow!("setMmioHandler: {s:?}"))?;
    vm.start().map_err(|s| anyhow!("start: {s:?}"))?;
    loop {
        std::thread::park();
    }
}

/// A ring range at the device's address, its answers allowed to fault or not.
fn ring_request(fault_answers: bool) -> MmioRingRequest {
    MmioRingRequest {
        range: GuestRange {
            guestPhysAddr: 0x9000_0000,
            size: 4096,
        },
        faultAnswers: fault_answers,
    }
}

/// Answers a guest read with FAULT and reports how the VM ended.
fn ring_fault(client: &Client) -> Result<()> {
    let program = "load4 r0, [0x90000000]\nexit VM_EXIT, \"no fault\"\n";
    let config = demo::demo_config_with_program("ring-fault", 1 << 20, 1, program)?;
    let vm = client
        .manager()
        .createVm(&config)
        .map_err(|s| anyhow!("createVm: {s:?}"))?;
    let ring = match vm.setMmioRing(&ring_request(true)) {
        Ok(ring) => RawRing::open(&ring)?,
        Err(status) => {
            let refused = gunyah_binder::classify(&status);
            let unsupported = gunyah_binder::aidl::ErrorCode::ErrorCode::UNSUPPORTED.0;
            if matches!(refused, gunyah_binder::CallError::ServiceSpecific { code, .. } if code == unsupported)
            {
                println!("FAULT UNSUPPORTED");
                return Ok(());
            }
            return Err(anyhow!("setMmioRing: {status:?}"));
        }
    };
    vm.start().map_err(|s| anyhow!("start: {s:?}"))?;
    let wait = std::time::Duration::from_secs(30);
    let (seq, _) = ring
        .next_exit(0, 0, wait)
        .ok_or_else(|| anyhow!("no MMIO exit posted"))?;
    let fault = Answer {
        action: Action::Fault,
        read_data: 0,
    };
    ring.answer(0, seq, &fault)?;
    let stopped = gunyah_vm_tests::wait_until(wait, || {
        vm.getState()
            .is_ok_and(|s| !matches!(s, VmState::STARTING | VmState::RUNNING))
    });
    let state = vm.getState().map_err(|s| anyhow!("getState: {s:?}"))?;
    anyhow::ensure!(stopped, "the VM is still {state:?}");
    println!("FAULT {}", gunyah_contract::names::vm_state(state));
    Ok(())
}

/// Runs a VM whose vCPU waits for an MMIO ring answer this client never gives.
fn block_in_ring(client: &Client) -> Result<()> {
    let config =
        demo::demo_config_with_program("ring-stuck", 1 << 20, 1, "load4 r0, [0x90000000]\nidle\n")?;
    let vm = client
        .manager()
        .createVm(&config)
        .map_err(|s| anyhow!("createVm: {s:?}"))?;
    let ring = RawRing::open(
        &vm.setMmioRing(&ring_request(false))
            .map_err(|s| anyhow!("setMmioRing: {s:?}"))?,
    )?;
    vm.start().map_err(|s| anyhow!("start: {s:?}"))?;
    ring.next_exit(0, 0, std::time::Duration::from_secs(10))
        .ok_or_else(|| anyhow!("no MMIO exit posted"))?;
    println!("IN_RING");
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
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
    if args.block_in_mmio {
        return block_in_mmio(&connect(&args.socket, 2)?);
    }
    if args.block_in_ring {
        return block_in_ring(&connect(&args.socket, 0)?);
    }
    if args.ring_fault {
        return ring_fault(&connect(&args.socket, 0)?);
    }
    if args.wedge {
        return wedge(&connect(&args.socket, 0)?);
    }
    if args.hostile_fds {
        return hostile_fds(&args.socket);
    }
    if let Some(cycles) = args.cycles {
        let client = connect(&args.socket, 3)?;
        for n in 0..cycles {
            cycle(&client, n)?;
            println!("CYCLE {n}");
            std::io::stdout().flush()?;
        }
        return Ok(());
    }
    let client = connect(
        &args.socket,
        if args.callback {
            args.cpus as u32 + 1
        } else {
            0
        },
    )?;
    let callback = gunyah_binder::new_binder!(BnGunyahVmCallback, Quiet);
    let mut vms = Vec::new();
    let mut doorbells = Vec::new();
    for i in 0..args.vms {
        let name = format!("held-{i}");
        let config = if args.waiting {
            demo::demo_config_with_program(&name, 1 << 20, args.cpus, WAITING)?
        } else {
            demo::demo_config(&name, 1 << 20, args.cpus)?
        };
        let vm = client
            .manager()
            .createVm(&config)
            .map_err(|s| anyhow!("createVm: {s:?}"))?;
        if args.waiting {
            let irqfd = IrqfdConfig {
                label: 1,
                levelTriggered: false,
            };
            doorbells.push(
                vm.createIrqfd(&irqfd)
                    .map_err(|s| anyhow!("createIrqfd: {s:?}"))?,
            );
        }
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
    if args.list {
        let listed = client
            .manager()
            .listVms()
            .map_err(|s| anyhow!("listVms: {s:?}"))?;
        let listed: Vec<String> = listed.iter().map(|d| d.id.to_string()).collect();
        println!("LIST {}", listed.join(" "));
    }
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}
