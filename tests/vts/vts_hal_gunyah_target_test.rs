//! VtsHalGunyahTargetTest: the service scenarios against every declared instance of
//! vendor.gunyahvm.hardware.gunyah.IGunyahVmManager (none declared: no cases run, nothing fails),
//! through the client library as framework code uses it. Also built on the host, where the
//! cases are ignored unless asked for: the QEMU tier runs them (`--ignored`) against the
//! service on kernel binder, its instances being those registered with the service manager.
//!
//! The guests are memory without a program: what a VM does once started depends on the
//! hypervisor (the mock drivers idle, real Gunyah may report a crash), so only what holds on
//! every device is checked: the order of states, teardown, errors, doorbells and the frozen
//! interface.

#![forbid(unsafe_code)]

use std::sync::mpsc::Receiver;
use std::time::Duration;

use gunyah_binder::aidl::{
    BootRegister::BootRegister, BootRegisterSet::BootRegisterSet, ErrorCode::ErrorCode,
    VmAuthType::VmAuthType, VmState::VmState,
};
use gunyah_binder::{self as binder, CallError};
use gunyah_contract::diagnostics::{Counter, Diagnostics};
use gunyah_contract::generation::Generation;
use gunyah_vm_client::{Client, Error, Target, Vm, VmBuilder, VmEvent};

const MIB: u64 = 1 << 20;
const RAM: u64 = 0x8000_0000;
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client of every declared instance.
fn clients() -> Vec<(String, Client)> {
    binder::declared_instances()
        .expect("declared instances")
        .into_iter()
        .map(|instance| {
            let client = Client::connect(&Target::Instance(instance.clone()))
                .unwrap_or_else(|e| panic!("{instance}: {e}"));
            (instance, client)
        })
        .collect()
}

/// A VM of 1 MiB without a program, created through the client library.
fn new_vm(client: &Client, instance: &str, name: &str) -> Vm {
    client
        .create_vm(&VmBuilder::new(name).memory(RAM, MIB))
        .unwrap_or_else(|e| panic!("{instance}: createVm: {e}"))
}

fn next_state(events: &Receiver<VmEvent>, instance: &str) -> VmState {
    loop {
        match events.recv_timeout(EVENT_TIMEOUT) {
            Ok(VmEvent::State(state)) => return state,
            Ok(VmEvent::Exit(_)) => continue,
            Ok(VmEvent::ServiceDied) => panic!("{instance}: the service died"),
            Err(e) => panic!("{instance}: no state change within {EVENT_TIMEOUT:?}: {e}"),
        }
    }
}

#[test]
#[cfg_attr(not(aosp), ignore = "needs kernel binder with the service registered")]
fn create_start_destroy_in_order() {
    for (instance, client) in clients() {
        let vm = new_vm(&client, &instance, "vts");
        assert_eq!(vm.state().unwrap(), VmState::NOT_STARTED, "{instance}");
        assert!(
            client.list().unwrap().iter().any(|d| d.id == vm.id()),
            "{instance}: listVms lacks the new VM"
        );
        let events = vm.events();
        vm.start()
            .unwrap_or_else(|e| panic!("{instance}: start: {e}"));
        assert_eq!(
            next_state(&events, &instance),
            VmState::STARTING,
            "{instance}"
        );
        assert_eq!(
            next_state(&events, &instance),
            VmState::RUNNING,
            "{instance}"
        );
        vm.destroy().unwrap();
        assert_eq!(vm.state().unwrap(), VmState::DESTROYED, "{instance}");
        // Whatever the guest did meanwhile, DESTROYED is the last state reported.
        let mut last = VmState::RUNNING;
        while last != VmState::DESTROYED {
            last = next_state(&events, &instance);
        }
        assert!(
            client.list().unwrap().iter().all(|d| d.id != vm.id()),
            "{instance}: a destroyed VM is listed"
        );
    }
}

#[test]
#[cfg_attr(not(aosp), ignore = "needs kernel binder with the service registered")]
fn invalid_config_names_the_field() {
    for (instance, client) in clients() {
        let mut config = gunyah_vm_client::demo::demo_config("vts-bad", MIB, 1).unwrap();
        config.memoryRegions[0].size = 4097;
        let status = client
            .manager()
            .createVm(&config)
            .map(drop)
            .expect_err("an unaligned size is refused");
        match binder::classify(&status) {
            CallError::ServiceSpecific { code, message } => {
                assert_eq!(code, ErrorCode::INVALID_ARGUMENT.0, "{instance}");
                assert!(
                    message.contains("memoryRegions[0].size"),
                    "{instance}: {message}"
                );
            }
            other => panic!("{instance}: {other:?}"),
        }
    }
}

/// What the service offers follows the driver generation it probed: QTVMs only where
/// SET_AUTH_TYPE exists (ack66-late and later), and boot registers refused, naming the field, on
/// a14, which has no SET_BOOT_CONTEXT. Passes on an a14 device and on a 6.6/6.12 device alike.
#[test]
#[cfg_attr(not(aosp), ignore = "needs kernel binder with the service registered")]
fn capabilities_follow_the_driver_generation() {
    for (instance, client) in clients() {
        let caps = client.capabilities().unwrap();
        let Some(generation) = gunyah_contract::generation::generation(caps.driverGeneration)
        else {
            // A V1 service reports no generation: nothing to hold it to.
            assert!(
                client.manager().getInterfaceVersion().unwrap() < 2,
                "{instance}: a V2 service must report its driver generation"
            );
            continue;
        };
        let qtvm = caps.authTypes.contains(&VmAuthType::QCOM_TRUSTED_VM);
        assert_eq!(
            qtvm,
            generation >= Generation::Ack66Late,
            "{instance}: QTVMs on {generation}"
        );
        let mut config = gunyah_vm_client::demo::demo_config("vts-boot", MIB, 1).unwrap();
        config.bootContext = vec![BootRegister {
            set: BootRegisterSet::PC,
            index: 0,
            value: config.dtb.guestPhysAddr & !0xfff,
        }];
        let created = client.manager().createVm(&config);
        if generation.is_a14() {
            match created.map(drop).map_err(|s| binder::classify(&s)) {
                Err(CallError::ServiceSpecific { code, message }) => {
                    assert_eq!(code, ErrorCode::UNSUPPORTED.0, "{instance}");
                    assert!(
                        message.starts_with("bootContext: "),
                        "{instance}: {message}"
                    );
                }
                other => panic!("{instance}: boot registers on a14: {other:?}"),
            }
        } else {
            let vm = created.unwrap_or_else(|e| panic!("{instance}: {generation}: {e:?}"));
            vm.destroy().unwrap();
        }
    }
}

#[test]
#[cfg_attr(not(aosp), ignore = "needs kernel binder with the service registered")]
fn vcpu_count_over_the_limit_is_refused_before_the_call() {
    for (instance, client) in clients() {
        let max = client.capabilities().unwrap().maxVcpusPerVm;
        let result = client.create_vm(&VmBuilder::new("vts-cpus").vcpus(max + 1).memory(RAM, MIB));
        match result {
            Err(Error::Rejected { code, message, .. }) => {
                assert_eq!(code, ErrorCode::INVALID_ARGUMENT.0, "{instance}");
                assert!(message.starts_with("vcpuCount: "), "{instance}: {message}");
            }
            other => panic!("{instance}: {:?}", other.map(|vm| vm.id())),
        }
    }
}

#[test]
#[cfg_attr(not(aosp), ignore = "needs kernel binder with the service registered")]
fn doorbells_are_eventfds() {
    for (instance, client) in clients() {
        let vm = new_vm(&client, &instance, "vts-doorbell");
        let irqfd = vm
            .create_irqfd(1, false)
            .unwrap_or_else(|e| panic!("{instance}: createIrqfd: {e}"));
        irqfd
            .signal(1)
            .unwrap_or_else(|e| panic!("{instance}: write: {e}"));
        // The same label again is the caller's mistake.
        assert!(
            vm.create_irqfd(1, false).is_err(),
            "{instance}: duplicate label"
        );
        vm.destroy().unwrap();
    }
}

#[test]
#[cfg_attr(not(aosp), ignore = "needs kernel binder with the service registered")]
fn interface_version_and_hash_are_frozen() {
    for (instance, client) in clients() {
        let manager = client.manager();
        let version = manager.getInterfaceVersion().unwrap();
        // Each frozen version's hash: a device may serve any of them.
        let frozen = [
            include_str!("../../aidl/aidl_api/vendor.gunyahvm.hardware.gunyah/1/.hash"),
            include_str!("../../aidl/aidl_api/vendor.gunyahvm.hardware.gunyah/2/.hash"),
            include_str!("../../aidl/aidl_api/vendor.gunyahvm.hardware.gunyah/3/.hash"),
        ];
        let index = usize::try_from(version - 1).unwrap_or(usize::MAX);
        let expected = frozen
            .get(index)
            .unwrap_or_else(|| panic!("{instance}: version {version} is not a frozen version"));
        assert_eq!(
            manager.getInterfaceHash().unwrap(),
            expected.trim(),
            "{instance}: V{version}"
        );
    }
}

#[test]
#[cfg_attr(not(aosp), ignore = "needs kernel binder with the service registered")]
fn dumpsys_reports_counters() {
    for (instance, client) in clients() {
        let text = client
            .dump(&[])
            .unwrap_or_else(|e| panic!("{instance}: dump: {e}"));
        let dump = Diagnostics::parse(&text)
            .unwrap_or_else(|e| panic!("{instance}: dumpsys: {e}:\n{text}"));
        for counter in [Counter::BackendLiveVms, Counter::OpenFds, Counter::LiveVms] {
            assert!(
                dump.counters.contains_key(&counter),
                "{instance}: dumpsys lacks {}:\n{text}",
                counter.key()
            );
        }
    }
}
