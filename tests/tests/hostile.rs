//! Hostile clients: malformed and abusive inputs each get a precise answer, the service keeps
//! serving, and its footprint returns to the baseline; one uid cannot see another's VMs.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Result;

use gunyah_binder::aidl::{
    ErrorCode::ErrorCode,
    GuestRange::GuestRange,
    IGunyahMmioHandler::{BnGunyahMmioHandler, IGunyahMmioHandler},
    VmState::VmState,
};
use gunyah_binder::{self as binder, BinderResult, CallError, Interface};
use gunyah_contract::diagnostics::Counter;
use gunyah_sys::memfd;
use gunyah_vm_client::demo::{demo_config, demo_config_with_program, ram_region};
use gunyah_vm_tests::{assert_service_error, Service};

const MIB: u64 = 1 << 20;

#[test]
fn test_too_many_fds_fail_on_the_client_side() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let baseline = service.baseline()?;
    // 65 memfds cannot travel in one RPC message: the call fails in the client, before the
    // service sees anything.
    let mut config = demo_config("many", MIB, 1)?;
    for i in 1..65 {
        config.memoryRegions.push(ram_region(
            i,
            0x1_0000_0000 + i64::from(i) * 0x10_0000,
            4096,
        )?);
    }
    let status = client
        .manager()
        .createVm(&config)
        .map(drop)
        .expect_err("65 fds");
    assert!(
        matches!(binder::classify(&status), CallError::Other(_)),
        "{status:?}"
    );
    drop(config);
    // 33 regions travel, and are refused by the limit.
    let mut config = demo_config("many", MIB, 1)?;
    for i in 1..33 {
        config.memoryRegions.push(ram_region(
            i,
            0x1_0000_0000 + i64::from(i) * 0x10_0000,
            4096,
        )?);
    }
    assert_service_error(
        client.manager().createVm(&config).map(drop),
        ErrorCode::INVALID_ARGUMENT.0,
        "memoryRegions: 33 regions, at most 32",
    );
    drop(config);
    service.wait_for_footprint(baseline, Duration::from_secs(2))?;
    // Untouched: a new client still works.
    let again = service.connect(0)?;
    again
        .manager()
        .createVm(&demo_config("ok", MIB, 1)?)
        .expect("createVm");
    Ok(())
}

#[test]
fn test_one_memfd_in_many_regions_and_grown_memfds() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let mut config = demo_config("shared-fd", MIB, 1)?;
    // One 4 MiB memfd backing four regions at different offsets.
    let file = memfd::sealed("shared", 4 * MIB)?;
    for i in 0..4 {
        let mut region = ram_region(10 + i, 0x1_0000_0000 + i64::from(i) * 0x100_0000, 4096)?;
        region.memory = Some(binder::pfd_from(file.try_clone()?.into()));
        region.memoryOffset = i64::from(i) * MIB as i64;
        region.size = MIB as i64;
        config.memoryRegions.push(region);
    }
    // A memfd sealed against shrinking only, then grown: still fine (it cannot shrink).
    let grown = memfd::create("grown", 4096)?;
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&grown),
        nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::F_SEAL_SHRINK),
    )?;
    grown.set_len(8192)?;
    let mut region = ram_region(20, 0x2_0000_0000, 8192)?;
    region.memory = Some(binder::pfd_from(grown.into()));
    config.memoryRegions.push(region);
    let vm = client.manager().createVm(&config).expect("createVm");
    vm.start().expect("start");
    assert_eq!(
        service
            .diagnostics()?
            .count(Counter::BackendRegisteredBytes),
        5 * MIB + 8192
    );
    Ok(())
}

#[test]
fn test_sockets_and_unsealed_memory_are_refused() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let (sock, _peer) = std::os::unix::net::UnixStream::pair()?;
    let mut config = demo_config("sock", MIB, 1)?;
    config.memoryRegions[0].memory = Some(binder::pfd_from(sock.into()));
    assert_service_error(
        client.manager().createVm(&config).map(drop),
        ErrorCode::INVALID_ARGUMENT.0,
        "memoryRegions[0].memory: not a memfd",
    );
    let mut config = demo_config("dir", MIB, 1)?;
    config.memoryRegions[0].memory = Some(binder::pfd_from(std::fs::File::open("/")?.into()));
    assert_service_error(
        client.manager().createVm(&config).map(drop),
        ErrorCode::INVALID_ARGUMENT.0,
        "memoryRegions[0].memory: not a memfd",
    );
    assert_eq!(service.diagnostics()?.count(Counter::BackendLiveVms), 0);
    Ok(())
}

#[test]
fn test_start_and_destroy_racing_from_many_threads() -> Result<()> {
    let service = Service::start(&["--threads", "32"])?;
    let client = service.connect(0)?;
    let baseline = service.baseline()?;
    for round in 0..10 {
        let vm = client
            .manager()
            .createVm(&demo_config(&format!("race-{round}"), MIB, 2)?)
            .expect("createVm");
        std::thread::scope(|s| {
            for t in 0..16 {
                let vm = &vm;
                s.spawn(move || {
                    for _ in 0..5 {
                        // Either may win; every answer must be success or INVALID_STATE.
                        let result = if t % 2 == 0 { vm.start() } else { vm.destroy() };
                        if let Err(status) = result {
                            match binder::classify(&status) {
                                CallError::ServiceSpecific { code, .. }
                                    if code == ErrorCode::INVALID_STATE.0 => {}
                                other => panic!("unexpected {other:?}"),
                            }
                        }
                    }
                });
            }
        });
        vm.destroy().expect("destroy");
        assert_eq!(vm.getState().unwrap(), VmState::DESTROYED);
    }
    service.wait_for_footprint(baseline, Duration::from_secs(5))?;
    Ok(())
}

/// A handler that fails every call.
struct Failing;
impl Interface for Failing {}
impl IGunyahMmioHandler for Failing {
    fn onRead(&self, _address: i64, _size: i32) -> BinderResult<i64> {
        Err(binder::service_specific(99, "device unplugged"))
    }
    fn onWrite(&self, _address: i64, _size: i32, _value: i64) -> BinderResult<()> {
        Err(binder::illegal_argument("no"))
    }
}

#[test]
fn test_a_failing_mmio_handler_reads_zero() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(2)?;
    let program = "store4 [0x90000004], 1\nload4 r0, [0x90000000]\njnz r0, bad\nexit VM_EXIT, \"zero\"\nbad: crash";
    let vm = client
        .manager()
        .createVm(&demo_config_with_program("failing", MIB, 1, program)?)
        .expect("createVm");
    let handler = gunyah_binder::new_binder!(BnGunyahMmioHandler, Failing);
    vm.setMmioHandler(
        &GuestRange {
            guestPhysAddr: 0x9000_0000,
            size: 4096,
        },
        Some(&handler),
    )
    .unwrap();
    vm.start().expect("start");
    assert!(gunyah_vm_tests::wait_until(Duration::from_secs(5), || vm
        .getState()
        .unwrap()
        == VmState::EXITED));
    assert_eq!(
        vm.getExitInfo().unwrap().expect("exit info").reason,
        b"zero"
    );
    Ok(())
}

#[test]
#[ignore = "needs root (its second client switches to uid 4242): .ci/run runs it with --ignored"]
fn test_a_uid_sees_only_its_own_vms() -> Result<()> {
    const OTHER: u32 = 4242;
    let me = nix::unistd::geteuid().as_raw();
    assert_eq!(
        me, 0,
        "needs root: its second client switches to uid {OTHER}"
    );
    let service = Service::start(&[
        "--socket-mode",
        "0666",
        "--allow-uid",
        "0",
        "--allow-uid",
        "4242",
    ])?;
    // The socket's directory must be reachable by the other uid.
    std::fs::set_permissions(
        service.dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let client = service.connect(0)?;
    let mine = client
        .manager()
        .createVm(&demo_config("root-vm", MIB, 1)?)
        .expect("createVm");
    let my_id = mine.getId().unwrap();

    let mut other = Command::new(env!("CARGO_BIN_EXE_gunyah-test-client"))
        .arg("--socket")
        .arg(&service.socket)
        .args(["--vms", "2", "--list"])
        .uid(OTHER)
        .gid(OTHER)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(other.stdout.take().expect("stdout")).lines();
    let ready = lines.next().expect("READY")?;
    let theirs: Vec<i32> = ready
        .strip_prefix("READY ")
        .expect(&ready)
        .split(' ')
        .map(|i| i.parse().unwrap())
        .collect();
    let listed = lines.next().expect("LIST")?;
    let listed: Vec<i32> = listed
        .strip_prefix("LIST ")
        .expect(&listed)
        .split(' ')
        .map(|i| i.parse().unwrap())
        .collect();
    assert_eq!(listed, theirs, "uid {OTHER} lists exactly its own VMs");
    assert!(!listed.contains(&my_id));
    let mine_listed: Vec<i32> = client
        .manager()
        .listVms()
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(mine_listed, vec![my_id], "root lists only its own VM");
    let d = service.diagnostics()?;
    assert_eq!(d.count(Counter::LiveVms), 3);
    assert_eq!(d.vms.iter().filter(|vm| vm.uid == 4242).count(), 2);
    other.kill()?;
    other.wait()?;
    assert!(gunyah_vm_tests::wait_until(Duration::from_secs(2), || {
        service
            .diagnostics()
            .is_ok_and(|d| d.count(Counter::LiveVms) == 1)
    }));
    Ok(())
}

#[test]
fn test_low_fd_limit_is_resource_exhausted() -> Result<()> {
    // A service with few fds: VMs (each a VM fd plus vCPU fds) run out of them.
    let service = Service::start_under(&["prlimit", "--nofile=24:24", "--"], &[])?;
    let client = service.connect(0)?;
    let mut vms = Vec::new();
    let failure = loop {
        match client
            .manager()
            .createVm(&demo_config(&format!("fd-{}", vms.len()), 64 << 10, 4)?)
        {
            Ok(vm) => vms.push(vm),
            Err(status) => break status,
        }
        assert!(vms.len() < 24, "the fd limit never hit");
    };
    match binder::classify(&failure) {
        CallError::ServiceSpecific { code, message } => {
            assert_eq!(code, ErrorCode::RESOURCE_EXHAUSTED.0, "{message}");
            assert!(message.contains("EMFILE"), "{message}");
        }
        // The received memfd itself may be what no longer fits: the transport refuses it.
        CallError::Other(m) => eprintln!("fd limit hit in the transport: {m}"),
        other => panic!("{other:?}"),
    }
    let held = vms.len();
    drop(vms);
    // Still serving once the fds are back.
    assert!(gunyah_vm_tests::wait_until(Duration::from_secs(2), || {
        service
            .diagnostics()
            .is_ok_and(|d| d.count(Counter::BackendLiveVms) == 0)
    }));
    client
        .manager()
        .createVm(&demo_config("after", 64 << 10, 1)?)
        .expect("createVm after the pressure");
    eprintln!("fd limit 24: {held} VMs of 4 vCPUs fit, the next failed cleanly");
    assert!(!service.log().contains("panicked"));
    Ok(())
}

#[test]
fn test_service_killed_under_load_restarts_clean() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("gunyah-restart-{}", std::process::id()));
    let mut first = Service::start_in(dir.clone(), &[])?;
    let client = first.connect(0)?;
    let vm = client
        .manager()
        .createVm(&demo_config("doomed", MIB, 2)?)
        .expect("createVm");
    vm.start().unwrap();
    let cycling = Command::new(env!("CARGO_BIN_EXE_gunyah-test-client"))
        .arg("--socket")
        .arg(&first.socket)
        .args(["--cycles", "100000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(200));
    first.kill()?;
    // Clients see the service gone: calls fail, and the cycling client ends with an error.
    assert!(vm.getState().is_err(), "a call to a dead service must fail");
    let out = cycling.wait_with_output()?;
    assert!(!out.status.success());
    // A new service on the same socket starts clean.
    let second = Service::start_in(dir, &[])?;
    let fresh = second.connect(0)?;
    assert!(
        fresh.manager().listVms().unwrap().is_empty(),
        "no VM survives its service"
    );
    let vm = fresh
        .manager()
        .createVm(&demo_config("reborn", MIB, 1)?)
        .expect("createVm");
    vm.start().expect("start");
    Ok(())
}
