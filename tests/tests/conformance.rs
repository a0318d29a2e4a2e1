//! The conformance suite against the userspace mock (the same suite `gunyah-conformance`
//! runs against gunyah_mock.ko under QEMU and against a real /dev/gunyah).

use gunyah_vm::hyp::mock::MockHypervisor;
use gunyah_vm_tests::conformance;

#[test]
fn test_userspace_mock_replays_the_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/guest_corpus");
    let results = conformance::corpus::run(&MockHypervisor::new(), &dir).expect("corpus");
    assert!(results.len() >= 7, "only {} programs", results.len());
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.outcome
                .as_ref()
                .err()
                .map(|why| format!("{}: {why}", r.name))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn test_userspace_mock_conforms() {
    let results = conformance::run(&MockHypervisor::new(), "");
    assert!(results.len() >= 20, "only {} cases", results.len());
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.outcome
                .as_ref()
                .err()
                .map(|why| format!("{}: {why}", r.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}
