//! Stable AIDL: the service reports the frozen version and hash, and a client compiled from
//! the frozen V1 snapshot (as an old framework client would be) still works with it.

use anyhow::Result;

use std::time::Duration;

use gunyah_vm_client::demo::{demo_config, demo_config_with_program};
use gunyah_vm_tests::{wait_until, Service};
use vendor_gunyahvm_hardware_gunyah::frozen::v1::vendor::gunyahvm::hardware::gunyah as v1;
use vendor_gunyahvm_hardware_gunyah::frozen::v2::vendor::gunyahvm::hardware::gunyah as v2;

/// A connection to `service` speaking frozen version `$v` (as an old client would), taking
/// `$incoming` calls at once, and its manager proxy.
macro_rules! frozen_manager {
    ($service:expr, $v:ident, $incoming:expr) => {{
        let connection = gunyah_binder::host::Connection::open(
            &$service.socket,
            &gunyah_binder::host::ConnectOptions {
                incoming_connections: $incoming,
            },
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let manager = connection
            .manager::<dyn $v::IGunyahVmManager::IGunyahVmManager>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        (connection, manager)
    }};
}

/// A frozen version's `VmConfig`, built field by field from a current one (the fields every
/// version has: one region, the DTB, the vCPUs).
macro_rules! frozen_config {
    ($v:ident, $current:expr) => {{
        let current = $current;
        let region = current.memoryRegions.into_iter().next().expect("a region");
        $v::VmConfig::VmConfig {
            name: current.name,
            memoryRegions: vec![$v::MemoryRegion::MemoryRegion {
                label: region.label,
                guestPhysAddr: region.guestPhysAddr,
                size: region.size,
                access: region.access,
                memory: region.memory,
                memoryOffset: region.memoryOffset,
                ..Default::default()
            }],
            dtb: $v::GuestRange::GuestRange {
                guestPhysAddr: current.dtb.guestPhysAddr,
                size: current.dtb.size,
            },
            bootContext: current
                .bootContext
                .iter()
                .map(|r| $v::BootRegister::BootRegister {
                    set: $v::BootRegisterSet::BootRegisterSet(r.set.0),
                    index: r.index,
                    value: r.value,
                })
                .collect(),
            vcpuCount: current.vcpuCount,
            ..Default::default()
        }
    }};
}

#[test]
fn test_interface_version_and_hash() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(0)?;
    assert_eq!(
        client.manager().getInterfaceVersion().unwrap(),
        vendor_gunyahvm_hardware_gunyah::VERSION
    );
    assert_eq!(
        client.manager().getInterfaceHash().unwrap(),
        vendor_gunyahvm_hardware_gunyah::HASH
    );
    assert_eq!(vendor_gunyahvm_hardware_gunyah::HASH.len(), 40, "a sha1");
    let vm = client
        .manager()
        .createVm(&demo_config("v", 1 << 20, 1)?)
        .expect("createVm");
    assert_eq!(
        vm.getInterfaceVersion().unwrap(),
        vendor_gunyahvm_hardware_gunyah::VERSION
    );
    Ok(())
}

#[test]
fn test_frozen_v1_client_creates_and_runs_a_vm() -> Result<()> {
    let service = Service::start(&[])?;
    let (_connection, manager) = frozen_manager!(service, v1, 0);
    // The service speaks the latest version; the V1 client reads its V2 parcelables (the
    // fields it does not know are skipped).
    assert_eq!(
        manager.getInterfaceVersion().unwrap(),
        vendor_gunyahvm_hardware_gunyah::VERSION
    );
    const { assert!(vendor_gunyahvm_hardware_gunyah::VERSION >= 2) };
    let caps = manager.getCapabilities().expect("getCapabilities");
    assert_eq!(caps.backend, "mock");
    let config = frozen_config!(v1, demo_config("old-client", 1 << 20, 1)?);
    let vm = manager
        .createVm(&config)
        .expect("createVm from a V1 client");
    vm.start().expect("start");
    assert_eq!(vm.getState().unwrap(), v1::VmState::VmState::RUNNING);
    assert_eq!(manager.listVms().unwrap().len(), 1);
    vm.destroy().expect("destroy");
    assert_eq!(
        vm.getExitInfo().expect("getExitInfo from a V1 client"),
        None
    );
    Ok(())
}

/// A device served by a V2 client's binder handler.
struct V2Device;
impl gunyah_binder::Interface for V2Device {}
impl v2::IGunyahMmioHandler::IGunyahMmioHandler for V2Device {
    fn onRead(&self, address: i64, _size: i32) -> gunyah_binder::BinderResult<i64> {
        Ok(address & 0xff)
    }
    fn onWrite(&self, _address: i64, _size: i32, _value: i64) -> gunyah_binder::BinderResult<()> {
        Ok(())
    }
}

/// A client compiled from the frozen V2 snapshot serves MMIO with its binder handler, as it
/// always did, against the V3 service (which also offers the MMIO ring).
#[test]
fn test_frozen_v2_client_serves_mmio_with_a_binder_handler() -> Result<()> {
    let service = Service::start(&[])?;
    let (_connection, manager) = frozen_manager!(service, v2, 1);
    const { assert!(vendor_gunyahvm_hardware_gunyah::VERSION >= 3) };
    let program = "load8 r0, [0x90000010]\njeq r0, 0x10, good\ncrash\ngood: exit VM_EXIT, \"v2\"";
    let config = frozen_config!(
        v2,
        demo_config_with_program("v2-client", 1 << 20, 1, program)?
    );
    let vm = manager
        .createVm(&config)
        .expect("createVm from a V2 client");
    let handler = gunyah_binder::new_binder!(v2::IGunyahMmioHandler::BnGunyahMmioHandler, V2Device);
    let range = v2::GuestRange::GuestRange {
        guestPhysAddr: 0x9000_0000,
        size: 4096,
    };
    vm.setMmioHandler(&range, Some(&handler))
        .expect("setMmioHandler from a V2 client");
    vm.start().expect("start");
    assert!(wait_until(Duration::from_secs(10), || vm
        .getState()
        .is_ok_and(|s| s == v2::VmState::VmState::EXITED)));
    let exit = vm.getExitInfo().expect("getExitInfo").expect("an exit");
    assert_eq!(
        exit.reason, b"v2",
        "the guest read what the V2 handler answered"
    );
    Ok(())
}
