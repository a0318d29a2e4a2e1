//! The client library (gunyah-vm-client) against a real service: building, events, waiting,
//! MMIO handlers, eventfd helpers, local validation, and the service's death.

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use gunyah_binder::aidl::{ErrorCode::ErrorCode, VmExitType::VmExitType, VmState::VmState};
use gunyah_vm_client::{Error, MmioHandler, VmBuilder, VmEvent};
use gunyah_vm_tests::{Counter, Service};

const RAM: u64 = 0x8000_0000;
const MIB: u64 = 1 << 20;
const HELLO: &str = include_str!("../../examples/guests/hello.s");
const DOORBELL_ECHO: &str = include_str!("../../examples/guests/doorbell_echo.s");

/// Records writes; answers reads from a script.
#[derive(Default)]
struct Device {
    written: Mutex<Vec<u8>>,
    answers: Mutex<Vec<u64>>,
}

impl MmioHandler for Device {
    fn read(&self, _address: u64, _size: u32) -> u64 {
        let mut answers = self.answers.lock().unwrap();
        if answers.is_empty() {
            0
        } else {
            answers.remove(0)
        }
    }

    fn write(&self, _address: u64, _size: u32, value: u64) {
        self.written.lock().unwrap().push(value as u8);
    }
}

fn program(name: &str, source: &str) -> Result<VmBuilder> {
    Ok(VmBuilder::new(name).memory(RAM, MIB).program(source, RAM)?)
}

#[test]
fn test_hello_through_the_library() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(3)?;
    let vm = client.create_vm(&program("hello", HELLO)?)?;
    let events = vm.events();
    let device = Arc::new(Device::default());
    vm.set_mmio_handler(0x9000_0000, 4096, device.clone())?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    vm.on_event(move |e| record.lock().unwrap().push(e.clone()));
    assert_eq!(vm.state()?, VmState::NOT_STARTED);
    vm.start()?;
    let exit = vm.wait_for_exit(Some(Duration::from_secs(10)))?;
    assert!(exit.is_clean(), "{exit:?}");
    assert_eq!(exit.exit_type, VmExitType::PSCI_POWER_OFF);
    assert_eq!(exit.reason, b"bye");
    assert_eq!(
        String::from_utf8_lossy(&device.written.lock().unwrap()),
        "Hello from a Gunyah guest!\n"
    );
    let expected = vec![
        VmEvent::State(VmState::STARTING),
        VmEvent::State(VmState::RUNNING),
        VmEvent::State(VmState::EXITED),
        VmEvent::Exit(exit.clone()),
    ];
    let got: Vec<VmEvent> = events.iter().take(4).collect();
    assert_eq!(got, expected, "the channel, in order");
    assert_eq!(*seen.lock().unwrap(), expected, "the closure, in order");
    assert_eq!(vm.exit_info()?, Some(exit));
    drop(vm);
    service.wait_for_footprint(service.baseline()?, Duration::from_secs(2))?;
    Ok(())
}

#[test]
fn test_wait_times_out_then_destroy_ends_the_wait() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(2)?;
    let vm = Arc::new(client.create_vm(&program("idle", "idle\n")?)?);
    vm.start()?;
    let started = Instant::now();
    match vm.wait_for_exit(Some(Duration::from_millis(200))) {
        Err(Error::Timeout(t)) => assert_eq!(t, Duration::from_millis(200)),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(200));
    let (tx, rx) = mpsc::channel();
    let waiter = vm.clone();
    std::thread::spawn(move || tx.send(waiter.wait_for_exit(None).map_err(|e| e.to_string())));
    vm.destroy()?;
    let result = rx.recv_timeout(Duration::from_secs(5))?;
    let err = result.expect_err("destroyed, not exited");
    assert!(
        err.contains("INVALID_STATE") && err.contains("destroyed before its guest stopped"),
        "{err}"
    );
    assert_eq!(vm.state()?, VmState::DESTROYED);
    Ok(())
}

#[test]
fn test_doorbells_through_eventfd_helpers() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(2)?;
    let vm = client.create_vm(&program("echo", DOORBELL_ECHO)?)?;
    let irqfd = vm.create_irqfd(1, false)?;
    let ioeventfd = vm.create_ioeventfd(0x9000_1000, 4, None)?;
    let device = Arc::new(Device::default());
    *device.answers.lock().unwrap() = vec![0, 1];
    vm.set_mmio_handler(0x9000_2000, 4096, device)?;
    vm.start()?;
    assert_eq!(
        ioeventfd.wait(Duration::from_millis(100)),
        None,
        "not before the ring"
    );
    for round in 1..=2 {
        irqfd.signal(1)?;
        assert_eq!(
            ioeventfd.wait(Duration::from_secs(5)),
            Some(1),
            "round {round}"
        );
    }
    let exit = vm.wait_for_exit(Some(Duration::from_secs(10)))?;
    assert_eq!(
        (exit.exit_type, exit.reason.as_slice()),
        (VmExitType::VM_EXIT, &b"done"[..])
    );
    Ok(())
}

#[test]
fn test_invalid_requests_fail_before_the_call() -> Result<()> {
    let service = Service::start(&["--max-vcpus-per-vm", "2"])?;
    let client = service.connect(0)?;
    // The service's own limit (from Capabilities), applied locally.
    let err = client
        .create_vm(&program("big", "idle\n")?.vcpus(3))
        .err()
        .expect("rejected");
    assert_eq!(err.code(), Some(ErrorCode::INVALID_ARGUMENT));
    assert_eq!(
        err.to_string(),
        "createVm: INVALID_ARGUMENT: vcpuCount: 3 is out of range (1..=2)"
    );
    let err = client
        .create_vm(&VmBuilder::new("no-memory"))
        .err()
        .expect("rejected");
    assert_eq!(err.to_string(), "memory: the VM has no memory");
    assert_eq!(service.diagnostics()?.count(Counter::CreatedTotal), 0);
    assert_eq!(
        service.diagnostics()?.count(Counter::FailedTotal),
        0,
        "never sent"
    );
    Ok(())
}

#[test]
fn test_service_death_ends_waits_with_an_error() -> Result<()> {
    let mut service = Service::start(&[])?;
    let client = service.connect(2)?;
    let vm = Arc::new(client.create_vm(&program("idle", "idle\n")?)?);
    vm.start()?;
    assert!(vm.wait_for_state(VmState::RUNNING, Duration::from_secs(5)));
    let events = vm.events();
    let (tx, rx) = mpsc::channel();
    let waiter = vm.clone();
    std::thread::spawn(move || tx.send(waiter.wait_for_exit(None)));
    service.kill()?;
    let result = rx.recv_timeout(Duration::from_secs(10))?;
    assert!(matches!(result, Err(Error::ServiceDied)), "{result:?}");
    assert_eq!(
        events.recv_timeout(Duration::from_secs(1))?,
        VmEvent::ServiceDied
    );
    assert!(
        matches!(vm.state(), Err(Error::ServiceDied)),
        "calls after death say so"
    );
    Ok(())
}
