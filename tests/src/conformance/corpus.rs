//! The scripted-guest corpus (tests/data/guest_corpus/): programs and the exact exit traces
//! they must produce on every mock. Data, not code: one guest, two mocks, one behaviour.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use super::guest::boot;
use super::{CaseResult, Outcome};
use gunyah_hypervisor::{Hypervisor, VcpuExit, VmStatus};

/// Most exits one program may take before the runner gives up.
const MAX_EXITS: usize = 10_000;

/// The trace line of one exit.
fn line(exit: &VcpuExit) -> String {
    match exit {
        VcpuExit::Mmio {
            phys_addr,
            len,
            write: None,
        } => format!("read {phys_addr:#x} {len:#x}"),
        VcpuExit::Mmio {
            phys_addr,
            len,
            write: Some(v),
        } => format!("write {phys_addr:#x} {len:#x} {v:#x}"),
        VcpuExit::Status(VmStatus::Exited { exit_type, reason }) => {
            let mut hex = String::new();
            for b in reason {
                let _ = write!(hex, "{b:02x}");
            }
            format!(
                "exited {exit_type:#x} {}",
                if hex.is_empty() { "-" } else { &hex }
            )
        }
        VcpuExit::Status(VmStatus::Crashed) => "crashed".into(),
        VcpuExit::Status(VmStatus::LoadFailed) => "load-failed".into(),
        VcpuExit::PageFault { phys_addr, errno } => format!("page-fault {phys_addr:#x} {errno}"),
    }
}

/// Runs `source` on vCPU 0, answering MMIO reads with `addr & 0xff`, until the VM stops.
pub fn trace(hyp: &dyn Hypervisor, source: &str) -> Result<Vec<String>, String> {
    let mut booted = boot(hyp, source, 1, |_, _| Ok(()))?;
    let vcpu = &mut booted.vcpus[0];
    let mut lines = Vec::new();
    for _ in 0..MAX_EXITS {
        let exit = vcpu.run().map_err(|e| e.to_string())?;
        lines.push(line(&exit));
        match exit {
            // A page fault repeats on every run: it ends the trace as a stop does.
            VcpuExit::Status(_) | VcpuExit::PageFault { .. } => return Ok(lines),
            VcpuExit::Mmio {
                phys_addr,
                write: None,
                ..
            } => vcpu.set_mmio_read_data(phys_addr & 0xff),
            VcpuExit::Mmio { .. } => {}
        }
    }
    Err(format!("no stop within {MAX_EXITS} exits"))
}

fn check(hyp: &dyn Hypervisor, program: &Path) -> Outcome {
    let source =
        std::fs::read_to_string(program).map_err(|e| format!("{}: {e}", program.display()))?;
    let expected_path = program.with_extension("trace");
    let expected = std::fs::read_to_string(&expected_path)
        .map_err(|e| format!("{}: {e}", expected_path.display()))?;
    let expected: Vec<&str> = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let got = trace(hyp, &source)?;
    if got.iter().map(String::as_str).ne(expected.iter().copied()) {
        return Err(format!("expected {expected:?}, got {got:?}"));
    }
    Ok(())
}

/// Runs every `*.s` in `dir` against its `*.trace`; case names are `corpus/<file stem>`.
pub fn run(hyp: &dyn Hypervisor, dir: &Path) -> Result<Vec<CaseResult>, String> {
    let mut programs: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    programs.sort();
    Ok(programs
        .iter()
        .map(|p| {
            let start = Instant::now();
            let name: &'static str = Box::leak(
                format!(
                    "corpus/{}",
                    p.file_stem().unwrap_or_default().to_string_lossy()
                )
                .into_boxed_str(),
            );
            CaseResult {
                name,
                outcome: check(hyp, p),
                millis: start.elapsed().as_millis(),
            }
        })
        .collect())
}
