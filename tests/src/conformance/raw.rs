//! Cases only a device shows: arguments the typed backend never sends, issued as raw ioctls on
//! a `/dev/gunyah` VM fd. The userspace mock's calls are typed, so it cannot be asked them.

use std::os::fd::AsFd;
use std::path::Path;

use super::{expect, run_named, CaseResult, Outcome};
use gunyah_hypervisor::{DriverIoctl, Generation, HypError};
use gunyah_sys::a14::GH_FN_VCPU;
use gunyah_sys::ioctl;

/// The cases [`run`] can run, by name.
pub const CASES: [&str; 1] = ["raw/remove-function-oversized-argument"];

/// Runs the cases whose name contains `filter` against `device` (of `generation`).
pub fn run(device: &Path, generation: Generation, filter: &str) -> Vec<CaseResult> {
    let oversized = || oversized_remove(device, generation);
    run_named(&[(CASES[0], &oversized)], filter)
}

/// REMOVE_FUNCTION does not cap `arg_size` (ADD_FUNCTION does, at 256): a 257-byte argument is
/// copied in and matches nothing.
fn oversized_remove(device: &Path, generation: Generation) -> Outcome {
    let vm = super::process::device_vm(device)?;
    let arg = [0u8; 257];
    let result = ioctl::remove_function(vm.as_fd(), GH_FN_VCPU, &arg)
        .map_err(|errno| HypError::new(DriverIoctl::RemoveFunction, errno));
    expect::call("remove/oversized-argument", generation, result)
}
