//! Cases only a device shows: arguments the typed backend never sends, issued as raw ioctls on
//! a `/dev/gunyah` VM fd. The userspace mock's calls are typed, so it cannot be asked them.

use std::os::fd::AsFd;
use std::path::Path;

use super::{expect, run_named, CaseResult, Outcome};
use gunyah_hypervisor::{DriverIoctl, Generation, HypError};
use gunyah_sys::a14::GH_FN_VCPU;
use gunyah_sys::android::gunyah_map_cma_mem_args;
use gunyah_sys::ioctl;

/// The cases [`run`] can run, by name.
pub const CASES: [&str; 2] = [
    "raw/remove-function-oversized-argument",
    "raw/map-cma-mem-size-zero",
];

/// Runs the cases whose name contains `filter` against `device` (of `generation`).
pub fn run(device: &Path, generation: Generation, filter: &str) -> Vec<CaseResult> {
    let oversized = || oversized_remove(device, generation);
    let cma = || cma_size_zero(device, generation);
    run_named(&[(CASES[0], &oversized), (CASES[1], &cma)], filter)
}

/// `GH_VM_ANDROID_MAP_CMA_MEM` of size 0: a driver that has it refuses the size (EINVAL, after
/// the owner check and the copy); one that has not, ENOTTY. The kernel mock does not model CMA
/// memory in any generation (docs/GENERATIONS.md, "The mocks"), and says so: ENOTTY, on purpose.
fn cma_size_zero(device: &Path, generation: Generation) -> Outcome {
    let vm = super::process::device_vm(device)?;
    let result = ioctl::map_cma_mem(vm.as_fd(), &gunyah_map_cma_mem_args::default())
        .map_err(|errno| HypError::new(DriverIoctl::MapCmaMem, errno));
    if Path::new("/sys/module/gunyah_mock").exists() {
        return match result {
            Err(e) if e.errno == nix::errno::Errno::ENOTTY => Ok(()),
            other => Err(format!(
                "the kernel mock does not model CMA memory: expected ENOTTY, got {other:?}"
            )),
        };
    }
    expect::call("raw/map-cma-mem-size-zero", generation, result)
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
