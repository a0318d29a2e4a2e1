//! Callbacks: state changes arrive in order, unregistering stops them, and a callback whose
//! process died is removed.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;

use gunyah_binder::aidl::{
    IGunyahVmCallback::{BnGunyahVmCallback, IGunyahVmCallback},
    VmExitInfo::VmExitInfo,
    VmState::VmState,
};
use gunyah_binder::{self as binder, BinderResult, Interface, ServeOptions, Strong};
use gunyah_vm::vm::events::VmEvents;
use gunyah_vm_client::demo::demo_config;
use gunyah_vm_tests::{wait_until, Service};

struct Recorder(Mutex<Sender<VmState>>);

impl Interface for Recorder {}

impl IGunyahVmCallback for Recorder {
    fn onStateChanged(&self, state: VmState) -> BinderResult<()> {
        let _ = self.0.lock().unwrap().send(state);
        Ok(())
    }
    fn onExit(&self, _info: &VmExitInfo) -> BinderResult<()> {
        Ok(())
    }
}

fn recorder() -> (Strong<dyn IGunyahVmCallback>, Receiver<VmState>) {
    let (tx, rx) = channel();
    (
        gunyah_binder::new_binder!(BnGunyahVmCallback, Recorder(Mutex::new(tx))),
        rx,
    )
}

fn next(rx: &Receiver<VmState>) -> VmState {
    rx.recv_timeout(Duration::from_secs(5))
        .expect("a callback within 5 s")
}

#[test]
fn test_state_changes_arrive_in_order() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(3)?;
    let vm = client
        .manager()
        .createVm(&demo_config("cb", 1 << 20, 2)?)
        .expect("createVm");
    let (cb, rx) = recorder();
    vm.registerCallback(&cb).expect("registerCallback");
    vm.registerCallback(&cb)
        .expect("registering twice is a no-op");
    vm.start().expect("start");
    assert_eq!(next(&rx), VmState::STARTING);
    assert_eq!(next(&rx), VmState::RUNNING);
    vm.destroy().expect("destroy");
    assert_eq!(next(&rx), VmState::DESTROYED);
    // Registered once: no duplicate deliveries.
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    Ok(())
}

#[test]
fn test_unregister_stops_callbacks() -> Result<()> {
    let service = Service::start(&[])?;
    let client = service.connect(2)?;
    let vm = client
        .manager()
        .createVm(&demo_config("cb", 1 << 20, 1)?)
        .expect("createVm");
    let (cb, rx) = recorder();
    vm.registerCallback(&cb).unwrap();
    vm.unregisterCallback(&cb).unwrap();
    let (other, _) = recorder();
    vm.unregisterCallback(&other)
        .expect("unknown callbacks are ignored");
    vm.start().unwrap();
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "no callbacks after unregister"
    );
    assert_eq!(service.diagnostics()?.vms[0].callbacks, 0);
    Ok(())
}

/// The callback lives in a server that goes away (as when its process dies): the death
/// notification removes it from the VM.
#[test]
fn test_dead_callback_is_removed() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("gunyah-cb-death-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("cb.sock");
    let _ = std::fs::remove_file(&socket);
    let (cb, _rx) = recorder();
    let server = binder::serve(
        "callback",
        cb.as_binder(),
        &binder::Target::Socket(socket.clone()),
        &ServeOptions {
            max_threads: 2,
            max_connections: gunyah_binder::DEFAULT_MAX_CONNECTIONS,
        },
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let connection = binder::host::Connection::open(
        &socket,
        &binder::host::ConnectOptions {
            incoming_connections: 1,
        },
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let remote: Strong<dyn IGunyahVmCallback> = connection
        .get("callback")
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;

    let events = VmEvents::new(7);
    events.register(&remote)?;
    assert_eq!(events.callback_count(), 1);
    drop(server);
    assert!(
        wait_until(Duration::from_secs(5), || events.callback_count() == 0),
        "the dead callback was not removed"
    );
    // Delivering to nobody is fine.
    events.set_state(VmState::STARTING);
    events.deliver();
    drop(connection);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
