//! Cases only a kernel driver can show, each with a second process: the owner-process rule
//! (docs/DRIVER_ABI.md §7, §10 step 5) and RLIMIT_MEMLOCK charged at the guest's first
//! touch (§7, memory). The binary that runs the suite plays the second process
//! itself: `gunyah-conformance --child owner|memlock`, or a test harness (GunyahConformanceTest)
//! re-running its own test with the role in its environment ([`Launcher`]). The userspace mock,
//! one process, cannot show them.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;

use super::table::Backing;
use super::{ensure, run_named, CaseResult, Outcome};
use gunyah_guest::asm::assemble;
use gunyah_hypervisor::gunyah::GunyahHypervisor;
use gunyah_hypervisor::{Generation, Hypervisor, ShareMode, UserMemoryRegion, VcpuExit};
use gunyah_sys::a14::{gh_vm_dtb_config, GH_MEM_ALLOW_READ, GH_MEM_ALLOW_WRITE};
use gunyah_sys::vm_fd::{VcpuFd, VmFd};
use gunyah_sys::{ioctl, scm};

const RAM: u64 = 0x8000_0000;
const PAGE: u64 = 4096;
/// The memlock case's guest memory: more than the default RLIMIT_MEMLOCK (8 MiB).
const BIG_RAM: u64 = 16 << 20;
/// The uid the memlock child runs as: not root, so RLIMIT_MEMLOCK binds it.
const NOBODY: u32 = 65534;

/// A result of a call as the child reports it: `ok` or the errno's name.
fn answer<T>(result: Result<T, Errno>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

/// The environment variable that makes a test harness's run the second process of a case: its
/// value is the role (`owner` or `memlock`).
pub const CHILD_ROLE_ENV: &str = "GUNYAH_CONFORMANCE_CHILD";
/// The device the second process opens, beside [`CHILD_ROLE_ENV`].
pub const CHILD_DEVICE_ENV: &str = "GUNYAH_CONFORMANCE_DEVICE";
/// What the second process prints before its report, so the report is found among whatever
/// else its harness writes to standard output.
const REPORT_TAG: &str = "conformance-child: ";

/// How the second process of a case is started: the running binary again, told its role.
pub enum Launcher {
    /// A binary with a `--child ROLE --device DEVICE` mode (gunyah-conformance).
    Binary(PathBuf),
    /// A libtest harness (GunyahConformanceTest): `exe --exact TEST --include-ignored
    /// --nocapture`, with [`CHILD_ROLE_ENV`] and [`CHILD_DEVICE_ENV`] set; the test must call
    /// [`child_main_from_env`] first.
    Harness {
        /// The test binary.
        exe: PathBuf,
        /// The test it runs again (`--exact`).
        test: &'static str,
    },
}

impl Launcher {
    fn command(&self, role: &str, device: &Path) -> Command {
        match self {
            Launcher::Binary(exe) => {
                let mut command = Command::new(exe);
                command.args(["--child", role, "--device"]).arg(device);
                command
            }
            Launcher::Harness { exe, test } => {
                let mut command = Command::new(exe);
                command
                    .args(["--exact", test, "--include-ignored", "--nocapture"])
                    .env(CHILD_ROLE_ENV, role)
                    .env(CHILD_DEVICE_ENV, device);
                command
            }
        }
    }
}

/// The cases [`run`] can run, by name.
pub const CASES: [&str; 2] = [
    "process/owner-only-memory-and-run",
    "process/memlock-at-first-touch",
];

/// Runs the cases whose name contains `filter` against `device` (of `generation`), each with a
/// second process started by `launcher`. The memlock case needs root (its child drops to another
/// uid); without, it fails saying so.
pub fn run(
    launcher: &Launcher,
    device: &Path,
    generation: Generation,
    filter: &str,
) -> Vec<CaseResult> {
    let owner = || owner(launcher, device, generation);
    let memlock = || memlock(launcher, device, generation);
    run_named(&[(CASES[0], &owner), (CASES[1], &memlock)], filter)
}

/// A new VM of `device` (its fd), created by this process.
pub(crate) fn device_vm(device: &Path) -> Result<VmFd, String> {
    let dev: OwnedFd = OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .map_err(|e| format!("{}: {e}", device.display()))?
        .into();
    VmFd::create(dev.as_fd()).map_err(|e| format!("GH_CREATE_VM: {e}"))
}

/// A VM started by this process (its owner), with one vCPU, RAM holding a guest that exits.
fn started_vm(device: &Path) -> Result<(VmFd, VcpuFd), String> {
    let call = |what: &str, e: Errno| format!("{what}: {e}");
    let vm = device_vm(device)?;
    let ram = Backing::new(1 << 20)?;
    ram.write(
        0,
        &assemble("exit VM_EXIT", RAM).map_err(|e| e.to_string())?,
    )?;
    let region = ram.region(0, RAM);
    give_memory(&vm, &region).map_err(|e| call("memory", e))?;
    let dtb = gh_vm_dtb_config {
        guest_phys_addr: RAM + region.size() - PAGE,
        size: PAGE,
    };
    ioctl::set_dtb_config(vm.as_fd(), &dtb).map_err(|e| call("DTB", e))?;
    let vcpu = vm.add_vcpu(0).map_err(|e| call("vCPU", e))?;
    ioctl::start(vm.as_fd()).map_err(|e| call("GH_VM_START", e))?;
    Ok((vm, vcpu))
}

/// `GH_VM_SET_USER_MEM_REGION` of `r`, readable and writable by the guest.
fn give_memory(vm: &VmFd, r: &UserMemoryRegion) -> Result<(), Errno> {
    vm.set_user_memory(
        r.label,
        GH_MEM_ALLOW_READ | GH_MEM_ALLOW_WRITE,
        r.guest_phys_addr,
        r.memory.clone(),
        false,
    )
}

/// Starts the `role` child, with `stdin` as its standard input; its report, once it has exited
/// successfully.
fn child(launcher: &Launcher, device: &Path, role: &str, stdin: Stdio) -> Result<String, String> {
    let mut child = launcher
        .command(role, device)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting the {role} child: {e}"))?;
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_string(&mut out)
            .map_err(|e| format!("reading the {role} child: {e}"))?;
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    ensure!(
        status.success(),
        "the {role} child failed ({status}): {out}"
    );
    report_in(&out).ok_or_else(|| format!("the {role} child printed no report: {out:?}"))
}

/// The report in a child's standard output: what follows [`REPORT_TAG`] on its line, which need
/// not be the start of the line (libtest prints `test NAME ... ` before the test's own output).
fn report_in(out: &str) -> Option<String> {
    out.lines()
        .find_map(|line| line.split_once(REPORT_TAG))
        .map(|(_, report)| report.trim().to_string())
}

/// Another process that holds the VM fd and a vCPU fd — received over a socket — gives the
/// VM memory and runs the vCPU. Early a14 lets it; late a14 refuses the memory (EPERM); the
/// later drivers refuse both (EPERM).
fn owner(launcher: &Launcher, device: &Path, generation: Generation) -> Outcome {
    let (vm, vcpu) = started_vm(device)?;
    let (ours, theirs) = UnixStream::pair().map_err(|e| e.to_string())?;
    // One byte and two fds: the socket buffers them until the child reads.
    scm::send_fds(ours.as_fd(), &[vm.as_fd(), vcpu.as_fd()])
        .map_err(|e| format!("sending the fds: {e}"))?;
    let report = child(
        launcher,
        device,
        "owner",
        Stdio::from(OwnedFd::from(theirs)),
    )?;
    let (memory, run) = match generation {
        Generation::A14Early => ("ok", "ok"),
        Generation::A14Late => ("EPERM", "ok"),
        _ => ("EPERM", "EPERM"),
    };
    let want = format!("memory={memory} run={run}");
    ensure!(
        report == want,
        "{generation}: expected {want:?}, got {report:?}"
    );
    Ok(())
}

/// The owner child: receives the VM and vCPU fds on standard input, then tries to give the VM
/// a page of its own memory and to run the vCPU; prints `memory=... run=...`.
fn owner_child() -> Result<String, String> {
    let stdin = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| e.to_string())?;
    let fds = scm::recv_fds(stdin.as_fd()).map_err(|e| format!("receiving the fds: {e}"))?;
    let [vm, vcpu] = <[OwnedFd; 2]>::try_from(fds).map_err(|f| format!("{} fds", f.len()))?;
    let vm = VmFd::adopt(vm);
    let page = Backing::new(PAGE)?;
    let memory = give_memory(&vm, &page.region(1, RAM << 1));
    let run = ioctl::vcpu_run(vcpu.as_fd());
    Ok(format!("memory={} run={}", answer(memory), answer(run)))
}

/// A VM with more memory than the process's RLIMIT_MEMLOCK, made by a process the limit binds
/// (root that dropped to uid nobody once the device was open): a14 refuses the memory at
/// SET_USER_MEM_REGION (ENOMEM); the later drivers take it, pin pages as the guest touches them,
/// and the first page past the limit is a PAGE_FAULT exit with ENOMEM.
fn memlock(launcher: &Launcher, device: &Path, generation: Generation) -> Outcome {
    ensure!(
        nix::unistd::geteuid().is_root(),
        "needs root: its second process opens the device, then drops to uid {NOBODY}"
    );
    let report = child(launcher, device, "memlock", Stdio::null())?;
    if generation.is_a14() {
        ensure!(
            report == "memory=ENOMEM",
            "{generation}: expected memory=ENOMEM, got {report:?}"
        );
        return Ok(());
    }
    let fault = report
        .strip_prefix("memory=ok fault=")
        .and_then(|f| f.strip_suffix(" ENOMEM"))
        .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok());
    ensure!(
        fault.is_some_and(|a| (RAM + PAGE..RAM + BIG_RAM).contains(&a)),
        "{generation}: expected memory=ok fault=<an address in RAM> ENOMEM, got {report:?}"
    );
    Ok(())
}

/// The memlock child: opens the device as root (a device's /dev/gunyah need not let another uid
/// open it), drops to uid nobody, whom RLIMIT_MEMLOCK binds, and makes a VM of `BIG_RAM` whose
/// guest writes to every page in turn; prints `memory=<errno>` when the memory is refused, else
/// `memory=ok` and how the guest ended.
fn memlock_child(device: &Path) -> Result<String, String> {
    let hyp = GunyahHypervisor::open(device).map_err(|e| e.to_string())?;
    drop_root()?;
    let vm = hyp.create_vm().map_err(|e| e.to_string())?;
    let ram = Backing::new(BIG_RAM)?;
    let program = "mov r1, 0x80000000\nnext: store4 [r1], 7\nadd r1, 4096\njmp next";
    ram.write(0, &assemble(program, RAM).map_err(|e| e.to_string())?)?;
    if let Err(e) = vm.set_user_memory(&ram.region(0, RAM), ShareMode::Share) {
        return Ok(format!("memory={:?}", e.errno));
    }
    let dtb = gunyah_hypervisor::GuestRange {
        guest_phys_addr: RAM + BIG_RAM - PAGE,
        size: PAGE,
    };
    vm.set_dtb_config(dtb).map_err(|e| e.to_string())?;
    let mut vcpu = vm.add_vcpu(0).map_err(|e| e.to_string())?;
    vm.start().map_err(|e| e.to_string())?;
    Ok(match vcpu.run() {
        Ok(VcpuExit::PageFault { phys_addr, errno }) => {
            format!("memory=ok fault={phys_addr:#x} {errno:?}")
        }
        other => format!("memory=ok then {other:?}"),
    })
}

/// Becomes uid and gid nobody with no supplementary groups, which clears every capability
/// (CAP_IPC_LOCK among them, which would lift RLIMIT_MEMLOCK).
fn drop_root() -> Result<(), String> {
    use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
    let (uid, gid) = (Uid::from_raw(NOBODY), Gid::from_raw(NOBODY));
    setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    setresgid(gid, gid, gid).map_err(|e| format!("setresgid({NOBODY}): {e}"))?;
    setresuid(uid, uid, uid).map_err(|e| format!("setresuid({NOBODY}): {e}"))?;
    Ok(())
}

/// The second process's side of a case: `role` is `owner` or `memlock`. Prints its report.
pub fn child_main(role: &str, device: &Path) -> Result<(), String> {
    let report = match role {
        "owner" => owner_child()?,
        "memlock" => memlock_child(device)?,
        _ => return Err(format!("no such child role {role:?}")),
    };
    println!("{REPORT_TAG}{report}");
    Ok(())
}

/// A test harness's side ([`Launcher::Harness`]): when [`CHILD_ROLE_ENV`] is set, plays that
/// child and exits the process (0, or 1 with the error on standard error) before the harness
/// reports anything; otherwise returns.
pub fn child_main_from_env() {
    let Some(role) = std::env::var_os(CHILD_ROLE_ENV) else {
        return;
    };
    let device = std::env::var_os(CHILD_DEVICE_ENV).map(PathBuf::from);
    let result = match (role.to_str(), device) {
        (Some(role), Some(device)) => child_main(role, &device),
        _ => Err(format!(
            "{CHILD_ROLE_ENV} needs a UTF-8 role and {CHILD_DEVICE_ENV} a device"
        )),
    };
    if let Err(e) = &result {
        eprintln!("conformance child: {e}");
    }
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(i32::from(result.is_err()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_report_is_found_in_a_harness_output() {
        let binary = format!("{REPORT_TAG}memory=ok run=ok\n");
        let harness = format!(
            "\nrunning 1 test\ntest test_device_conforms ... {REPORT_TAG}memory=EPERM run=EPERM\n"
        );
        assert_eq!(report_in(&binary).as_deref(), Some("memory=ok run=ok"));
        assert_eq!(
            report_in(&harness).as_deref(),
            Some("memory=EPERM run=EPERM")
        );
        assert_eq!(report_in("running 1 test\nmemory=ok\n"), None);
    }
}
