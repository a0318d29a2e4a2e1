//! SIGKILL storm: client processes run create/start/destroy cycles (a guest doing MMIO into
//! the client's handler, an irqfd, a callback, two vCPUs) and are SIGKILLed at random moments
//! — inside createVm, during start, with vCPUs running, inside an MMIO handler call, holding
//! irqfds. Afterwards the service's fds, threads, guest mappings and the backend's live VMs
//! equal the baseline, and the service still serves.
//!
//! CI size: 8 clients × 25 kills. Full size (a few minutes):
//!   STORM_CLIENTS=64 STORM_KILLS=1000 cargo test --release -p gunyah-vm-tests --test storm -- --nocapture

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use gunyah_contract::diagnostics::Counter;
use gunyah_vm_client::demo::demo_config;
use gunyah_vm_tests::Service;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64: reproducible "random" kill delays without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn test_sigkill_storm_leaves_nothing_behind() -> Result<()> {
    let clients = env_or("STORM_CLIENTS", 8);
    let kills_per_client = env_or("STORM_KILLS", 25);
    // Every client runs as this test's uid: size the per-uid quotas so that the VMs of killed
    // clients still being torn down do not refuse the next client's createVm (the quotas have
    // tests of their own).
    let max_vms = (4 * clients).to_string();
    let max_vcpus = (8 * clients).to_string();
    let service = Service::start(&[
        "--threads",
        "32",
        "--max-vms-per-client",
        &max_vms,
        "--max-vcpus-per-client",
        &max_vcpus,
    ])?;
    let baseline = service.baseline()?;
    let completed = AtomicU64::new(0);
    let kills = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..clients {
            let (service, completed, kills) = (&service, &completed, &kills);
            s.spawn(move || {
                let mut rng = 0x9e37_79b9_7f4a_7c15 ^ (c + 1);
                for _ in 0..kills_per_client {
                    let mut child = Command::new(env!("CARGO_BIN_EXE_gunyah-test-client"))
                        .arg("--socket")
                        .arg(&service.socket)
                        .args(["--cycles", "100000"])
                        .stdout(Stdio::piped())
                        .spawn()
                        .expect("spawn client");
                    let stdout = child.stdout.take().expect("stdout");
                    let reader =
                        std::thread::spawn(move || BufReader::new(stdout).lines().count() as u64);
                    // Anywhere from before the connection is up to a few cycles in.
                    std::thread::sleep(Duration::from_micros(next(&mut rng) % 250_000));
                    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).expect("kill");
                    child.wait().expect("wait");
                    completed.fetch_add(reader.join().expect("reader"), Ordering::Relaxed);
                    kills.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let storm = start.elapsed();
    let settle = service.wait_for_footprint(baseline, Duration::from_secs(20))?;
    // Still serving.
    let client = service.connect(0)?;
    let vm = client
        .manager()
        .createVm(&demo_config("after-storm", 1 << 20, 1)?)
        .expect("createVm after the storm");
    vm.start().expect("start after the storm");
    let d = service.diagnostics()?;
    eprintln!(
        "storm: {clients} clients x {kills_per_client} kills = {} SIGKILLs, {} completed cycles, \
         {} VMs created ({} createVm refused) in {storm:?}; back to baseline {baseline:?} \
         {settle:?} after the last kill",
        kills.load(Ordering::Relaxed),
        completed.load(Ordering::Relaxed),
        d.count(Counter::CreatedTotal),
        d.count(Counter::FailedTotal),
    );
    assert!(
        !service.log().contains("did not stop"),
        "a vCPU thread outlived its VM's teardown:\n{}",
        service.log()
    );
    assert!(
        !service.log().contains("panicked"),
        "the service panicked:\n{}",
        service.log()
    );
    Ok(())
}
