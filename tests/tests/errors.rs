//! Every `ErrorCode` over the wire, with the `<field path>: ` prefix of its message, and the
//! service untouched afterwards.

use std::time::Duration;

use anyhow::Result;

use gunyah_binder::aidl::{
    BootRegister::BootRegister, BootRegisterSet::BootRegisterSet, DriverAbi::DriverAbi,
    ErrorCode::ErrorCode, GuestRange::GuestRange, IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig, QtvmAuth::QtvmAuth, VmAuthType::VmAuthType, VmState::VmState,
};
use gunyah_contract::diagnostics::Counter;
use gunyah_sys::memfd;
use gunyah_vm_client::demo::{demo_config, ram_region};
use gunyah_vm_client::VmBuilder;
use gunyah_vm_tests::{assert_service_error, wait_until, Service};

const MIB: u64 = 1 << 20;
const INVALID_ARGUMENT: i32 = ErrorCode::INVALID_ARGUMENT.0;

/// A 16 KB-page kernel (modelled by the mock): the service reports its page size, enforces it
/// naming the field, and the client library builds VMs aligned to it.
#[test]
fn test_page_size_is_reported_and_enforced() -> Result<()> {
    let service = Service::start(&["--mock-page-size", "16K"])?;
    let client = service.connect(0)?;
    assert_eq!(client.capabilities()?.pageSize, 16384);
    assert_service_error(
        client
            .manager()
            .createVm(&demo_config("x", MIB + 4096, 1)?)
            .map(|_| ()),
        INVALID_ARGUMENT,
        "memoryRegions[0].size: not a multiple of the page size (16384)",
    );
    let refused = match client.create_vm(&VmBuilder::new("x").memory(0x8000_0000, MIB + 4096)) {
        Ok(_) => panic!("a 4 KiB-aligned size was accepted on a 16 KiB-page kernel"),
        Err(e) => e.to_string(),
    };
    assert!(
        refused.contains("not a multiple of the page size (16384)"),
        "{refused}"
    );
    let vm = client.create_vm(&VmBuilder::new("x").memory(0x8000_0000, MIB))?;
    vm.start()?;
    vm.destroy()?;
    Ok(())
}

#[test]
fn test_invalid_arguments_name_the_field() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let baseline = service.baseline()?;
    let create = |c| client.manager().createVm(&c).map(|_| ());

    let mut c = demo_config("x", MIB, 1)?;
    c.memoryRegions[0].size = 4097;
    assert_service_error(
        create(c),
        INVALID_ARGUMENT,
        "memoryRegions[0].size: not a multiple of the page size (4096)",
    );

    let mut c = demo_config("x", MIB, 1)?;
    c.memoryRegions
        .push(ram_region(1, 0x8000_0000 + 4096, 4096)?);
    assert_service_error(
        create(c),
        INVALID_ARGUMENT,
        "memoryRegions[1].guestPhysAddr: overlaps memoryRegions[0]",
    );

    let mut c = demo_config("x", MIB, 1)?;
    c.memoryRegions[0].memoryOffset = 4096;
    assert_service_error(
        create(c),
        INVALID_ARGUMENT,
        "memoryRegions[0].memoryOffset: memoryOffset + size",
    );

    let mut c = demo_config("x", MIB, 1)?;
    let unsealed = memfd::create("unsealed", MIB)?;
    c.memoryRegions[0].memory = Some(gunyah_binder::pfd_from(unsealed.into()));
    assert_service_error(
        create(c),
        INVALID_ARGUMENT,
        "memoryRegions[0].memory: not sealed against shrinking",
    );

    let mut c = demo_config("x", MIB, 1)?;
    c.memoryRegions[0].memory = Some(gunyah_binder::pfd_from(
        std::fs::File::open("/dev/null")?.into(),
    ));
    assert_service_error(
        create(c),
        INVALID_ARGUMENT,
        "memoryRegions[0].memory: not a memfd",
    );

    let mut c = demo_config("x", MIB, 1)?;
    c.vcpuCount = 0;
    assert_service_error(create(c), INVALID_ARGUMENT, "vcpuCount: 0 is out of range");

    let mut c = demo_config("x", MIB, 1)?;
    c.name = "\u{7}".into();
    assert_service_error(
        create(c),
        INVALID_ARGUMENT,
        "name: contains the control character",
    );

    let mut c = demo_config("x", MIB, 1)?;
    c.dtb = GuestRange {
        guestPhysAddr: 0,
        size: 4096,
    };
    assert_service_error(
        create(c),
        INVALID_ARGUMENT,
        "dtb: [0x0, 0x1000) does not lie inside one memory region",
    );

    let mut c = demo_config("x", MIB, 1)?;
    c.authType = VmAuthType(77);
    assert_service_error(create(c), INVALID_ARGUMENT, "authType: unknown value 77");

    let mut c = demo_config("x", MIB, 1)?;
    c.authType = VmAuthType::QCOM_TRUSTED_VM;
    assert_service_error(
        create(c),
        INVALID_ARGUMENT,
        "qtvmAuth: required with authType QCOM_TRUSTED_VM",
    );

    let mut c = demo_config("x", MIB, 1)?;
    c.bootContext = vec![BootRegister {
        set: BootRegisterSet::PC,
        index: 1,
        value: 0,
    }];
    assert_service_error(
        create(c),
        INVALID_ARGUMENT,
        "bootContext[0].index: 1 is out of range for PC",
    );

    // Nothing was built, nothing leaked.
    service.wait_for_footprint(baseline, Duration::from_secs(2))?;
    assert_eq!(service.diagnostics()?.count(Counter::FailedTotal), 11);
    Ok(())
}

#[test]
fn test_mmio_handler_range_errors() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let vm = client
        .manager()
        .createVm(&demo_config("mmio", MIB, 1)?)
        .expect("createVm");
    let range = GuestRange {
        guestPhysAddr: 0x9000_0000,
        size: 0,
    };
    assert_service_error(
        vm.setMmioHandler(&range, None),
        INVALID_ARGUMENT,
        "range.size: must not be 0",
    );
    let range = GuestRange {
        guestPhysAddr: -4096,
        size: 4096,
    };
    assert_service_error(
        vm.setMmioHandler(&range, None),
        INVALID_ARGUMENT,
        "range.guestPhysAddr: negative",
    );
    let range = GuestRange {
        guestPhysAddr: 0x9000_0000,
        size: 4096,
    };
    assert_service_error(
        vm.setMmioHandler(&range, None),
        INVALID_ARGUMENT,
        "range: no handler or ring serves exactly this range",
    );
    Ok(())
}

#[test]
fn test_invalid_state_after_exit_of_start() -> Result<()> {
    // START fails in the driver: HYPERVISOR_ERROR with the ioctl and errno, state LOAD_FAILED,
    // and a second start is INVALID_STATE.
    let service = Service::start(&["--mock-fault", "GH_VM_START=EIO"])?;
    let client = service.connect(0)?;
    let vm = client
        .manager()
        .createVm(&demo_config("fails", MIB, 1)?)
        .expect("createVm");
    assert_service_error(
        vm.start(),
        ErrorCode::HYPERVISOR_ERROR.0,
        "start: GH_VM_START failed: EIO",
    );
    assert_eq!(vm.getState().unwrap(), VmState::LOAD_FAILED);
    let info = vm.getExitInfo().unwrap().expect("exit info");
    assert_eq!(info.state, VmState::LOAD_FAILED);
    assert_service_error(
        vm.start(),
        ErrorCode::INVALID_STATE.0,
        "start: vm 1 is LOAD_FAILED",
    );
    Ok(())
}

#[test]
fn test_resource_exhausted_quota_and_driver() -> Result<()> {
    // a14 pins guest memory at the ioctl, so the budget is spent there (the later drivers
    // charge at the guest's first touch: `guest.rs`).
    let service = Service::start(&[
        "--max-vms-per-client",
        "1",
        "--mock-memlock-limit",
        "2M",
        "--mock-generation",
        "a14-late",
    ])?;
    let client = service.connect(0)?;
    let exhausted = ErrorCode::RESOURCE_EXHAUSTED.0;
    let first = client
        .manager()
        .createVm(&demo_config("one", MIB, 1)?)
        .expect("createVm");
    assert_service_error(
        client
            .manager()
            .createVm(&demo_config("two", MIB, 1)?)
            .map(|_| ()),
        exhausted,
        "quota.vms: uid ",
    );
    drop(first);
    // The quota comes back once the service has dropped the first VM (its last reference
    // went with `first`).
    assert!(wait_until(Duration::from_secs(10), || service
        .diagnostics()
        .is_ok_and(
            |d| d.count(Counter::VmObjects) == 0 && d.count(Counter::ReleasingVms) == 0
        )));
    // The driver's pinned-memory budget (ENOMEM) is RESOURCE_EXHAUSTED too, naming the region.
    assert_service_error(
        client
            .manager()
            .createVm(&demo_config("big", 4 * MIB, 1)?)
            .map(|_| ()),
        exhausted,
        "memoryRegions[0]: GH_VM_SET_USER_MEM_REGION failed: ENOMEM",
    );
    let d = service.diagnostics()?;
    assert_eq!(d.count(Counter::BackendLiveVms), 0);
    Ok(())
}

#[test]
fn test_unsupported_vm_kind() -> Result<()> {
    let service = Service::start(&["--mock-no-android-ext"])?;
    let client = service.connect(0)?;
    assert_eq!(
        client.manager().getCapabilities().unwrap().authTypes,
        vec![VmAuthType::UNAUTHENTICATED]
    );
    let mut c = demo_config("pvm", MIB, 1)?;
    c.authType = VmAuthType::ANDROID_PVM;
    c.firmware = Some(c.dtb.clone());
    assert_service_error(
        client.manager().createVm(&c).map(|_| ()),
        ErrorCode::UNSUPPORTED.0,
        "authType: the driver does not support ANDROID_PVM VMs",
    );
    Ok(())
}

/// The a14 driver has no SET_BOOT_CONTEXT and no SET_AUTH_TYPE: boot registers and QTVMs are
/// refused at createVm, naming the field, not dropped or left to fail in the driver.
#[test]
fn test_a14_refuses_boot_registers_and_qtvms() -> Result<()> {
    let service = Service::start(&["--mock-generation", "a14-late"])?;
    let client = service.connect(0)?;
    let caps = client.manager().getCapabilities().unwrap();
    assert_eq!(caps.driverGeneration, DriverAbi::GH_ANDROID14);
    assert_eq!(
        caps.authTypes,
        vec![VmAuthType::UNAUTHENTICATED, VmAuthType::ANDROID_PVM]
    );
    let mut c = demo_config("boot", MIB, 1)?;
    c.bootContext = vec![BootRegister {
        set: BootRegisterSet::PC,
        index: 0,
        value: c.dtb.guestPhysAddr,
    }];
    assert_service_error(
        client.manager().createVm(&c).map(|_| ()),
        ErrorCode::UNSUPPORTED.0,
        "bootContext: the a14-late driver (android14-6.1, later builds) has no GH_VM_SET_BOOT_CONTEXT",
    );
    let mut q = demo_config("qtvm", MIB, 1)?;
    q.authType = VmAuthType::QCOM_TRUSTED_VM;
    q.qtvmAuth = Some(QtvmAuth {
        vmId: 1,
        pasId: 2,
        image: q.dtb.clone(),
    });
    assert_service_error(
        client.manager().createVm(&q).map(|_| ()),
        ErrorCode::UNSUPPORTED.0,
        "authType: the driver does not support QCOM_TRUSTED_VM VMs",
    );
    // The later drivers ignore boot registers of authenticated VMs: refused there too.
    let later = Service::start(&["--mock-generation", "ack66-late"])?;
    let later_client = later.connect(0)?;
    let mut pvm = demo_config("pvm-boot", MIB, 1)?;
    pvm.authType = VmAuthType::ANDROID_PVM;
    pvm.firmware = Some(pvm.dtb.clone());
    pvm.bootContext = c.bootContext.clone();
    assert_service_error(
        later_client.manager().createVm(&pvm).map(|_| ()),
        ErrorCode::UNSUPPORTED.0,
        "bootContext: the ack66-late driver ignores boot registers of authenticated VMs",
    );
    // Without boot registers an a14 VM is built and runs.
    let vm = client
        .manager()
        .createVm(&demo_config("plain", MIB, 1)?)
        .expect("createVm");
    vm.start().expect("start");
    // Nothing was left behind by the refusals.
    assert_eq!(service.diagnostics()?.count(Counter::BackendLiveVms), 1);
    Ok(())
}

#[test]
fn test_doorbell_argument_errors() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    let vm = client
        .manager()
        .createVm(&demo_config("fn", MIB, 1)?)
        .expect("createVm");
    vm.createIrqfd(&IrqfdConfig {
        label: 4,
        levelTriggered: false,
    })
    .expect("createIrqfd");
    assert_service_error(
        vm.createIrqfd(&IrqfdConfig {
            label: 4,
            levelTriggered: true,
        }),
        INVALID_ARGUMENT,
        "config.label: doorbell 4 is already bound",
    );
    assert_service_error(
        vm.createIrqfd(&IrqfdConfig {
            label: -1,
            levelTriggered: false,
        }),
        INVALID_ARGUMENT,
        "config.label: negative",
    );
    let ioe = |addr, size, match_data| IoeventfdConfig {
        guestPhysAddr: addr,
        size,
        matchData: match_data,
        data: 0,
    };
    assert_service_error(
        vm.createIoeventfd(&ioe(0x9000_0000, 3, false)),
        INVALID_ARGUMENT,
        "config.size: 3 is not 0, 1, 2, 4 or 8",
    );
    assert_service_error(
        vm.createIoeventfd(&ioe(0x9000_0000, 0, true)),
        INVALID_ARGUMENT,
        "config.matchData: needs a size",
    );
    assert_service_error(
        vm.createIoeventfd(&ioe(-8, 4, false)),
        INVALID_ARGUMENT,
        "config.guestPhysAddr: negative",
    );
    vm.createIoeventfd(&ioe(0x9000_0000, 4, false))
        .expect("createIoeventfd");
    assert_service_error(
        vm.createIoeventfd(&ioe(0x9000_0000, 4, false)),
        INVALID_ARGUMENT,
        "config: collides with an ioeventfd already at 0x90000000",
    );
    Ok(())
}

#[test]
fn test_hypervisor_error_in_create() -> Result<()> {
    let service = Service::start(&["--mock-fault", "GH_VM_ADD_FUNCTION=EBUSY"])?;
    let client = service.connect(0)?;
    let baseline = service.baseline()?;
    assert_service_error(
        client
            .manager()
            .createVm(&demo_config("busy", MIB, 2)?)
            .map(|_| ()),
        ErrorCode::HYPERVISOR_ERROR.0,
        "vcpu 0: GH_VM_ADD_FUNCTION failed: EBUSY",
    );
    // The VM fd and the mapping made before the failure are gone.
    service.wait_for_footprint(baseline, Duration::from_secs(2))?;
    Ok(())
}
