//! The MMIO ring (interface V3, docs/MMIO_RING.md) through the service: the client library
//! uses it, and a client that answers late, twice, out of order, with garbage or never can hurt
//! only its own VM — never the service, another VM, or the service's fds.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use gunyah_binder::aidl::{
    ErrorCode::ErrorCode,
    GuestRange::GuestRange,
    IGunyahMmioHandler::IGunyahMmioHandler,
    IGunyahVm::{BnGunyahVm, IGunyahVm},
    IGunyahVmCallback::IGunyahVmCallback,
    IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig,
    MmioRing::MmioRing,
    MmioRingRequest::MmioRingRequest,
    VmExitInfo::VmExitInfo,
    VmState::VmState,
};
use gunyah_binder::{BinderResult, ParcelFileDescriptor, Strong};
use gunyah_contract::mmio_ring::{self, Access, Action, Answer};
use gunyah_vm_client::demo::demo_config_with_program;
use gunyah_vm_client::mmio::MmioHandler;
use gunyah_vm_client::Vm;
use gunyah_vm_tests::raw_ring::RawRing;
use gunyah_vm_tests::{assert_service_error, read_eventfd, spawn_test_client, wait_until, Service};

const MIB: u64 = 1 << 20;
const DEVICE: i64 = 0x9000_0000;
const WAIT: Duration = Duration::from_secs(10);

fn request(guest_phys_addr: i64, size: i64, fault_answers: bool) -> MmioRingRequest {
    MmioRingRequest {
        range: GuestRange {
            guestPhysAddr: guest_phys_addr,
            size,
        },
        faultAnswers: fault_answers,
    }
}

fn create(
    service_client: &gunyah_vm_client::Client,
    name: &str,
    program: &str,
) -> Result<Strong<dyn IGunyahVm>> {
    service_client
        .manager()
        .createVm(&demo_config_with_program(name, MIB, 1, program)?)
        .map_err(|s| anyhow::anyhow!("createVm: {s:?}"))
}

fn wait_state(vm: &Strong<dyn IGunyahVm>, state: VmState) -> bool {
    wait_until(WAIT, || vm.getState().is_ok_and(|s| s == state))
}

/// A device register the guest reads and writes, as a library handler.
#[derive(Default)]
struct Register(Mutex<Vec<(u64, u64)>>);

impl MmioHandler for Register {
    fn read(&self, address: u64, _size: u32) -> u64 {
        address & 0xff | 0x4200
    }
    fn write(&self, address: u64, _size: u32, value: u64) {
        self.0.lock().unwrap().push((address, value));
    }
}

fn ring_thread_running() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|tasks| {
        tasks.flatten().any(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.ends_with("-mmio-ring\n"))
        })
    })
}

#[test]
fn test_the_client_library_serves_its_handlers_through_the_ring() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(1)?;
    let program = "load2 r0, [0x90000010]\nstore8 [0x90000020], r0\nexit VM_EXIT, \"done\"";
    let vm = Vm::attach(create(&client, "ring", program)?)?;
    let device = Arc::new(Register::default());
    vm.set_mmio_handler(DEVICE as u64, 0x1000, device.clone())?;
    // (A new thread names itself once it runs.)
    assert!(
        wait_until(WAIT, ring_thread_running),
        "a V3 service: the library serves the ring"
    );
    vm.start()?;
    let exit = vm.wait_for_exit(Some(WAIT))?;
    assert_eq!(exit.reason, b"done");
    assert_eq!(
        *device.0.lock().unwrap(),
        vec![(0x9000_0020, 0x4210)],
        "the guest wrote back what its read returned"
    );
    let d = service.diagnostics()?;
    let line = &d.vms[0];
    assert_eq!(
        (
            line.mmio_handlers,
            line.mmio_ring_ranges,
            line.unhandled_mmio.reads
        ),
        (0, 1, 0)
    );
    drop(vm);
    assert!(
        wait_until(WAIT, || !ring_thread_running()),
        "the ring thread ends with the handle"
    );
    Ok(())
}

/// A VM as a V2 service serves it: every call goes to the real VM, but the interface version
/// says 2 (a V2 service has no `setMmioRing`; calling it here fails the test).
struct V2Service(Strong<dyn IGunyahVm>);

impl gunyah_binder::Interface for V2Service {}

impl IGunyahVm for V2Service {
    fn getId(&self) -> BinderResult<i32> {
        self.0.getId()
    }
    fn getState(&self) -> BinderResult<VmState> {
        self.0.getState()
    }
    fn start(&self) -> BinderResult<()> {
        self.0.start()
    }
    fn destroy(&self) -> BinderResult<()> {
        self.0.destroy()
    }
    fn registerCallback(&self, callback: &Strong<dyn IGunyahVmCallback>) -> BinderResult<()> {
        self.0.registerCallback(callback)
    }
    fn unregisterCallback(&self, callback: &Strong<dyn IGunyahVmCallback>) -> BinderResult<()> {
        self.0.unregisterCallback(callback)
    }
    fn createIrqfd(&self, config: &IrqfdConfig) -> BinderResult<ParcelFileDescriptor> {
        self.0.createIrqfd(config)
    }
    fn createIoeventfd(&self, config: &IoeventfdConfig) -> BinderResult<ParcelFileDescriptor> {
        self.0.createIoeventfd(config)
    }
    fn setMmioHandler(
        &self,
        range: &GuestRange,
        handler: Option<&Strong<dyn IGunyahMmioHandler>>,
    ) -> BinderResult<()> {
        self.0.setMmioHandler(range, handler)
    }
    fn getExitInfo(&self) -> BinderResult<Option<VmExitInfo>> {
        self.0.getExitInfo()
    }
    fn setMmioRing(&self, _request: &MmioRingRequest) -> BinderResult<MmioRing> {
        panic!("a V2 service has no setMmioRing");
    }
    fn getInterfaceVersion(&self) -> BinderResult<i32> {
        Ok(2)
    }
}

#[test]
fn test_the_client_library_falls_back_to_binder_handlers_before_v3() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(2)?;
    let program = "load2 r0, [0x90000010]\nstore8 [0x90000020], r0\nexit VM_EXIT, \"done\"";
    let real = create(&client, "v2", program)?;
    let vm = Vm::attach(gunyah_binder::new_binder!(BnGunyahVm, V2Service(real)))?;
    let device = Arc::new(Register::default());
    vm.set_mmio_handler(DEVICE as u64, 0x1000, device.clone())?;
    let d = service.diagnostics()?;
    assert_eq!((d.vms[0].mmio_handlers, d.vms[0].mmio_ring_ranges), (1, 0));
    vm.start()?;
    assert_eq!(vm.wait_for_exit(Some(WAIT))?.reason, b"done");
    assert_eq!(*device.0.lock().unwrap(), vec![(0x9000_0020, 0x4210)]);
    Ok(())
}

/// A VM with more vCPUs than a ring has slots gets no ring; the library serves it over binder.
#[test]
fn test_a_vm_too_wide_for_a_ring_is_served_over_binder() -> Result<()> {
    let vcpus = mmio_ring::MAX_SLOTS + 1;
    let limit = vcpus.to_string();
    let service = Service::start(&[
        "--max-vcpus-per-vm",
        &limit,
        "--max-vcpus-per-client",
        &limit,
    ])?;
    let client = service.connect(2)?;
    let binder = client
        .manager()
        .createVm(&demo_config_with_program(
            "wide",
            MIB,
            vcpus as i32,
            "idle",
        )?)
        .map_err(|s| anyhow::anyhow!("createVm: {s:?}"))?;
    assert_service_error(
        binder.setMmioRing(&request(DEVICE, 0x1000, false)),
        ErrorCode::UNSUPPORTED.0,
        "setMmioRing: a ring has at most 62 slots",
    );
    let vm = Vm::attach(binder)?;
    vm.set_mmio_handler(DEVICE as u64, 0x1000, Register::default())?;
    let d = service.diagnostics()?;
    assert_eq!((d.vms[0].mmio_handlers, d.vms[0].mmio_ring_ranges), (1, 0));
    Ok(())
}

/// A handler that panics on its first read.
struct Panicky(std::sync::atomic::AtomicBool);

impl MmioHandler for Panicky {
    fn read(&self, _address: u64, _size: u32) -> u64 {
        if !self.0.swap(true, Ordering::SeqCst) {
            panic!("a handler bug");
        }
        7
    }
    fn write(&self, _address: u64, _size: u32, _value: u64) {}
}

/// A panicking handler does not end the ring thread: that access reads 0, the next is served.
#[test]
fn test_a_panicking_handler_does_not_stop_the_ring() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(1)?;
    let program = "load8 r0, [0x90000000]\njnz r0, bad\nload8 r1, [0x90000000]\n\
                   jeq r1, 7, good\nbad: crash\ngood: exit VM_EXIT, \"served\"";
    let vm = Vm::attach(create(&client, "panicky", program)?)?;
    vm.set_mmio_handler(DEVICE as u64, 0x1000, Panicky(Default::default()))?;
    vm.start()?;
    assert_eq!(vm.wait_for_exit(Some(WAIT))?.reason, b"served");
    Ok(())
}

#[test]
fn test_ring_requests_are_checked_and_ranges_have_one_server() -> Result<()> {
    let service = Service::start(&["--mock-generation", "ack66-late"])?;
    let client = service.connect(0)?;
    let vm = create(&client, "checks", "idle")?;
    assert_service_error(
        vm.setMmioRing(&request(DEVICE, 0, false)),
        ErrorCode::INVALID_ARGUMENT.0,
        "request.range.size: must not be 0",
    );
    let ring = vm.setMmioRing(&request(DEVICE, 0x1000, true))?;
    assert_eq!(ring.slotCount, 1);
    assert_eq!(ring.answerPosted.len(), 1);
    assert_service_error(
        vm.setMmioRing(&request(DEVICE + 0x800, 0x1000, false)),
        ErrorCode::INVALID_ARGUMENT.0,
        "range: overlaps the MMIO ring range of [0x90000000, 0x90001000)",
    );
    // The range is the ring's: no handler may take it, until it is removed.
    vm.setMmioHandler(
        &GuestRange {
            guestPhysAddr: DEVICE,
            size: 0x1000,
        },
        None,
    )?;
    vm.setMmioRing(&request(DEVICE, 0x1000, false))?;
    // On a14, a fault cannot be injected: refused up front, naming the field.
    let a14 = Service::start(&["--mock-generation", "a14-late"])?;
    let a14_client = a14.connect(0)?;
    let old = create(&a14_client, "a14", "idle")?;
    assert_service_error(
        old.setMmioRing(&request(DEVICE, 0x1000, true)),
        ErrorCode::UNSUPPORTED.0,
        "request.faultAnswers: the a14-late driver has no resume_action",
    );
    old.setMmioRing(&request(DEVICE, 0x1000, false))?;
    Ok(())
}

/// A guest that reads the device, writes the value back, reads another register and exits
/// "ok" if that read returned 0.
const READ_WRITE_READ: &str = "load8 r0, [0x90000000]\nstore8 [0x90000008], r0\n\
                               load8 r1, [0x90000010]\njnz r1, bad\nexit VM_EXIT, \"ok\"\nbad: crash";

#[test]
fn test_answers_out_of_order_twice_or_malformed_are_not_taken() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    // A second VM of the same client keeps answering its doorbell throughout.
    let echo = create(
        &client,
        "bystander",
        "again: wait 1\nstore4 [0x90001000], 1\njmp again\n",
    )?;
    let irqfd: std::os::fd::OwnedFd = echo
        .createIrqfd(&IrqfdConfig {
            label: 1,
            levelTriggered: false,
        })?
        .into();
    let ioeventfd: std::os::fd::OwnedFd = echo
        .createIoeventfd(&IoeventfdConfig {
            guestPhysAddr: 0x9000_1000,
            size: 4,
            matchData: false,
            data: 0,
        })?
        .into();
    echo.start()?;
    let bystander_answers = || -> bool {
        nix::unistd::write(&irqfd, &1u64.to_ne_bytes()).is_ok()
            && read_eventfd(&ioeventfd, WAIT).is_some()
    };

    let vm = create(&client, "hostile", READ_WRITE_READ)?;
    let ring = RawRing::open(&vm.setMmioRing(&request(DEVICE, 0x1000, false))?)?;
    vm.start()?;
    let (seq, access) = ring.next_exit(0, 0, WAIT).expect("the first read");
    assert_eq!(
        access,
        Access {
            address: 0x9000_0000,
            size: 8,
            write: None
        }
    );
    // Answers to an exit not posted yet, and to none: the vCPU keeps waiting.
    ring.answer(0, seq + 1, &Answer::handled(1))?;
    ring.answer(0, seq - 1, &Answer::handled(2))?;
    assert!(bystander_answers(), "another VM is not held up");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        ring.ring().pending_exit(0, seq - 1),
        Some((seq, access)),
        "still exit {seq}"
    );
    // The right number: taken, and the guest writes the value back.
    ring.answer(0, seq, &Answer::handled(0x1234))?;
    let (seq2, write) = ring.next_exit(0, seq, WAIT).expect("the write");
    assert_eq!(write.write, Some(0x1234));
    ring.answer(0, seq2, &Answer::handled(0))?;
    // Answered twice: the second copy, with data, must not answer the next read.
    ring.answer(0, seq2, &Answer::handled(0xbad))?;
    let (seq3, read) = ring.next_exit(0, seq2, WAIT).expect("the second read");
    assert_eq!(read.address, 0x9000_0010);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        ring.ring().pending_exit(0, seq2),
        Some((seq3, read)),
        "still waiting"
    );
    // A malformed action is refused: the read completes as unhandled (0) and the guest exits.
    let slot = &ring.words()[8..16];
    slot[6].store(0xbad, Ordering::Relaxed);
    slot[5].store(7, Ordering::Relaxed);
    slot[4].store(seq3, Ordering::Release);
    ring.signal(0)?;
    assert!(wait_state(&vm, VmState::EXITED), "{:?}", vm.getState());
    assert_eq!(vm.getExitInfo()?.expect("exit info").reason, b"ok");
    assert!(bystander_answers());
    assert!(service.log().contains("refused"), "{}", service.log());
    Ok(())
}

#[test]
fn test_a_scribbled_ring_and_a_client_that_never_answers_hurt_only_their_vm() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let baseline = service.baseline()?;
    for (round, release) in ["destroy", "last reference"].into_iter().enumerate() {
        let vm = create(&client, "silent", READ_WRITE_READ)?;
        let ring = RawRing::open(&vm.setMmioRing(&request(DEVICE, 0x1000, false))?)?;
        vm.start()?;
        ring.next_exit(0, 0, WAIT).expect("the first read");
        // Garbage everywhere, the header and the service's own words included.
        for (i, word) in ring.words().iter().enumerate() {
            word.store(0x5a5a_5a5a_0000_0000 | i as u64, Ordering::Relaxed);
        }
        ring.signal(0)?;
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            vm.getState()?,
            VmState::RUNNING,
            "round {round}: waiting still"
        );
        // Another VM can be made and run meanwhile.
        let other = create(&client, "other", "exit VM_EXIT")?;
        other.start()?;
        assert!(wait_state(&other, VmState::EXITED));
        drop(other);
        let t = Instant::now();
        match release {
            "destroy" => vm.destroy()?,
            _ => drop(vm),
        }
        service.wait_for_footprint(baseline, WAIT)?;
        eprintln!(
            "{release}: the waiting vCPU was released in {:?}",
            t.elapsed()
        );
    }
    assert!(!service.log().contains("did not stop"), "{}", service.log());
    Ok(())
}

/// A client SIGKILLed while its vCPU waits for a ring answer: its session ends, the VM's last
/// reference goes, and the waiting vCPU is released with everything else.
#[test]
fn test_a_client_killed_while_its_vcpu_waits_on_the_ring_loses_its_vm() -> Result<()> {
    let service = Service::start(&[])?;
    let warm = service.connect(0)?;
    drop(create(&warm, "warm", "idle")?);
    let baseline = service.baseline()?;
    for round in 0..5 {
        let (mut child, line) = spawn_test_client(&service, &["--block-in-ring"])?;
        assert_eq!(line, "IN_RING\n", "round {round}: child said {line:?}");
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL)?;
        child.wait()?;
        service.wait_for_footprint(baseline, WAIT)?;
    }
    assert!(!service.log().contains("did not stop"), "{}", service.log());
    Ok(())
}

#[test]
fn test_a_fault_answer_crashes_the_guest_where_the_range_allows_it() -> Result<()> {
    let service = Service::start(&["--mock-generation", "ack66-late"])?;
    let client = service.connect(0)?;
    for (allowed, state, reason) in [
        (true, VmState::CRASHED, None),
        (false, VmState::EXITED, Some(&b"ok"[..])),
    ] {
        let vm = create(
            &client,
            "fault",
            "load8 r1, [0x90000010]\njnz r1, bad\nexit VM_EXIT, \"ok\"\nbad: crash",
        )?;
        let ring = RawRing::open(&vm.setMmioRing(&request(DEVICE, 0x1000, allowed))?)?;
        vm.start()?;
        let (seq, _) = ring.next_exit(0, 0, WAIT).expect("the read");
        ring.answer(
            0,
            seq,
            &Answer {
                action: Action::Fault,
                read_data: 1,
            },
        )?;
        assert!(
            wait_state(&vm, state),
            "allowed {allowed}: {:?}",
            vm.getState()
        );
        if let Some(reason) = reason {
            assert_eq!(vm.getExitInfo()?.expect("exit info").reason, reason);
        }
    }
    Ok(())
}
