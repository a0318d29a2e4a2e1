//! The conformance suite: the driver's semantics, errno for errno, and end-to-end guest
//! scenarios, against any `Hypervisor` — the userspace mock, the kernel mock (`gunyah_mock.ko`)
//! or a real `/dev/gunyah`. Where the driver generations differ, what each must answer is a row
//! of `tests/data/driver_expectations.txt` (`expect`), written from the public driver sources
//! apart from both mocks. Guest memory is real (memfds mapped here), so a device driver can pin
//! it.

pub mod corpus;
pub mod expect;
mod guest;
pub mod process;
pub mod raw;
mod table;

use std::time::Instant;

use gunyah_hypervisor::{Datamatch, Hypervisor, IoEventfd, Irqfd, TriggerMode};

/// One case: Ok, or what went wrong.
pub type Outcome = Result<(), String>;

/// A named case.
pub struct Case {
    /// `area/what`.
    pub name: &'static str,
    /// Runs the case on a driver.
    pub run: fn(&dyn Hypervisor) -> Outcome,
}

/// Every case, in table order then scenarios.
pub fn cases() -> Vec<Case> {
    let mut all = table::cases();
    all.extend(guest::cases());
    all
}

/// The result of one case.
pub struct CaseResult {
    /// Case name.
    pub name: &'static str,
    /// Its outcome.
    pub outcome: Outcome,
    /// How long it took.
    pub millis: u128,
}

/// Runs the cases whose name contains `filter` (all when empty).
pub fn run(hyp: &dyn Hypervisor, filter: &str) -> Vec<CaseResult> {
    cases()
        .into_iter()
        .filter(|c| c.name.contains(filter))
        .map(|c| {
            let start = Instant::now();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (c.run)(hyp)))
                .unwrap_or_else(|p| {
                    Err(p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panicked".into()))
                });
            CaseResult {
                name: c.name,
                outcome,
                millis: start.elapsed().as_millis(),
            }
        })
        .collect()
}

/// A case that needs the device's path (or more than a `Hypervisor`), by name.
pub(crate) type DeviceCase<'a> = (&'static str, &'a dyn Fn() -> Outcome);

/// Runs the `cases` whose name contains `filter`, timing each.
pub(crate) fn run_named(cases: &[DeviceCase<'_>], filter: &str) -> Vec<CaseResult> {
    cases
        .iter()
        .filter(|(name, _)| name.contains(filter))
        .map(|(name, case)| {
            let start = Instant::now();
            let outcome = case();
            CaseResult {
                name,
                outcome,
                millis: start.elapsed().as_millis(),
            }
        })
        .collect()
}

/// `name: why` of every failed case.
pub fn failures(results: &[CaseResult]) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| {
            r.outcome
                .as_ref()
                .err()
                .map(|why| format!("{}: {why}", r.name))
        })
        .collect()
}

/// Panics with every failure unless all of at least `min` cases passed.
pub fn assert_all_pass(results: &[CaseResult], min: usize) {
    assert!(
        results.len() >= min,
        "only {} cases ran, expected at least {min}",
        results.len()
    );
    let failed = failures(results);
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
}

/// An irqfd on doorbell `label`, level-triggered or edge-triggered.
pub(crate) fn irqfd_on(label: u32, level: bool) -> Irqfd {
    Irqfd {
        label,
        trigger: if level {
            TriggerMode::Level
        } else {
            TriggerMode::Edge
        },
    }
}

/// An ioeventfd at `addr` for writes of `len` bytes (0: any), of value `datamatch` if given.
pub(crate) fn ioeventfd_at(addr: u64, len: u32, datamatch: Option<u64>) -> IoEventfd {
    IoEventfd {
        addr,
        len,
        datamatch: datamatch.map_or(Datamatch::Any, Datamatch::Value),
    }
}

/// Fails the case with a message unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
pub(crate) use ensure;

/// Checks that a driver call failed with `errno`.
pub(crate) fn expect_errno<T>(
    what: &str,
    result: gunyah_hypervisor::HypResult<T>,
    errno: nix::errno::Errno,
) -> Outcome {
    match result {
        Err(e) if e.errno == errno => Ok(()),
        Err(e) => Err(format!("{what}: expected {errno}, got {}", e.errno)),
        Ok(_) => Err(format!("{what}: expected {errno}, but it succeeded")),
    }
}

/// Checks that a driver call succeeded.
pub(crate) fn expect_ok<T>(
    what: &str,
    result: gunyah_hypervisor::HypResult<T>,
) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e}"))
}
