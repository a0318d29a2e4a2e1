//! Many clients creating, starting and destroying VMs in parallel end with no leak.

use std::time::{Duration, Instant};

use anyhow::Result;

use gunyah_binder::aidl::VmState::VmState;
use gunyah_contract::diagnostics::Counter;
use gunyah_vm_client::demo::demo_config;
use gunyah_vm_tests::Service;

const CLIENTS: usize = 16;
const CYCLES: usize = 50;

#[test]
fn test_parallel_clients_leave_no_leak() -> Result<()> {
    let service = Service::start(&["--threads", "32"])?;
    {
        let warm = service.connect(0)?;
        let vm = warm
            .manager()
            .createVm(&demo_config("warm", 1 << 20, 2)?)
            .expect("createVm");
        vm.start().expect("start");
    }
    // No client is connected at the baseline or at the end.
    let baseline = service.baseline()?;
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..CLIENTS {
            let service = &service;
            s.spawn(move || {
                let client = service.connect(0).expect("connect");
                for i in 0..CYCLES {
                    let config = demo_config(&format!("c{c}-{i}"), 256 << 10, 1 + (i % 2) as i32)
                        .expect("memfd");
                    let vm = client.manager().createVm(&config).expect("createVm");
                    vm.start().expect("start");
                    assert_eq!(vm.getState().expect("getState"), VmState::RUNNING);
                    // Half are destroyed explicitly, half by dropping the last reference.
                    if i % 2 == 0 {
                        vm.destroy().expect("destroy");
                    }
                }
            });
        }
    });
    let took = start.elapsed();
    service.wait_for_footprint(baseline, Duration::from_secs(5))?;
    let end = service.footprint()?;
    let d = service.diagnostics()?;
    assert_eq!(
        d.count(Counter::CreatedTotal),
        (CLIENTS * CYCLES + 1) as u64
    );
    assert_eq!(d.count(Counter::FailedTotal), 0);
    eprintln!(
        "{CLIENTS} clients x {CYCLES} create/start/destroy cycles: {took:?}; footprint {baseline:?} -> {end:?}"
    );
    Ok(())
}
