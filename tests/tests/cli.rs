//! gunyahctl against a real service: every subcommand in human and JSON form, config files
//! and their errors, exit statuses, and Ctrl-C/SIGTERM leaving no VM behind.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::Result;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use gunyah_contract::diagnostics::{Counter, Diagnostics};
use gunyah_vm_tests::{wait_until, workspace_bin, Service};

fn gunyahctl(service: &Service, args: &[&str]) -> Result<Output> {
    Ok(Command::new(workspace_bin("gunyahctl"))
        .arg("--socket")
        .arg(&service.socket)
        .args(args)
        .output()?)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The repository's file `path`.
fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

/// `run --json` output: one object per line.
fn events(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

fn live_vms(service: &Service) -> u64 {
    service
        .diagnostics()
        .map_or(u64::MAX, |d| d.count(Counter::BackendLiveVms))
}

/// Each generation the mock models shows in `info`, with the VM kinds that generation has.
#[test]
fn test_info_shows_the_generation() -> Result<()> {
    for (name, kinds) in [
        ("a14-early", "UNAUTHENTICATED, ANDROID_PVM\n"),
        ("a14-late", "UNAUTHENTICATED, ANDROID_PVM\n"),
        ("ack66-early", "UNAUTHENTICATED, ANDROID_PVM\n"),
        ("ack-newest", "ANDROID_PVM, QCOM_TRUSTED_VM\n"),
    ] {
        let service = Service::start(&["--mock-generation", name])?;
        let info = gunyahctl(&service, &["info"])?;
        let text = stdout(&info);
        // The interface says "a14" for both a14 revisions; the dump names the revision.
        let reported = name.strip_suffix("-early").or(name.strip_suffix("-late"));
        let reported = reported.filter(|n| *n == "a14").unwrap_or(name);
        assert!(
            text.contains(&format!("driver generation:          {reported} (")),
            "{name}: {text}"
        );
        assert!(text.contains(kinds), "{name}: {text}");
        let json: Value =
            serde_json::from_slice(&gunyahctl(&service, &["info", "--json"])?.stdout)?;
        assert_eq!(json["driver_generation"], reported);
        assert_eq!(json["driver_abi"], "MOCK", "the backend is still the mock");
        let dump = stdout(&gunyahctl(&service, &["dump"])?);
        assert!(
            dump.contains(&format!("driver.generation: {name} (")),
            "{name}: {dump}"
        );
        // `abi` lists every generation's probe row, naming this one.
        let abi_text = stdout(&gunyahctl(&service, &["abi"])?);
        assert!(
            abi_text.contains(&format!("[generation {name}]")),
            "{abi_text}"
        );
    }
    Ok(())
}

#[test]
fn test_info_human_and_json() -> Result<()> {
    let service = Service::start(&["--max-vcpus-per-vm", "4"])?;
    let info = gunyahctl(&service, &["info"])?;
    assert!(info.status.success(), "{info:?}");
    let text = stdout(&info);
    assert!(text.contains("backend:                    mock"), "{text}");
    assert!(text.contains("driver ABI:                 MOCK"), "{text}");
    assert!(
        text.contains(
            "driver generation:          ack66-late (android15-6.6 (later), android16-6.12)"
        ),
        "{text}"
    );
    assert!(
        text.contains("UNAUTHENTICATED, ANDROID_PVM, QCOM_TRUSTED_VM"),
        "{text}"
    );
    assert!(text.contains("max vCPUs per VM:           4"), "{text}");

    let info = gunyahctl(&service, &["info", "--json"])?;
    assert!(info.status.success());
    let caps: Value = serde_json::from_slice(&info.stdout)?;
    assert_eq!(caps["backend"], "mock");
    assert_eq!(caps["driver_abi"], "MOCK");
    assert_eq!(caps["driver_generation"], "ack66-late");
    assert_eq!(caps["max_vcpus_per_vm"], 4);
    assert_eq!(caps["page_size"], 4096);
    assert_eq!(caps["vm_kinds"][2], "QCOM_TRUSTED_VM");
    Ok(())
}

#[test]
fn test_list_and_dump_show_a_held_vm() -> Result<()> {
    let service = Service::start(&[])?;
    let list = gunyahctl(&service, &["list"])?;
    assert!(list.status.success());
    assert_eq!(stdout(&list).lines().count(), 1, "header only");
    let list = gunyahctl(&service, &["--json", "list"])?;
    assert_eq!(
        serde_json::from_slice::<Value>(&list.stdout)?,
        Value::Array(vec![])
    );

    // A VM held by `run`, in the same uid: `list` shows it, `dump` counts it.
    let (mut child, _out) = spawn_run(&service, &["--name", "held", "--cpus", "2"])?;
    let list = gunyahctl(&service, &["list"])?;
    let text = stdout(&list);
    let row: Vec<&str> = text
        .lines()
        .nth(1)
        .expect("a row")
        .split_whitespace()
        .collect();
    assert_eq!(row, ["1", "RUNNING", "2", "2097152", "held"], "{text}");
    let list: Value = serde_json::from_slice(&gunyahctl(&service, &["list", "--json"])?.stdout)?;
    assert_eq!(list[0]["name"], "held");
    assert_eq!(list[0]["state"], "RUNNING");
    assert_eq!(list[0]["vcpus"], 2);
    assert_eq!(list[0]["memory_bytes"], 2097152);

    let dump = Diagnostics::parse(&stdout(&gunyahctl(&service, &["dump"])?))?;
    assert_eq!(dump.count(Counter::BackendLiveVms), 1, "{dump:?}");
    let dump: Value = serde_json::from_slice(&gunyahctl(&service, &["dump", "--json"])?.stdout)?;
    assert_eq!(dump["values"][Counter::BackendLiveVms.key()], 1);
    assert_eq!(dump["values"][Counter::BackendLiveVcpus.key()], 2);
    assert_eq!(dump["vms"].as_array().map(Vec::len), Some(1));
    assert_eq!(dump["vms"][0]["name"], "held");
    assert_eq!(dump["vms"][0]["state"], "RUNNING");
    assert_eq!(dump["vms"][0]["vcpus"], 2);
    // `run` serves the guest's MMIO (here the recorder of unhandled accesses) through the MMIO
    // ring of a V3 service, not through binder handlers.
    assert_eq!(dump["vms"][0]["mmio_handlers"], 0);
    assert!(
        dump["vms"][0]["mmio_ring_ranges"].as_u64() > Some(0),
        "{dump}"
    );

    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT)?;
    assert_eq!(child.wait()?.code(), Some(130));
    assert!(wait_until(Duration::from_secs(2), || live_vms(&service) == 0));
    Ok(())
}

#[test]
fn test_default_log_is_one_start_line_and_no_warnings() -> Result<()> {
    let mut service = Service::start_quiet(&[])?;
    let run = gunyahctl(&service, &["run", "--hold", "1", "--cpus", "2"])?;
    assert!(run.status.success(), "{run:?}");
    assert!(service.terminate()?.success());
    let log = service.log();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "a start-up and a shutdown line, nothing per VM:\n{log}"
    );
    assert!(
        lines[0].contains(" INFO ")
            && lines[0].contains("serving ")
            && lines[0].contains(" on ")
            && lines[0].ends_with(&format!(
                "with the userspace mock driver, modelling ack66-late with {}-byte pages",
                gunyah_sys::mman::page_size()
            )),
        "{log}"
    );
    assert!(
        lines[1].contains(" INFO ") && lines[1].contains("shutting down"),
        "{log}"
    );
    assert!(!log.contains("WARN"), "{log}");
    Ok(())
}

/// Output sent where nobody listens is noticed: without --console, the hello guest's UART writes
/// are counted and --console suggested, in text and in the JSON `done` event; with it, nothing.
#[test]
fn test_run_reports_unhandled_mmio_and_suggests_the_console() -> Result<()> {
    let service = Service::start(&[])?;
    let hello = repo("examples/guests/hello.s");
    let run = gunyahctl(&service, &["run", "--program", &hello])?;
    let text = stdout(&run);
    assert!(run.status.success(), "{run:?}");
    assert!(
        text.contains("unhandled MMIO: 27 accesses (0 reads, 27 writes), first at 0x90000000;"),
        "{text}"
    );
    assert!(text.contains("try --console 0x90000000"), "{text}");

    let run = gunyahctl(&service, &["--json", "run", "--program", &hello])?;
    let done = events(&run).pop().expect("a done event");
    assert_eq!(done["event"], "done");
    assert_eq!(done["unhandled_mmio"]["writes"], 27);
    assert_eq!(done["unhandled_mmio"]["first_addresses"][0], 0x9000_0000u64);
    assert_eq!(done["unhandled_mmio"]["uart"]["address"], 0x9000_0000u64);

    let run = gunyahctl(
        &service,
        &["run", "--program", &hello, "--console", "0x90000000"],
    )?;
    assert!(!stdout(&run).contains("unhandled"), "{}", stdout(&run));
    Ok(())
}

#[test]
fn test_run_demo_prints_states_and_cleans_up() -> Result<()> {
    let service = Service::start(&[])?;
    let run = gunyahctl(
        &service,
        &["run", "--hold", "1", "--cpus", "2", "--name", "demo-vm"],
    )?;
    let text = stdout(&run);
    assert!(run.status.success(), "{run:?}");
    assert!(
        text.contains("created vm 1 (\"demo-vm\", 2097152 bytes, 2 vCPUs)"),
        "{text}"
    );
    let states: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("state: "))
        .collect();
    assert_eq!(states, ["STARTING", "RUNNING", "DESTROYED"], "{text}");
    assert!(text.ends_with("vm 1: DESTROYED\n"), "{text}");
    assert_eq!(live_vms(&service), 0);
    Ok(())
}

/// The README's quick start, exactly.
const HELLO: &str = "created vm 1 (\"demo\", 2097152 bytes, 1 vCPUs)
state: STARTING
state: RUNNING
Hello from a Gunyah guest!
state: EXITED
exit: EXITED type PSCI_POWER_OFF reason \"bye\"
state: DESTROYED
vm 1: DESTROYED
";

#[test]
fn test_run_hello_program_with_console() -> Result<()> {
    let service = Service::start(&[])?;
    let hello = repo("examples/guests/hello.s");
    let run = gunyahctl(
        &service,
        &["run", "--program", &hello, "--console", "0x9000_0000"],
    )?;
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    assert_eq!(stdout(&run), HELLO);

    let run = gunyahctl(
        &service,
        &[
            "--json",
            "run",
            "--program",
            &hello,
            "--console",
            "0x90000000",
        ],
    )?;
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let kinds: Vec<String> = events(&run)
        .iter()
        .map(|e| match e["event"].as_str() {
            Some("state") => format!("state {}", e["state"].as_str().unwrap_or("?")),
            Some("console") => format!("console {}", e["text"].as_str().unwrap_or("?")),
            Some(other) => other.to_string(),
            None => panic!("no event in {e}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "state STARTING",
            "state RUNNING",
            "console Hello from a Gunyah guest!",
            "state EXITED",
            "exit",
            "state DESTROYED",
            "done"
        ]
    );
    let all = events(&run);
    assert_eq!(all[0]["vm"], 2);
    assert_eq!(all[5]["type"], "PSCI_POWER_OFF");
    assert_eq!(all[5]["reason"], "bye");
    assert_eq!(all[7]["exit_status"], 0);
    assert_eq!(live_vms(&service), 0);
    Ok(())
}

#[test]
fn test_run_from_example_config_files() -> Result<()> {
    let service = Service::start(&[])?;
    for config in ["hello", "qtvm"] {
        let path = repo(&format!("examples/configs/{config}.toml"));
        let run = gunyahctl(&service, &["run", "--config", &path])?;
        assert_eq!(run.status.code(), Some(0), "{config}: {run:?}");
        assert!(
            stdout(&run)
                .lines()
                .any(|l| l == "Hello from a Gunyah guest!"),
            "{config}: {}",
            stdout(&run)
        );
    }
    // Flags override the file.
    let path = repo("examples/configs/hello.toml");
    let run = gunyahctl(
        &service,
        &["run", "-c", &path, "--name", "renamed", "--cpus", "2"],
    )?;
    assert!(
        stdout(&run).starts_with("created vm 3 (\"renamed\", 2097152 bytes, 2 vCPUs)"),
        "{}",
        stdout(&run)
    );
    // The device example is complete but for its images.
    let linux = repo("examples/configs/linux.toml");
    let run = gunyahctl(&service, &["run", "-c", &linux])?;
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(
        stderr(&run).starts_with("gunyahctl: kernel (")
            && stderr(&run).contains("Image): No such file"),
        "{}",
        stderr(&run)
    );
    assert_eq!(live_vms(&service), 0);
    Ok(())
}

#[test]
fn test_config_file_errors_name_the_key() -> Result<()> {
    let service = Service::start(&[])?;
    let dir = service.dir().join("configs");
    std::fs::create_dir_all(&dir)?;
    let cases = [
        (
            "unknown.toml",
            "name = \"x\"\nvcpus = 2\n",
            ":2:1: unknown field `vcpus`",
        ),
        (
            "size.toml",
            "[[memory]]\nbase = 0x8000_0000\nsize = \"2Q\"\n",
            "memory[0].size: unknown size suffix 'Q'",
        ),
        (
            "auth.toml",
            "auth = \"secure\"\n",
            "auth: unknown VM kind \"secure\"",
        ),
        (
            "overlap.toml",
            "[program]\npath = \"p.s\"\n[[images]]\npath = \"p.s\"\naddr = 0x8000_0000\n",
            "images[0]: overlaps program",
        ),
        (
            "vcpus.toml",
            "cpus = 0\n",
            "createVm: INVALID_ARGUMENT: vcpuCount: 0 is out of range",
        ),
    ];
    std::fs::write(dir.join("p.s"), "exit VM_EXIT\n")?;
    for (file, text, expected) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text)?;
        let run = gunyahctl(&service, &["run", "--config", &path.display().to_string()])?;
        let err = stderr(&run);
        assert!(err.contains(expected), "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{file}: one line: {err}");
        assert_ne!(run.status.code(), Some(0), "{file}");
        let run = gunyahctl(
            &service,
            &["--json", "run", "--config", &path.display().to_string()],
        )?;
        let error: Value = serde_json::from_slice(&run.stdout)?;
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(expected)),
            "{file}: {error}"
        );
    }
    let missing = gunyahctl(&service, &["run", "--config", "/nonexistent/vm.toml"])?;
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).starts_with("gunyahctl: config /nonexistent/vm.toml: No such file"));
    assert_eq!(live_vms(&service), 0);
    assert_eq!(
        service.diagnostics()?.count(Counter::CreatedTotal),
        0,
        "rejected before the call"
    );
    Ok(())
}

#[test]
fn test_exit_statuses_follow_the_guest() -> Result<()> {
    let service = Service::start(&[])?;
    let dir = service.dir().to_path_buf();
    let program = |name: &str, text: &str| -> Result<String> {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        Ok(path.display().to_string())
    };
    let cases = [
        (program("off.s", "exit PSCI_POWER_OFF\n")?, 0),
        (program("exit.s", "exit VM_EXIT\n")?, 0),
        (repo("examples/guests/crash.s"), 3),
        (program("reset.s", "exit PSCI_SYSTEM_RESET\n")?, 5),
        (program("wdt.s", "exit WDT_BITE\n")?, 5),
    ];
    for (path, code) in &cases {
        let run = gunyahctl(&service, &["run", "--program", path])?;
        assert_eq!(run.status.code(), Some(*code), "{path}: {run:?}");
    }
    // A kernel without a loadable image: the guest fails to load.
    let zeros = dir.join("zeros.img");
    std::fs::write(&zeros, vec![0u8; 4096])?;
    let run = gunyahctl(
        &service,
        &[
            "run",
            "--kernel",
            &format!("{}@0x80000000", zeros.display()),
        ],
    )?;
    assert_eq!(run.status.code(), Some(4), "{run:?}");
    assert!(
        stdout(&run).contains("exit: LOAD_FAILED"),
        "{}",
        stdout(&run)
    );
    // Refused by the service's rules: 1.
    let run = gunyahctl(&service, &["run", "--cpus", "99"])?;
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        stderr(&run),
        "gunyahctl: createVm: INVALID_ARGUMENT: vcpuCount: 99 is out of range (1..=8)\n"
    );
    assert_eq!(live_vms(&service), 0);
    Ok(())
}

/// Starts `gunyahctl run` with `args` and waits until its VM runs.
fn spawn_run(
    service: &Service,
    args: &[&str],
) -> Result<(Child, BufReader<std::process::ChildStdout>)> {
    let mut child = Command::new(workspace_bin("gunyahctl"))
        .arg("--socket")
        .arg(&service.socket)
        .arg("run")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut running, mut attached) = (false, false);
    while !(running && attached) {
        let mut line = String::new();
        assert!(out.read_line(&mut line)? > 0, "gunyahctl ended early");
        running |= line == "state: RUNNING\n";
        attached |= line.contains("Ctrl-C");
    }
    Ok((child, out))
}

#[test]
fn test_ctrl_c_and_sigterm_destroy_the_vm() -> Result<()> {
    let service = Service::start(&[])?;
    for (signal, code, name) in [
        (Signal::SIGINT, 130, "SIGINT"),
        (Signal::SIGTERM, 143, "SIGTERM"),
    ] {
        let (mut child, mut out) = spawn_run(&service, &["--cpus", "2"])?;
        assert_eq!(live_vms(&service), 1);
        kill(Pid::from_raw(child.id() as i32), signal)?;
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest)?;
        assert_eq!(child.wait()?.code(), Some(code), "{rest}");
        let lines: Vec<&str> = rest.lines().collect();
        assert_eq!(
            lines,
            [
                &format!("{name}: destroying vm {}", if code == 130 { 1 } else { 2 }) as &str,
                "state: DESTROYED",
                &format!("vm {}: DESTROYED", if code == 130 { 1 } else { 2 }),
            ]
        );
        // destroy() returned before gunyahctl printed; once the reaper has closed the driver
        // objects, nothing is left.
        service.wait_released()?;
        assert_eq!(live_vms(&service), 0, "{name}");
    }
    Ok(())
}

#[test]
fn test_service_death_during_run_is_an_error_not_a_hang() -> Result<()> {
    let mut service = Service::start(&[])?;
    let (mut child, mut out) = spawn_run(&service, &[])?;
    service.kill()?;
    assert!(
        wait_until(Duration::from_secs(10), || child
            .try_wait()
            .is_ok_and(|s| s.is_some())),
        "gunyahctl still waits after the service died"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest)?;
    assert_eq!(child.wait()?.code(), Some(1), "{rest}");
    assert!(rest.contains("the Gunyah VM service died"), "{rest}");
    Ok(())
}

#[test]
fn test_clear_error_without_service() -> Result<()> {
    for json in [false, true] {
        let mut cmd = Command::new(workspace_bin("gunyahctl"));
        cmd.args(["--socket", "/nonexistent/gunyah.sock", "info"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output()?;
        assert_eq!(out.status.code(), Some(1));
        let message = if json {
            let v: Value = serde_json::from_slice(&out.stdout)?;
            v["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        } else {
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");
            err.strip_prefix("gunyahctl: ")
                .unwrap_or_default()
                .to_string()
        };
        assert!(
            message
                .starts_with("cannot connect to the Gunyah VM service at /nonexistent/gunyah.sock"),
            "{message}"
        );
    }
    Ok(())
}

#[test]
fn test_socket_from_the_environment() -> Result<()> {
    let service = Service::start(&[])?;
    let out = Command::new(workspace_bin("gunyahctl"))
        .env("GUNYAH_VM_SOCKET", &service.socket)
        .args(["info", "--json"])
        .output()?;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout)?["backend"],
        "mock"
    );
    Ok(())
}

#[test]
fn test_service_refuses_a_live_socket_and_replaces_a_stale_one() -> Result<()> {
    let mut first = Service::start(&[])?;
    let second = Command::new(workspace_bin("gunyah-vm-service"))
        .arg("--socket")
        .arg(&first.socket)
        .args(["--backend", "mock"])
        .output()?;
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already listening"),
        "{second:?}"
    );
    // SIGTERM: clean exit, socket removed.
    assert!(first.terminate()?.success());
    assert!(!first.socket.exists());

    // A killed service leaves its socket behind; the next one replaces it.
    let dir = first.dir().join("stale");
    let mut killed = Service::start_in(dir.clone(), &[])?;
    killed.kill()?;
    assert!(killed.socket.exists(), "SIGKILL leaves the socket file");
    let fresh = Service::start_in(dir, &[])?;
    let client = fresh.connect(0)?;
    assert_eq!(client.capabilities()?.backend, "mock");
    assert!(
        fresh.log().contains("removing stale socket"),
        "{}",
        fresh.log()
    );
    Ok(())
}

#[test]
fn test_progress_while_large_images_load() -> Result<()> {
    let service = Service::start(&[])?;
    let image = service.dir().join("big.img");
    std::fs::write(&image, vec![0u8; 20 << 20])?;
    let kernel = format!("{}@0x80000000", image.display());
    let run = gunyahctl(
        &service,
        &["run", "--mem", "32M", "--kernel", &kernel, "--progress"],
    )?;
    // Zeros are no loadable program for the mock: the guest fails to load, after loading.
    assert_eq!(run.status.code(), Some(4), "{run:?}");
    let err = stderr(&run);
    let reports: Vec<&str> = err.split('\r').filter(|r| !r.is_empty()).collect();
    assert_eq!(
        reports,
        [
            "loading kernel:  20% (4 of 20 MiB)",
            "loading kernel:  40% (8 of 20 MiB)",
            "loading kernel:  60% (12 of 20 MiB)",
            "loading kernel:  80% (16 of 20 MiB)",
            "loading kernel: 100% (20 of 20 MiB)\n"
        ],
        "{err:?}"
    );
    // Not a terminal and no --progress: quiet.
    let run = gunyahctl(&service, &["run", "--mem", "32M", "--kernel", &kernel])?;
    assert_eq!(stderr(&run), "");
    Ok(())
}
