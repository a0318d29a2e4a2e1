//! The conformance suite and the scripted-guest corpus against the userspace mock (the same
//! suite `gunyah-conformance` runs against gunyah_mock.ko under QEMU and a real /dev/gunyah).

use gunyah_hypervisor::Generation;
use gunyah_mock::MockHypervisor;
use gunyah_vm_tests::conformance;

#[test]
fn test_userspace_mock_replays_the_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/guest_corpus");
    let results = conformance::corpus::run(&MockHypervisor::new(), &dir).expect("corpus");
    conformance::assert_all_pass(&results, 8);
}

#[test]
fn test_userspace_mock_conforms() {
    conformance::assert_all_pass(&conformance::run(&MockHypervisor::new(), ""), 20);
}

/// Every generation the mock models passes the whole suite and the corpus with that
/// generation's expectations. `--nocapture` prints the counts.
#[test]
fn test_userspace_mock_conforms_in_every_generation() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/guest_corpus");
    for generation in Generation::ALL {
        let Ok(mock) = MockHypervisor::new().with_generation(generation) else {
            assert_eq!(
                generation,
                Generation::Upstream,
                "only upstream is not modelled"
            );
            continue;
        };
        let mut results = conformance::run(&mock, "");
        let suite = results.len();
        results.extend(conformance::corpus::run(&mock, &corpus).expect("corpus"));
        let failed = conformance::failures(&results);
        assert!(failed.is_empty(), "{generation}:\n{}", failed.join("\n"));
        assert!(
            results.len() >= suite + 8,
            "{generation}: the corpus did not run"
        );
        eprintln!(
            "{generation}: {} passed, 0 failed ({suite} cases, {} corpus programs)",
            results.len(),
            results.len() - suite
        );
    }
}

/// The expectations are written apart from the mocks: neither mock reads the table (were one to
/// read it, a wrong row would pass on that mock instead of failing).
#[test]
fn test_no_mock_reads_the_expectations() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stack = vec![repo.join("service/mock"), repo.join("kernel/gunyah_mock")];
    let mut read = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            read += 1;
            assert!(
                !text.contains("driver_expectations"),
                "{} names the suite's expectations table",
                path.display()
            );
        }
    }
    assert!(read > 10, "only {read} mock files read");
}
