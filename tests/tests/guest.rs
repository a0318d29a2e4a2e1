//! Guests running on the mock through the real service: MMIO console output reaching a client
//! handler, MMIO reads answered by it, doorbell → guest → ioeventfd, exits and crashes
//! reaching onExit, load failures, and teardown with a vCPU stuck in a slow handler.

use std::os::fd::OwnedFd;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use gunyah_binder::aidl::{
    GuestFault::GuestFault,
    GuestRange::GuestRange,
    IGunyahMmioHandler::{BnGunyahMmioHandler, IGunyahMmioHandler},
    IGunyahVm::IGunyahVm,
    IGunyahVmCallback::{BnGunyahVmCallback, IGunyahVmCallback},
    IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig,
    MemoryRegion,
    VmConfig::VmConfig,
    VmExitInfo::VmExitInfo,
    VmExitType::VmExitType,
    VmState::VmState,
};
use gunyah_binder::{BinderResult, Interface, Strong};
use gunyah_contract::diagnostics::UnhandledMmio;
use gunyah_vm_client::demo::{demo_config, demo_config_with_program, ram_region};
use gunyah_vm_tests::Service;

const MIB: u64 = 1 << 20;
const HELLO: &str = include_str!("../../examples/guests/hello.s");
const DOORBELL_ECHO: &str = include_str!("../../examples/guests/doorbell_echo.s");
const CRASH: &str = include_str!("../../examples/guests/crash.s");
const FAULT: &str = include_str!("../../examples/guests/fault.s");

/// Records MMIO writes; answers reads from a queue (0 when empty), optionally slowly.
#[derive(Default)]
struct Device {
    writes: Mutex<Vec<(i64, i32, i64)>>,
    reads: Mutex<Vec<i64>>,
    answers: Mutex<Vec<i64>>,
    read_delay: Option<Duration>,
}

struct DeviceHandler(Arc<Device>);

impl Interface for DeviceHandler {}

impl IGunyahMmioHandler for DeviceHandler {
    fn onRead(&self, address: i64, _size: i32) -> BinderResult<i64> {
        if let Some(delay) = self.0.read_delay {
            std::thread::sleep(delay);
        }
        self.0.reads.lock().unwrap().push(address);
        let mut answers = self.0.answers.lock().unwrap();
        Ok(if answers.is_empty() {
            0
        } else {
            answers.remove(0)
        })
    }
    fn onWrite(&self, address: i64, size: i32, value: i64) -> BinderResult<()> {
        self.0.writes.lock().unwrap().push((address, size, value));
        Ok(())
    }
}

fn handler(device: &Arc<Device>) -> Strong<dyn IGunyahMmioHandler> {
    gunyah_binder::new_binder!(BnGunyahMmioHandler, DeviceHandler(device.clone()))
}

enum Event {
    State(VmState),
    Exit(VmExitInfo),
}

struct Watcher(Mutex<Sender<Event>>);

impl Interface for Watcher {}

impl IGunyahVmCallback for Watcher {
    fn onStateChanged(&self, state: VmState) -> BinderResult<()> {
        let _ = self.0.lock().unwrap().send(Event::State(state));
        Ok(())
    }
    fn onExit(&self, info: &VmExitInfo) -> BinderResult<()> {
        let _ = self.0.lock().unwrap().send(Event::Exit(info.clone()));
        Ok(())
    }
}

/// Registers a callback; returns its binder (keep it) and the event stream.
fn watch(vm: &Strong<dyn IGunyahVm>) -> (Strong<dyn IGunyahVmCallback>, Receiver<Event>) {
    let (tx, rx) = channel();
    let cb = gunyah_binder::new_binder!(BnGunyahVmCallback, Watcher(Mutex::new(tx)));
    vm.registerCallback(&cb).expect("registerCallback");
    (cb, rx)
}

/// Waits for onExit, checking the states before it.
/// A VM of `config`, created and started, run until it stops: the VM, its callback (keep it),
/// the events after the exit, the states it went through and how it stopped.
type Stopped = (
    Strong<dyn IGunyahVm>,
    Strong<dyn IGunyahVmCallback>,
    Receiver<Event>,
    Vec<VmState>,
    VmExitInfo,
);

fn run_until_exit(client: &gunyah_vm_client::Client, config: &VmConfig) -> Stopped {
    let vm = client.manager().createVm(config).expect("createVm");
    let (cb, events) = watch(&vm);
    vm.start().expect("start");
    let (states, info) = wait_exit(&events);
    (vm, cb, events, states, info)
}

fn wait_exit(rx: &Receiver<Event>) -> (Vec<VmState>, VmExitInfo) {
    let mut states = Vec::new();
    loop {
        match rx
            .recv_timeout(Duration::from_secs(10))
            .expect("onExit within 10 s")
        {
            Event::State(s) => states.push(s),
            Event::Exit(info) => return (states, info),
        }
    }
}

fn range(addr: i64, size: i64) -> GuestRange {
    GuestRange {
        guestPhysAddr: addr,
        size,
    }
}

#[test]
fn test_hello_console_reaches_the_client_handler() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(2)?;
    let vm = client
        .manager()
        .createVm(&demo_config_with_program("hello", MIB, 1, HELLO)?)
        .expect("createVm");
    let console = Arc::new(Device::default());
    vm.setMmioHandler(&range(0x9000_0000, 0x1000), Some(&handler(&console)))
        .expect("setMmioHandler");
    let (_cb, events) = watch(&vm);
    vm.start().expect("start");
    let (states, info) = wait_exit(&events);
    assert_eq!(
        states,
        [VmState::STARTING, VmState::RUNNING, VmState::EXITED]
    );
    assert_eq!(
        (info.state, info.r#type, info.reason.as_slice()),
        (VmState::EXITED, VmExitType::PSCI_POWER_OFF, &b"bye"[..])
    );
    let text: Vec<u8> = console
        .writes
        .lock()
        .unwrap()
        .iter()
        .map(|(addr, size, v)| {
            assert_eq!((*addr, *size), (0x9000_0000, 1));
            *v as u8
        })
        .collect();
    assert_eq!(String::from_utf8(text)?, "Hello from a Gunyah guest!\n");
    assert_eq!(vm.getState().unwrap(), VmState::EXITED);
    assert_eq!(vm.getExitInfo().unwrap(), Some(info));
    Ok(())
}

#[test]
fn test_unhandled_mmio_reads_zero_and_drops_writes() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(2)?;
    // Reads 0 from an unhandled address, writes elsewhere, then exits with the value read + 1.
    let program = "load8 r0, [0xa0000000]\nstore8 [0xa0000008], 5\njnz r0, bad\nexit VM_EXIT, \"zero\"\nbad: crash";
    let vm = client
        .manager()
        .createVm(&demo_config_with_program("unhandled", MIB, 1, program)?)
        .expect("createVm");
    let (_cb, events) = watch(&vm);
    vm.start().expect("start");
    let (_, info) = wait_exit(&events);
    assert_eq!(
        (info.state, info.reason.as_slice()),
        (VmState::EXITED, &b"zero"[..])
    );
    let d = service.diagnostics()?;
    assert_eq!(
        d.vms[0].unhandled_mmio,
        UnhandledMmio {
            reads: 1,
            writes: 1
        },
        "{:?}",
        d.vms
    );
    Ok(())
}

#[test]
fn test_doorbell_rings_guest_which_signals_ioeventfd() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(2)?;
    let vm = client
        .manager()
        .createVm(&demo_config_with_program("echo", MIB, 1, DOORBELL_ECHO)?)
        .expect("createVm");
    let irqfd: OwnedFd = vm
        .createIrqfd(&IrqfdConfig {
            label: 1,
            levelTriggered: false,
        })
        .expect("createIrqfd")
        .into();
    let ioeventfd: OwnedFd = vm
        .createIoeventfd(&IoeventfdConfig {
            guestPhysAddr: 0x9000_1000,
            size: 4,
            matchData: false,
            data: 0,
        })
        .expect("createIoeventfd")
        .into();
    let device = Arc::new(Device::default());
    *device.answers.lock().unwrap() = vec![0, 0, 1];
    vm.setMmioHandler(&range(0x9000_0000, 0x10_0000), Some(&handler(&device)))
        .expect("setMmioHandler");
    let (_cb, events) = watch(&vm);
    vm.start().expect("start");
    // Nothing happens until the doorbell rings.
    assert_eq!(
        gunyah_vm_tests::read_eventfd(&ioeventfd, Duration::from_millis(100)),
        None
    );
    for round in 1..=3 {
        nix::unistd::write(&irqfd, &1u64.to_ne_bytes())?;
        assert_eq!(
            gunyah_vm_tests::read_eventfd(&ioeventfd, Duration::from_secs(5)),
            Some(1),
            "round {round}"
        );
    }
    let (_, info) = wait_exit(&events);
    assert_eq!(
        (info.r#type, info.reason.as_slice()),
        (VmExitType::VM_EXIT, &b"done"[..])
    );
    // The ioeventfd writes never reached the MMIO handler; the command reads did.
    assert!(device.writes.lock().unwrap().is_empty());
    assert_eq!(*device.reads.lock().unwrap(), vec![0x9000_2000; 3]);
    Ok(())
}

/// A guest that writes to its read-only region. On a demand-paging driver (the default mock,
/// ack66-late) that is a PAGE_FAULT: the service stops the VM (both vCPUs, no spinning) and
/// reports CRASHED / GUEST_FAULT with the address and EPERM; on a14 the guest crashes.
#[test]
fn test_guest_fault_reaches_on_exit_per_generation() -> Result<()> {
    const ROM: i64 = 0x8100_0000;
    for (generation, want_type, want_fault) in [
        (
            "ack66-late",
            VmExitType::GUEST_FAULT,
            Some(GuestFault {
                guestPhysAddr: ROM,
                errno: nix::errno::Errno::EPERM as i32,
            }),
        ),
        ("a14-late", VmExitType::UNKNOWN, None),
    ] {
        let service = Service::start(&["--mock-generation", generation])?;
        let client = service.connect(2)?;
        let mut config = demo_config_with_program("rom", MIB, 2, "store4 [0x81000000], 7\nidle")?;
        let mut rom = ram_region(1, ROM, 4096)?;
        rom.access = MemoryRegion::ACCESS_READ;
        config.memoryRegions.push(rom);
        let (vm, _cb, events, states, info) = run_until_exit(&client, &config);
        assert_eq!(states.last(), Some(&VmState::CRASHED), "{generation}");
        assert_eq!(info.state, VmState::CRASHED, "{generation}");
        assert_eq!(info.r#type, want_type, "{generation}");
        assert_eq!(info.fault, want_fault, "{generation}");
        assert_eq!(vm.getExitInfo().unwrap(), Some(info), "{generation}");
        assert_stays_crashed(&vm, &events, generation);
    }
    Ok(())
}

/// One onExit, and the VM stays CRASHED: no vCPU spins on what stopped it. Destroys it.
fn assert_stays_crashed(vm: &Strong<dyn IGunyahVm>, events: &Receiver<Event>, what: &str) {
    assert!(
        events.recv_timeout(Duration::from_millis(200)).is_err(),
        "{what}: a second event"
    );
    assert_eq!(vm.getState().unwrap(), VmState::CRASHED, "{what}");
    vm.destroy().unwrap();
}

/// The driver refuses GH_VCPU_RUN (here ENODEV, as a vCPU without a hypervisor resource or
/// whose function was removed gets it): the service stops the VM and reports it CRASHED with
/// HYP_ERROR and the errno — one onExit, no vCPU spinning on the error, no silent hang.
#[test]
fn test_a_refused_run_stops_the_vm_with_its_errno() -> Result<()> {
    let service = Service::start(&["--mock-fault", "GH_VCPU_RUN=ENODEV"])?;
    let client = service.connect(2)?;
    let config = demo_config_with_program("refused", MIB, 2, "idle")?;
    let (vm, _cb, events, states, info) = run_until_exit(&client, &config);
    assert_eq!(states.last(), Some(&VmState::CRASHED));
    assert_eq!(info.r#type, VmExitType::HYP_ERROR);
    assert_eq!(info.reason, b"ENODEV".to_vec());
    assert_eq!(info.fault, None);
    assert_stays_crashed(&vm, &events, "refused run");
    Ok(())
}

/// Memlock moves to run time on the later drivers: a VM with more memory than the driver's
/// pinned-memory budget is created (nothing is pinned at the ioctl), and the guest's first
/// touch past the budget stops it as CRASHED / GUEST_FAULT with ENOMEM — named, not a hang and
/// not a crash without a reason. (a14 refuses the region at createVm: `errors.rs`.)
#[test]
fn test_memlock_at_run_time_is_a_guest_fault() -> Result<()> {
    // The guest touches page after page from the start of RAM: the program's page and the
    // next 255 fill the 1 MiB budget, so the fault is at 1 MiB.
    const PAST_BUDGET: i64 = 0x8010_0000;
    const TOUCH_EVERY_PAGE: &str =
        "mov r1, 0x80000000\nnext: store4 [r1], 7\nadd r1, 4096\njmp next";
    let service = Service::start(&[
        "--mock-generation",
        "ack66-late",
        "--mock-memlock-limit",
        "1M",
    ])?;
    let client = service.connect(2)?;
    let config = demo_config_with_program("big", 2 * MIB, 1, TOUCH_EVERY_PAGE)?;
    let (vm, _cb, _events, states, info) = run_until_exit(&client, &config);
    assert_eq!(states.last(), Some(&VmState::CRASHED));
    assert_eq!(info.r#type, VmExitType::GUEST_FAULT);
    assert_eq!(
        info.fault,
        Some(GuestFault {
            guestPhysAddr: PAST_BUDGET,
            errno: nix::errno::Errno::ENOMEM as i32,
        })
    );
    vm.destroy().unwrap();
    Ok(())
}

#[test]
fn test_crash_fault_and_load_failure_reach_on_exit() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(2)?;
    for (name, program, state) in [
        ("crash", Some(CRASH), VmState::CRASHED),
        ("fault", Some(FAULT), VmState::CRASHED),
        ("no-program", None, VmState::LOAD_FAILED),
    ] {
        let mut config = demo_config_with_program(name, MIB, 2, program.unwrap_or("crash"))?;
        if program.is_none() {
            // Zeroed memory at the entry: there is no program there. (No boot register: a14
            // has none.)
            config.memoryRegions[0] = ram_region(0, 0x8000_0000, MIB)?;
        }
        let vm = client.manager().createVm(&config).expect("createVm");
        let (_cb, events) = watch(&vm);
        vm.start().expect("start");
        let (states, info) = wait_exit(&events);
        assert_eq!(states.last(), Some(&state), "{name}");
        assert_eq!(
            (info.state, info.r#type),
            (state, VmExitType::UNKNOWN),
            "{name}"
        );
        assert!(info.reason.is_empty());
        // onExit is sent once even with two vCPUs reporting the stop.
        assert!(
            events.recv_timeout(Duration::from_millis(100)).is_err(),
            "{name}: a second event"
        );
        vm.destroy().unwrap();
    }
    Ok(())
}

#[test]
fn test_teardown_with_a_vcpu_blocked_in_a_slow_handler() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(2)?;
    let baseline = {
        let warm = client
            .manager()
            .createVm(&demo_config("warm", MIB, 1)?)
            .expect("createVm");
        warm.start().unwrap();
        drop(warm);
        service.baseline()?
    };
    let vm = client
        .manager()
        .createVm(&demo_config_with_program(
            "stuck",
            MIB,
            1,
            "load4 r0, [0x90000000]\nidle",
        )?)
        .expect("createVm");
    let device = Arc::new(Device {
        read_delay: Some(Duration::from_secs(4)),
        ..Default::default()
    });
    vm.setMmioHandler(&range(0x9000_0000, 0x1000), Some(&handler(&device)))
        .expect("setMmioHandler");
    vm.start().expect("start");
    std::thread::sleep(Duration::from_millis(200)); // the vCPU is now inside onRead
    let start = Instant::now();
    vm.destroy().expect("destroy");
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "destroy took {took:?}: teardown must not wait for the handler"
    );
    assert_eq!(vm.getState().unwrap(), VmState::DESTROYED);
    // Once the slow handler returns, the detached vCPU thread ends and releases everything.
    service.wait_for_footprint(baseline, Duration::from_secs(10))?;
    Ok(())
}
