//! Test harness: starts the real `gunyah-vm-service` binary on a temporary socket, connects
//! clients through the generated proxies, and reads the service's counters (its diagnostics
//! and `/proc/<pid>`) to prove that nothing leaks.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use gunyah_binder::host::{diagnostics as diag_socket, socket};
use gunyah_binder::{classify, CallError, Status};
use gunyah_vm_client::{Client, Target};

pub mod conformance;
pub mod hostile_fds;
pub mod raw_ring;

/// The directory holding the workspace's binaries (beside this test executable's `deps/`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("deps dir");
    if dir.ends_with("deps") {
        dir.parent().expect("target dir").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// A workspace binary by name; panics with a hint when it was not built.
pub fn workspace_bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it",
        path.display()
    );
    path
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits (up to `timeout`) for an eventfd to become readable and reads its count.
pub fn read_eventfd(fd: &std::os::fd::OwnedFd, timeout: Duration) -> Option<u64> {
    gunyah_vm_client::EventFd::new(fd.try_clone().ok()?).wait(timeout)
}

pub use gunyah_contract::diagnostics::{Counter, Diagnostics};

/// Starts `gunyah-test-client --socket <service's socket> <args>` and waits for the first line
/// it prints (`READY ...`, `IN_MMIO`, `IN_RING`): the client and that line.
pub fn spawn_test_client(service: &Service, args: &[&str]) -> Result<(Child, String)> {
    use std::io::BufRead;
    let mut child = Command::new(workspace_bin("gunyah-test-client"))
        .arg("--socket")
        .arg(&service.socket)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    let stdout = child.stdout.take().context("the client's stdout")?;
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    Ok((child, line))
}

/// What must return to its earlier value after teardown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Entries of `/proc/<pid>/fd`.
    pub fds: usize,
    /// Threads of the service.
    pub threads: usize,
    /// Mappings of guest memory memfds in `/proc/<pid>/maps`.
    pub guest_mappings: usize,
    /// VMs alive in the backend.
    pub backend_vms: u64,
    /// vCPUs alive in the backend.
    pub backend_vcpus: u64,
}

/// The environment variable that picks the mock generation of the services tests start.
pub const MOCK_GENERATION_ENV: &str = "GUNYAH_TEST_MOCK_GENERATION";

/// A running `gunyah-vm-service`, stopped with SIGTERM on drop.
pub struct Service {
    child: Child,
    dir: PathBuf,
    /// The socket it serves on.
    pub socket: PathBuf,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Service {
    /// Starts the service with the mock backend and `extra` arguments, and waits until both
    /// of its sockets accept connections.
    pub fn start(extra: &[&str]) -> Result<Service> {
        Self::start_in(Self::new_dir(), extra)
    }

    /// As [`Service::start`], in `dir` (socket `dir/gunyah-vm.sock`).
    pub fn start_in(dir: PathBuf, extra: &[&str]) -> Result<Service> {
        Self::start_wrapped(dir, &[], &["-vv"], extra)
    }

    /// As [`Service::start`], run through `wrapper` (e.g. `prlimit --nofile=32 --`).
    pub fn start_under(wrapper: &[&str], extra: &[&str]) -> Result<Service> {
        Self::start_wrapped(Self::new_dir(), wrapper, &["-vv"], extra)
    }

    /// As [`Service::start`], logging only warnings, as the service does by default: for
    /// measurements of what is deployed.
    pub fn start_quiet(extra: &[&str]) -> Result<Service> {
        Self::start_wrapped(Self::new_dir(), &[], &[], extra)
    }

    fn new_dir() -> PathBuf {
        std::env::temp_dir().join(format!(
            "gunyah-vm-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// As [`Service::start_quiet`], running the service binary `service_bin` (another build of
    /// it, e.g. for a benchmark's comparison).
    pub fn start_quiet_bin(service_bin: &Path, extra: &[&str]) -> Result<Service> {
        Self::start_bin(Self::new_dir(), service_bin, &[], &[], extra)
    }

    fn start_wrapped(
        dir: PathBuf,
        wrapper: &[&str],
        verbosity: &[&str],
        extra: &[&str],
    ) -> Result<Service> {
        Self::start_bin(
            dir,
            &workspace_bin("gunyah-vm-service"),
            wrapper,
            verbosity,
            extra,
        )
    }

    fn start_bin(
        dir: PathBuf,
        service_bin: &Path,
        wrapper: &[&str],
        verbosity: &[&str],
        extra: &[&str],
    ) -> Result<Service> {
        std::fs::create_dir_all(&dir)?;
        let socket = dir.join("gunyah-vm.sock");
        let log = std::fs::File::create(dir.join("service.log"))?;
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(service_bin);
                c
            }
            None => Command::new(service_bin),
        };
        // GUNYAH_TEST_MOCK_GENERATION runs a test binary's services on another generation of
        // the mock (CI runs the end-to-end guest tests on a14 this way too).
        let generation = std::env::var(MOCK_GENERATION_ENV)
            .ok()
            .filter(|_| !extra.contains(&"--mock-generation"));
        let child = command
            .arg("--socket")
            .arg(&socket)
            .args(["--backend", "mock"])
            .args(verbosity)
            .args(extra)
            .args(
                generation
                    .iter()
                    .flat_map(|g| ["--mock-generation", g.as_str()]),
            )
            .env_remove(socket::SOCKET_ENV)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("spawning gunyah-vm-service")?;
        let mut service = Service { child, dir, socket };
        let diag = socket::diagnostics_path(&service.socket);
        let up = wait_until(Duration::from_secs(20), || {
            std::os::unix::net::UnixStream::connect(&service.socket).is_ok()
                && std::os::unix::net::UnixStream::connect(&diag).is_ok()
        });
        if !up {
            let status = service.child.try_wait()?;
            bail!(
                "the service did not come up ({status:?}); log:\n{}",
                service.log()
            );
        }
        Ok(service)
    }

    /// The service's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The service's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("service.log")).unwrap_or_default()
    }

    /// Connects a client (`incoming` callback connections; 0 for none).
    pub fn connect(&self, incoming: u32) -> Result<Client> {
        Ok(Client::connect_with(
            &Target::Socket(self.socket.clone()),
            incoming,
        )?)
    }

    /// The service's diagnostics.
    pub fn diagnostics(&self) -> Result<Diagnostics> {
        let text = diag_socket::read(&socket::diagnostics_path(&self.socket))?;
        Ok(Diagnostics::parse(&text)?)
    }

    /// Waits until the reaper has released every torn-down VM (`vms.releasing` is 0): after
    /// `destroy()` returns, or the last reference is dropped, the driver objects are closed in
    /// the background.
    pub fn wait_released(&self) -> Result<()> {
        let mut last = None;
        let released = wait_until(Duration::from_secs(10), || {
            last = self
                .diagnostics()
                .ok()
                .map(|d| d.count(Counter::ReleasingVms));
            last == Some(0)
        });
        if !released {
            bail!("VMs still being released after 10 s: {last:?}");
        }
        Ok(())
    }

    /// The service's resource footprint, read from /proc and its diagnostics.
    pub fn footprint(&self) -> Result<Footprint> {
        let proc_dir = PathBuf::from(format!("/proc/{}", self.pid()));
        let fds = std::fs::read_dir(proc_dir.join("fd"))?.count();
        let status = std::fs::read_to_string(proc_dir.join("status"))?;
        let threads = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| anyhow!("no Threads: line"))?;
        let maps = std::fs::read_to_string(proc_dir.join("maps"))?;
        let guest_mappings = maps
            .lines()
            .filter(|l| l.contains("memfd:guest-ram"))
            .count();
        let d = self.diagnostics()?;
        Ok(Footprint {
            fds,
            threads,
            guest_mappings,
            backend_vms: d.count(Counter::BackendLiveVms),
            backend_vcpus: d.count(Counter::BackendLiveVcpus),
        })
    }

    /// Waits until no VM resource is left (backend VMs and vCPUs, guest mappings), then returns
    /// the settled footprint: the baseline for leak checks.
    pub fn baseline(&self) -> Result<Footprint> {
        let mut last = None;
        let idle = wait_until(Duration::from_secs(5), || {
            last = self.footprint().ok();
            last.is_some_and(|f| {
                f.backend_vms == 0 && f.backend_vcpus == 0 && f.guest_mappings == 0
            })
        });
        if !idle {
            bail!("VM resources are still alive: {last:?}");
        }
        self.settled_footprint()
    }

    /// The footprint once the service is quiet: three equal readings 20 ms apart (transient
    /// threads of a just-opened connection are not part of any baseline).
    pub fn settled_footprint(&self) -> Result<Footprint> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut readings = vec![self.footprint()?];
        loop {
            std::thread::sleep(Duration::from_millis(20));
            readings.push(self.footprint()?);
            let n = readings.len();
            if n >= 3 && readings[n - 1] == readings[n - 2] && readings[n - 2] == readings[n - 3] {
                return Ok(readings[n - 1]);
            }
            if Instant::now() >= deadline {
                bail!("the service did not settle: {readings:?}");
            }
        }
    }

    /// Waits until the footprint equals `baseline`; returns how long it took, or an error with
    /// the last footprint seen.
    pub fn wait_for_footprint(&self, baseline: Footprint, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        let mut last = None;
        let ok = wait_until(timeout, || {
            last = self.footprint().ok();
            last == Some(baseline)
        });
        if ok {
            Ok(start.elapsed())
        } else {
            bail!("footprint did not return to {baseline:?} within {timeout:?}; last {last:?}")
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The directory holding the socket and the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sends SIGKILL and waits (the socket file stays behind).
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM)?;
        Ok(self.child.wait()?)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
            let exited = wait_until(Duration::from_secs(5), || {
                !matches!(self.child.try_wait(), Ok(None))
            });
            if !exited {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Asserts that `result` failed with service-specific `code` and a message starting with
/// `prefix`.
pub fn assert_service_error<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: i32,
    prefix: &str,
) {
    let status = result.expect_err("the call should fail");
    match classify(&status) {
        CallError::ServiceSpecific { code: c, message } => {
            assert_eq!(c, code, "wrong code for {message:?}");
            assert!(
                message.starts_with(prefix),
                "{message:?} does not start with {prefix:?}"
            );
        }
        other => panic!("expected service-specific error {code}, got {other:?}"),
    }
}

/// Asserts that `result` failed with `EX_SECURITY`.
pub fn assert_security<T: std::fmt::Debug>(result: Result<T, Status>) {
    let status = result.expect_err("the call should be denied");
    assert!(
        matches!(classify(&status), CallError::Security(_)),
        "expected EX_SECURITY, got {status:?}"
    );
}
