//! Stable AIDL: the service reports the frozen version and hash, and a client compiled from
//! the frozen V1 snapshot (as an old framework client would be) still works with it.

use anyhow::Result;

use gunyah_vm_client::demo::demo_config;
use gunyah_vm_tests::Service;
use vendor_gunyahvm_hardware_gunyah::frozen::v1::vendor::gunyahvm::hardware::gunyah as v1;

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
    let connection = gunyah_binder::host::Connection::open(
        &service.socket,
        &gunyah_binder::host::ConnectOptions {
            incoming_connections: 0,
        },
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let manager = connection
        .manager::<dyn v1::IGunyahVmManager::IGunyahVmManager>()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // The service speaks the latest version; the V1 client reads its V2 parcelables (the
    // fields it does not know are skipped).
    assert_eq!(
        manager.getInterfaceVersion().unwrap(),
        vendor_gunyahvm_hardware_gunyah::VERSION
    );
    const { assert!(vendor_gunyahvm_hardware_gunyah::VERSION >= 2) };
    let caps = manager.getCapabilities().expect("getCapabilities");
    assert_eq!(caps.backend, "mock");
    // Build the V1 config field by field from the current one.
    let current = demo_config("old-client", 1 << 20, 1)?;
    let region = current.memoryRegions.into_iter().next().expect("a region");
    let config = v1::VmConfig::VmConfig {
        name: current.name,
        memoryRegions: vec![v1::MemoryRegion::MemoryRegion {
            label: region.label,
            guestPhysAddr: region.guestPhysAddr,
            size: region.size,
            access: region.access,
            memory: region.memory,
            memoryOffset: region.memoryOffset,
            ..Default::default()
        }],
        dtb: v1::GuestRange::GuestRange {
            guestPhysAddr: current.dtb.guestPhysAddr,
            size: current.dtb.size,
        },
        vcpuCount: 1,
        ..Default::default()
    };
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
