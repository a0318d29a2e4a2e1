//! The AOSP arm's `DeathLink` (aidl/binder/src/libbinder.rs, as Soong builds it: `--cfg aosp`)
//! run against the libbinder_rs stand-in's model of death notifications, which behaves as
//! libbinder_ndk and `BpBinder` do (tests/aosp/standin/binder: `death`). `soong.py
//! standin-runs` builds and runs it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use binder::death::runtime::{kill, remote_binder, take_log};
use binder::IBinder;
use gunyah_binder::DeathLink;

// The model's log is one per process; the tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn unlink_errors(log: &[String]) -> Vec<&String> {
    log.iter()
        .filter(|l| l.starts_with("E ") && l.contains("unlink failed"))
        .collect()
}

/// The stand-in is upstream's shape: a recipient unlinked from inside its own death callback
/// (after `sendObituary` marked the obituaries sent, before libbinder_ndk unlinks the entry
/// itself) fails with DEAD_OBJECT and libbinder_ndk logs the error line.
#[test]
fn an_unlink_from_the_death_callback_fails_with_dead_object_and_logs_an_error() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    take_log();
    type Held = Mutex<Option<(binder::SpIBinder, binder::DeathRecipient)>>;
    let held: Arc<Held> = Arc::new(Mutex::new(None));
    let answer = Arc::new(Mutex::new(None));
    let (h, a) = (Arc::downgrade(&held), Arc::clone(&answer));
    let mut recipient = binder::DeathRecipient::new(move || {
        let held = h.upgrade().unwrap();
        let (mut b, mut r) = held.lock().unwrap().take().unwrap();
        *a.lock().unwrap() = Some(b.unlink_to_death(&mut r));
    });
    let mut b = remote_binder();
    b.link_to_death(&mut recipient).unwrap();
    *held.lock().unwrap() = Some((b.clone(), recipient));
    kill(&b);
    assert_eq!(
        *answer.lock().unwrap(),
        Some(Err(binder::StatusCode::DEAD_OBJECT))
    );
    let log = take_log();
    assert_eq!(
        unlink_errors(&log),
        ["E libbinder_ndk: unlinkToDeath: removed reference to death recipient but unlink failed: DEAD_OBJECT"],
        "{log:?}"
    );
}

/// A dead client's teardown, as the service does it: the death callback removes the client's
/// registration, which drops its `DeathLink` inside the callback (service/src/vm/events.rs,
/// `VmEvents::register`). The callback runs once, and nothing is logged.
#[test]
fn a_dead_clients_teardown_logs_no_unlink_error() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    take_log();
    let registry: Arc<Mutex<Vec<DeathLink>>> = Arc::new(Mutex::new(Vec::new()));
    let deaths = Arc::new(AtomicUsize::new(0));
    let client = remote_binder();
    let (r, d) = (Arc::downgrade(&registry), Arc::clone(&deaths));
    let link = DeathLink::new(client.clone(), move || {
        d.fetch_add(1, Ordering::SeqCst);
        if let Some(registry) = r.upgrade() {
            let removed = std::mem::take(&mut *registry.lock().unwrap());
            drop(removed);
        }
    })
    .unwrap();
    registry.lock().unwrap().push(link);
    kill(&client);
    assert_eq!(deaths.load(Ordering::SeqCst), 1);
    assert!(registry.lock().unwrap().is_empty());
    let log = take_log();
    assert!(unlink_errors(&log).is_empty(), "{log:?}");
    assert!(log.is_empty(), "{log:?}");
}

/// A link dropped while the client lives is unlinked: its death reaches no callback later, and
/// nothing is logged.
#[test]
fn a_link_dropped_while_the_client_lives_is_unlinked() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    take_log();
    let deaths = Arc::new(AtomicUsize::new(0));
    let client = remote_binder();
    let d = Arc::clone(&deaths);
    let link = DeathLink::new(client.clone(), move || {
        d.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    drop(link);
    kill(&client);
    assert_eq!(deaths.load(Ordering::SeqCst), 0);
    let log = take_log();
    assert!(log.is_empty(), "{log:?}");
}
