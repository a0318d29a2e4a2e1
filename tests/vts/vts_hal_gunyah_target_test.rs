//! VtsHalGunyahTargetTest: the service scenarios against every declared instance of
//! android.hardware.gunyah.IGunyahVmManager (none declared: no cases run, nothing fails).
//! Built by Soong only (it uses the service manager).

use std::fs::File;
use std::io::{Read, Seek};

use gunyah_vm::aidl::{
    ErrorCode::ErrorCode, IGunyahVmManager::IGunyahVmManager, VmState::VmState,
};
use gunyah_vm::binder::{self, CallError, Strong};
use gunyah_vm::client::demo::demo_config;

const MIB: u64 = 1 << 20;

/// Every declared instance, connected.
fn managers() -> Vec<(String, Strong<dyn IGunyahVmManager>)> {
    binder::start_thread_pool();
    binder::declared_instances()
        .expect("declared instances")
        .into_iter()
        .map(|instance| {
            let manager = binder::wait_for_instance::<dyn IGunyahVmManager>(&instance)
                .unwrap_or_else(|e| panic!("{instance}: {e:?}"));
            (instance, manager)
        })
        .collect()
}

#[test]
fn create_start_destroy() {
    for (instance, manager) in managers() {
        let vm = manager.createVm(&demo_config("vts", MIB, 1).unwrap()).unwrap_or_else(|e| panic!("{instance}: {e:?}"));
        assert_eq!(vm.getState().unwrap(), VmState::NOT_STARTED, "{instance}");
        let id = vm.getId().unwrap();
        assert!(manager.listVms().unwrap().iter().any(|d| d.id == id), "{instance}: listVms");
        vm.start().unwrap_or_else(|e| panic!("{instance}: start: {e:?}"));
        vm.destroy().unwrap();
        assert_eq!(vm.getState().unwrap(), VmState::DESTROYED, "{instance}");
        assert!(manager.listVms().unwrap().iter().all(|d| d.id != id), "{instance}: destroyed VM listed");
    }
}

#[test]
fn invalid_config_names_the_field() {
    for (instance, manager) in managers() {
        let mut config = demo_config("vts-bad", MIB, 1).unwrap();
        config.memoryRegions[0].size = 4097;
        let status = manager.createVm(&config).map(drop).expect_err("an unaligned size is refused");
        match binder::classify(&status) {
            CallError::ServiceSpecific { code, message } => {
                assert_eq!(code, ErrorCode::INVALID_ARGUMENT.0, "{instance}");
                assert!(message.contains("memoryRegions[0].size"), "{instance}: {message}");
            }
            other => panic!("{instance}: {other:?}"),
        }
    }
}

#[test]
fn interface_version_and_hash_are_frozen() {
    for (instance, manager) in managers() {
        let version = manager.getInterfaceVersion().unwrap();
        assert!(version >= 1, "{instance}: version {version}");
        if version == 1 {
            let frozen = include_str!("../../aidl/aidl_api/android.hardware.gunyah/1/.hash").trim();
            assert_eq!(manager.getInterfaceHash().unwrap(), frozen, "{instance}");
        }
    }
}

#[test]
fn dumpsys_reports_counters() {
    for (instance, manager) in managers() {
        let mut out = tempfile();
        binder::dump(manager.as_binder(), &out, &[]).unwrap_or_else(|e| panic!("{instance}: dump: {e:?}"));
        out.rewind().unwrap();
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        for key in ["backend.live_vms:", "process.open_fds:", "vms.live:"] {
            assert!(text.contains(key), "{instance}: dumpsys lacks {key}:\n{text}");
        }
    }
}

fn tempfile() -> File {
    let path = std::env::temp_dir().join(format!("vts-gunyah-{}", std::process::id()));
    let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    f
}
