//! gunyah-bench: what the service costs over the bare driver, how fast a dead client's VMs are
//! gone, how it scales with live VMs, the guest data path, and that guest memory is never
//! copied. Drives the real `gunyah-vm-service` binary (mock backend) over its socket; prints a
//! table, and with `--out DIR` writes `results.json` and SVG plots. `--quick` is the bounded
//! smoke mode CI runs (no timing is asserted anywhere).

use std::io::{BufRead, BufReader, Write as _};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use gunyah_binder::aidl::{
    GuestRange::GuestRange,
    IGunyahMmioHandler::{BnGunyahMmioHandler, IGunyahMmioHandler},
    IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig,
};
use gunyah_binder::{BinderResult, Caller, Interface};
use gunyah_contract::vm_config::Limits;
use gunyah_mock::MockHypervisor;
use gunyah_vm::access::AccessPolicy;
use gunyah_vm::manager::{ManagerConfig, VmManager};
use gunyah_vm::quota::QuotaLimits;
use gunyah_vm_client::demo::{demo_config, demo_config_with_program};
use gunyah_vm_client::mmio::MmioHandler;
use gunyah_vm_client::{Client, Target, Vm};
use gunyah_vm_tests::{wait_until, workspace_bin, Service};

/// Benchmarks the Gunyah VM service (mock backend) against the bare driver: call costs, a dead
/// client's teardown, scaling with live VMs and the guest data path.
#[derive(Parser)]
#[command(long_about = None)]
struct Args {
    /// Bounded smoke mode: few iterations, small sizes.
    #[arg(long)]
    quick: bool,
    /// Write results.json and the SVG plots here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Measure only the guest data path (MMIO exits, doorbell → ioeventfd), through the
    /// service registered with the kernel binder service manager instead of a service of the
    /// bench's own: the QEMU tier's run on gunyah_mock.ko.
    #[arg(long)]
    kernel_binder: bool,
    /// Events per data-path measurement (default: 20,000; 200 with --quick).
    #[arg(long)]
    events: Option<usize>,
    /// Data-path measurements, each with a VM (and vCPU thread) of its own: the scheduler
    /// places the client and the vCPU thread anew each time, and the doorbell round trip
    /// depends on whether they share a CPU (default: 5; 2 with --quick).
    #[arg(long)]
    datapath_runs: Option<usize>,
    /// Run only these measurements (lifecycle, teardown_ms, teardown_waiting_ms, scaling,
    /// datapath, memory, tracing); repeatable. Default: all.
    #[arg(long)]
    only: Vec<String>,
    /// `tracing`: also measure this service binary, built with every trace span compiled away
    /// (`cargo build --release -p gunyah-vm-service --features tracing/max_level_off
    /// --target-dir target/spans-off`), in the same alternation.
    #[arg(long, value_name = "BIN")]
    spans_compiled_out: Option<PathBuf>,
}

struct Sizes {
    lifecycle_iters: usize,
    teardown_samples: usize,
    teardown_vms: Vec<usize>,
    scaling_points: Vec<usize>,
    scaling_iters: usize,
    datapath_events: usize,
    datapath_runs: usize,
    big_region: u64,
}

const MIB: u64 = 1 << 20;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

fn summary(mut samples: Vec<f64>) -> Value {
    samples.sort_by(|a, b| a.total_cmp(b));
    json!({
        "n": samples.len(),
        "min": samples.first().copied().unwrap_or(f64::NAN),
        "p50": percentile(&samples, 0.5),
        "p99": percentile(&samples, 0.99),
        "max": samples.last().copied().unwrap_or(f64::NAN),
        "samples": samples,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// 1. create (64 MiB) → start → destroy through the service vs in-process vs the round trip.
fn lifecycle(service: &Service, s: &Sizes) -> Result<Value> {
    let client = service.connect(0)?;
    let mut through_service = Vec::new();
    let mut round_trip = Vec::new();
    let mut direct = Vec::new();
    let hyp = Arc::new(MockHypervisor::new());
    let core = VmManager::new(ManagerConfig {
        hypervisor: hyp,
        policy: AccessPolicy::allow_uids([0]),
        limits: Limits::default(),
        quotas: QuotaLimits::default(),
        max_releasing_vms: gunyah_vm::vm::reaper::DEFAULT_MAX_PENDING,
    });
    let caller = Caller {
        uid: 0,
        pid: std::process::id() as i32,
    };
    for i in 0..s.lifecycle_iters + 2 {
        // Both paths include making the client's 64 MiB memfd (untouched).
        let t = Instant::now();
        let config = demo_config("bench", 64 * MIB, 1)?;
        let vm = client
            .manager()
            .createVm(&config)
            .map_err(|e| anyhow!("{e:?}"))?;
        vm.start().map_err(|e| anyhow!("{e:?}"))?;
        vm.destroy().map_err(|e| anyhow!("{e:?}"))?;
        let service_t = t.elapsed();
        let t = Instant::now();
        vm.getState().map_err(|e| anyhow!("{e:?}"))?;
        let rt = t.elapsed();
        drop(vm);

        let t = Instant::now();
        let config = demo_config("bench", 64 * MIB, 1)?;
        let vm = core
            .create_vm(&caller, &config)
            .map_err(|e| anyhow!("{e}"))?;
        vm.start().map_err(|e| anyhow!("{e}"))?;
        vm.destroy();
        let direct_t = t.elapsed();
        drop(vm);
        if i >= 2 {
            // The first two are warm-up.
            through_service.push(us(service_t));
            round_trip.push(us(rt));
            direct.push(us(direct_t));
        }
    }
    let median = |v: &Vec<f64>| {
        let mut v = v.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        percentile(&v, 0.5)
    };
    let k = 3.0; // createVm, start, destroy
    let ratio = median(&through_service) / (median(&direct) + k * median(&round_trip));
    Ok(json!({
        "service_us": summary(through_service),
        "direct_us": summary(direct),
        "round_trip_us": summary(round_trip),
        "calls": k,
        "ratio": ratio,
    }))
}

/// 2. A client holding N running VMs is SIGKILLed: time until every VM fd is closed.
///
/// With `waiting`, each guest is blocked waiting on a doorbell when its client dies.
fn teardown(service: &Service, s: &Sizes, waiting: bool) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for &n in &s.teardown_vms {
        let mut samples = Vec::new();
        for _ in 0..s.teardown_samples {
            let baseline = service.baseline()?;
            let mut child = Command::new(workspace_bin("gunyah-test-client"))
                .arg("--socket")
                .arg(&service.socket)
                .args(["--vms", &n.to_string(), "--start"])
                .args(waiting.then_some("--waiting"))
                .stdout(Stdio::piped())
                .spawn()?;
            let mut line = String::new();
            BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
            anyhow::ensure!(line.starts_with("READY"), "client said {line:?}");
            let killed = Instant::now();
            kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL)?;
            child.wait()?;
            // Polled cheaply (the fd count: every VM, vCPU and memory fd is one), so that the
            // polling does not slow the teardown it times; then confirmed by the backend.
            let fds_closed = wait_until(Duration::from_secs(30), || {
                fd_count(service.pid()).is_ok_and(|fds| fds == baseline.fds)
            });
            let took = killed.elapsed();
            anyhow::ensure!(fds_closed, "{n} VMs were not torn down within 30 s");
            let f = service.footprint()?;
            anyhow::ensure!(f.backend_vms == 0, "fds closed, but {f:?}");
            samples.push(ms(took));
        }
        out.insert(n.to_string(), summary(samples));
    }
    Ok(Value::Object(out))
}

fn fd_count(pid: u32) -> Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

fn status_kib(pid: u32, key: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow!("no {key} in /proc/{pid}/status"))
}

/// 3. createVm and getState latency with 0, 100, 1000 live (idle) VMs; RSS per idle VM.
fn scaling(service: &Service, s: &Sizes) -> Result<Value> {
    let client = service.connect(0)?;
    let mut held = Vec::new();
    let mut points = Vec::new();
    let rss_before = status_kib(service.pid(), "VmRSS:")?;
    for &live in &s.scaling_points {
        while held.len() < live {
            held.push(
                client
                    .manager()
                    .createVm(&demo_config("idle", 64 << 10, 1)?)
                    .map_err(|e| anyhow!("{e:?}"))?,
            );
        }
        let rss = status_kib(service.pid(), "VmRSS:")?;
        let threads = status_kib(service.pid(), "Threads:")?;
        let mut create = Vec::new();
        let mut get_state = Vec::new();
        for _ in 0..s.scaling_iters {
            let config = demo_config("probe", 64 << 10, 1)?;
            let t = Instant::now();
            let vm = client
                .manager()
                .createVm(&config)
                .map_err(|e| anyhow!("{e:?}"))?;
            create.push(us(t.elapsed()));
            let t = Instant::now();
            vm.getState().map_err(|e| anyhow!("{e:?}"))?;
            get_state.push(us(t.elapsed()));
            drop(vm);
        }
        points.push(json!({
            "live_vms": live,
            "create_us": summary(create),
            "get_state_us": summary(get_state),
            "rss_kib": rss,
            "threads": threads,
        }));
    }
    let most = *s.scaling_points.last().unwrap_or(&0) as u64;
    let rss_after = status_kib(service.pid(), "VmRSS:")?;
    let per_vm = if most > 0 {
        (rss_after.saturating_sub(rss_before)) as f64 / most as f64
    } else {
        0.0
    };
    // Threads per running VM: start one 2-vCPU VM.
    let before = status_kib(service.pid(), "Threads:")?;
    let vm = client
        .manager()
        .createVm(&demo_config("running", MIB, 2)?)
        .map_err(|e| anyhow!("{e:?}"))?;
    vm.start().map_err(|e| anyhow!("{e:?}"))?;
    let threads_per_vcpu = (status_kib(service.pid(), "Threads:")? - before) as f64 / 2.0;
    drop(vm);
    drop(held);
    Ok(
        json!({ "points": points, "rss_kib_per_idle_vm": per_vm, "threads_per_running_vcpu": threads_per_vcpu }),
    )
}

/// The time between consecutive guest reads of the device: one whole MMIO exit (the guest
/// loop's other instructions cost nothing next to it).
#[derive(Default)]
struct Intervals(std::sync::Mutex<(Option<Instant>, Vec<f64>)>);

impl Intervals {
    fn tick(&self) {
        let mut s = self.0.lock().unwrap();
        let now = Instant::now();
        if let Some(last) = s.0.replace(now) {
            s.1.push(us(now - last));
        }
    }

    fn take(&self) -> Vec<f64> {
        std::mem::take(&mut self.0.lock().unwrap().1)
    }
}

/// The binder path's handler.
struct BinderAnswer(Arc<Intervals>);
impl Interface for BinderAnswer {}
impl IGunyahMmioHandler for BinderAnswer {
    fn onRead(&self, address: i64, _size: i32) -> BinderResult<i64> {
        self.0.tick();
        Ok(address & 0xff)
    }
    fn onWrite(&self, _address: i64, _size: i32, _value: i64) -> BinderResult<()> {
        Ok(())
    }
}

/// The MMIO ring's handler (through the client library).
struct RingAnswer(Arc<Intervals>);
impl MmioHandler for RingAnswer {
    fn read(&self, address: u64, _size: u32) -> u64 {
        self.0.tick();
        address & 0xff
    }
    fn write(&self, _address: u64, _size: u32, _value: u64) {}
}

/// How a measured VM's device is served.
#[derive(Clone, Copy)]
enum MmioPath {
    /// An `IGunyahMmioHandler` binder object: two binder calls per exit.
    Binder,
    /// The MMIO ring through the client library: two eventfd wake-ups per exit.
    Ring,
}

/// CPU time a process has used, its exited threads included (`/proc/<pid>/stat` utime +
/// stime, in clock ticks of 10 ms).
fn cpu_ms(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which ends with the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields
            .get(i)
            .context("a short /proc stat")?
            .parse::<f64>()?)
    };
    // utime and stime are fields 14 and 15: 11 and 12 after the name and state.
    Ok((ticks(11)? + ticks(12)?) * 10.0)
}

/// `n` guest MMIO reads served over `path`: the mean per exit, exits per second, the
/// distribution of single exits, and (with the service's pid) the CPU both processes spent
/// per exit.
fn mmio_exits(client: &Client, n: usize, path: MmioPath, service: Option<u32>) -> Result<Value> {
    let program = format!(
        "mov r1, {n}\nloop: load4 r0, [0x90000000]\nsub r1, 1\njnz r1, loop\nexit VM_EXIT\n"
    );
    let binder = client
        .manager()
        .createVm(&demo_config_with_program("mmio", MIB, 1, &program)?)
        .map_err(|e| anyhow!("{e:?}"))?;
    let intervals = Arc::new(Intervals::default());
    let vm = Vm::attach(binder.clone())?;
    match path {
        MmioPath::Binder => {
            let handler =
                gunyah_binder::new_binder!(BnGunyahMmioHandler, BinderAnswer(intervals.clone()));
            let range = GuestRange {
                guestPhysAddr: 0x9000_0000,
                size: 4096,
            };
            binder
                .setMmioHandler(&range, Some(&handler))
                .map_err(|e| anyhow!("{e:?}"))?;
        }
        MmioPath::Ring => {
            vm.set_mmio_handler(0x9000_0000, 4096, RingAnswer(intervals.clone()))?;
        }
    }
    let me = std::process::id();
    let cpu_before = match service {
        Some(pid) => Some(cpu_ms(pid)? + cpu_ms(me)?),
        None => None,
    };
    let t = Instant::now();
    vm.start()?;
    vm.wait_for_exit(Some(Duration::from_secs(300)))
        .context("the MMIO guest did not finish")?;
    let total = t.elapsed();
    let cpu_us_per_exit = match (service, cpu_before) {
        (Some(pid), Some(before)) => {
            json!((cpu_ms(pid)? + cpu_ms(me)? - before) * 1000.0 / n as f64)
        }
        _ => Value::Null,
    };
    Ok(json!({
        "exits": n,
        "us_per_exit": us(total) / n as f64,
        "exits_per_s": n as f64 / total.as_secs_f64(),
        "exit_us": summary(intervals.take()),
        "cpu_us_per_exit": cpu_us_per_exit,
    }))
}

/// One arm of the `tracing` measurement: how the service runs.
struct TraceArm {
    name: &'static str,
    /// Another build of the service, or the workspace's.
    bin: Option<PathBuf>,
    /// Whether `--trace` writes a trace.
    trace: bool,
}

/// Measurement 6, the cost of the trace spans: MMIO exits over binder and over the ring on a
/// service with no trace recorded ("off"), and on one writing a trace with `--trace`
/// ("trace_written"); with `spans_compiled_out`, also on a build with every span compiled
/// away. Each run starts a service per arm, the arms alternating, so that the arms share
/// the machine's drift.
fn tracing_cost(events: usize, runs: usize, spans_compiled_out: Option<&Path>) -> Result<Value> {
    let mut arms = vec![
        TraceArm {
            name: "off",
            bin: None,
            trace: false,
        },
        TraceArm {
            name: "trace_written",
            bin: None,
            trace: true,
        },
    ];
    if let Some(bin) = spans_compiled_out {
        arms.insert(
            0,
            TraceArm {
                name: "compiled_out",
                bin: Some(bin.to_path_buf()),
                trace: false,
            },
        );
    }
    let dir = std::env::temp_dir().join(format!("gunyah-bench-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut results: Vec<Vec<Value>> = arms.iter().map(|_| Vec::new()).collect();
    for run in 0..runs {
        for (arm, out) in arms.iter().zip(&mut results) {
            let trace = dir.join(format!("{}-{run}.json", arm.name));
            let trace_arg = trace.display().to_string();
            let extra: Vec<&str> = if arm.trace {
                vec!["--trace", &trace_arg]
            } else {
                vec![]
            };
            let mut service = match &arm.bin {
                Some(bin) => Service::start_quiet_bin(bin, &extra)?,
                None => Service::start_quiet(&extra)?,
            };
            let client = service.connect(3)?;
            let binder = mmio_exits(&client, events, MmioPath::Binder, Some(service.pid()))?;
            let ring = mmio_exits(&client, events, MmioPath::Ring, Some(service.pid()))?;
            drop(client);
            service.terminate()?;
            let trace_bytes = std::fs::metadata(&trace).map_or(0, |m| m.len());
            let _ = std::fs::remove_file(&trace);
            out.push(json!({
                "mmio_binder": binder,
                "mmio_ring": ring,
                "trace_bytes": trace_bytes,
            }));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut report = serde_json::Map::new();
    for (arm, all) in arms.iter().zip(&results) {
        report.insert(
            arm.name.to_string(),
            json!({
                "binder_exit_p50_us": across_runs(all, "/mmio_binder/exit_us/p50"),
                "ring_exit_p50_us": across_runs(all, "/mmio_ring/exit_us/p50"),
                "binder_cpu_us_per_exit": across_runs(all, "/mmio_binder/cpu_us_per_exit"),
                "ring_cpu_us_per_exit": across_runs(all, "/mmio_ring/cpu_us_per_exit"),
                "trace_bytes": across_runs(all, "/trace_bytes"),
            }),
        );
    }
    report.insert("events_per_run".into(), json!(events));
    report.insert("runs".into(), json!(runs));
    Ok(Value::Object(report))
}

fn print_tracing(t: &Value) {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    for arm in ["compiled_out", "off", "trace_written"] {
        let a = &t[arm];
        if a.is_null() {
            continue;
        }
        let range = |key: &str| {
            format!(
                "median {:.1} us (min {:.1}, max {:.1})",
                f(&a[key]["p50"]),
                f(&a[key]["min"]),
                f(&a[key]["max"])
            )
        };
        println!(
            "trace spans, {arm:>13}: binder exit p50 {}; ring exit p50 {}; {} runs",
            range("binder_exit_p50_us"),
            range("ring_exit_p50_us"),
            t["runs"]
        );
    }
}

/// Measurement 4, the guest data path: MMIO read → client handler → guest resumes, over
/// binder and over the MMIO ring; and the doorbell, irqfd → guest → ioeventfd.
///
/// `client` must take 2 incoming calls at once (the vCPU's handler calls and a callback).
fn datapath(client: &Client, n: usize, service: Option<u32>) -> Result<Value> {
    let binder = mmio_exits(client, n, MmioPath::Binder, service)?;
    let ring = mmio_exits(client, n, MmioPath::Ring, service)?;

    // Doorbell ping-pong: ring → guest wakes → writes the ioeventfd → client sees it.
    let echo = "again: wait 1\nstore4 [0x90001000], 1\njmp again\n";
    let vm = client
        .manager()
        .createVm(&demo_config_with_program("echo", MIB, 1, echo)?)
        .map_err(|e| anyhow!("{e:?}"))?;
    let irqfd: OwnedFd = vm
        .createIrqfd(&IrqfdConfig {
            label: 1,
            levelTriggered: false,
        })
        .map_err(|e| anyhow!("{e:?}"))?
        .into();
    let ioeventfd: OwnedFd = vm
        .createIoeventfd(&IoeventfdConfig {
            guestPhysAddr: 0x9000_1000,
            size: 4,
            matchData: false,
            data: 0,
        })
        .map_err(|e| anyhow!("{e:?}"))?
        .into();
    vm.start().map_err(|e| anyhow!("{e:?}"))?;
    let mut pings = Vec::new();
    for _ in 0..n.min(2000) {
        let t = Instant::now();
        nix::unistd::write(&irqfd, &1u64.to_ne_bytes())?;
        gunyah_vm_tests::read_eventfd(&ioeventfd, Duration::from_secs(5))
            .context("no ioeventfd signal within 5 s")?;
        pings.push(us(t.elapsed()));
    }
    drop(vm);
    let doorbell = summary(pings);
    let ratio =
        |a: &Value, b: &Value| a.as_f64().unwrap_or(f64::NAN) / b.as_f64().unwrap_or(f64::NAN);
    Ok(json!({
        "ring_p50_over_doorbell_p50": ratio(&ring["exit_us"]["p50"], &doorbell["p50"]),
        "binder_p50_over_ring_p50": ratio(&binder["exit_us"]["p50"], &ring["exit_us"]["p50"]),
        "mmio_binder": binder,
        "mmio_ring": ring,
        "doorbell_round_trip_us": doorbell,
    }))
}

/// 5. A big region mapped but untouched: the service's RSS must not grow with it.
fn memory(service: &Service, s: &Sizes) -> Result<Value> {
    let client = service.connect(0)?;
    let before = status_kib(service.pid(), "VmRSS:")?;
    let vm = client
        .manager()
        .createVm(&demo_config("big", s.big_region, 1)?)
        .map_err(|e| anyhow!("{e:?}"))?;
    vm.start().map_err(|e| anyhow!("{e:?}"))?;
    let during = status_kib(service.pid(), "VmRSS:")?;
    drop(vm);
    Ok(
        json!({ "region_bytes": s.big_region, "rss_before_kib": before, "rss_with_region_kib": during,
               "rss_growth_kib": during.saturating_sub(before) }),
    )
}

fn svg_line(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> String {
    let (w, h, m) = (640.0, 360.0, 60.0);
    let xs = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0));
    let ys = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1));
    let x_max = xs.fold(1.0f64, f64::max);
    let y_max = ys.fold(1e-9f64, f64::max) * 1.15;
    let px = |x: f64| m + x / x_max * (w - 2.0 * m);
    let py = |y: f64| h - m - y / y_max * (h - 2.0 * m);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    let mut svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'>\
         <rect width='100%' height='100%' fill='white'/>\
         <text x='{}' y='20' text-anchor='middle' font-size='14'>{title}</text>\
         <line x1='{m}' y1='{}' x2='{}' y2='{}' stroke='black'/><line x1='{m}' y1='{m}' x2='{m}' y2='{}' stroke='black'/>\
         <text x='{}' y='{}' text-anchor='middle'>{x_label}</text>\
         <text x='15' y='{}' transform='rotate(-90 15 {})' text-anchor='middle'>{y_label}</text>",
        w / 2.0, h - m, w - m, h - m, h - m, w / 2.0, h - 15.0, h / 2.0, h / 2.0
    );
    for i in 0..=4 {
        let y = y_max * f64::from(i) / 4.0;
        svg += &format!(
            "<text x='{}' y='{}' text-anchor='end'>{y:.1}</text>",
            m - 5.0,
            py(y) + 4.0
        );
        let x = x_max * f64::from(i) / 4.0;
        svg += &format!(
            "<text x='{}' y='{}' text-anchor='middle'>{x:.0}</text>",
            px(x),
            h - m + 16.0
        );
    }
    for (i, (name, points)) in series.iter().enumerate() {
        let c = colors[i % colors.len()];
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        svg += &format!(
            "<polyline fill='none' stroke='{c}' stroke-width='2' points='{}'/>",
            path.join(" ")
        );
        for (x, y) in points {
            svg += &format!(
                "<circle cx='{:.1}' cy='{:.1}' r='3' fill='{c}'/>",
                px(*x),
                py(*y)
            );
        }
        svg += &format!(
            "<text x='{}' y='{}' fill='{c}'>{name}</text>",
            w - m - 150.0,
            m + 16.0 * i as f64
        );
    }
    svg + "</svg>\n"
}

fn print_datapath(d: &Value) {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    for (key, what) in [
        ("mmio_binder", "over binder (IGunyahMmioHandler)"),
        ("mmio_ring", "over the MMIO ring"),
    ] {
        let m = &d[key];
        let cpu = match m["cpu_us_per_exit"].as_f64() {
            Some(cpu) => format!(", CPU {cpu:.1} us per exit (service + client)"),
            None => String::new(),
        };
        println!(
            "MMIO read exit {what}: p50 {:.1} us, p99 {:.1} us, mean {:.1} us ({:.0} exits/s){cpu}",
            f(&m["exit_us"]["p50"]),
            f(&m["exit_us"]["p99"]),
            f(&m["us_per_exit"]),
            f(&m["exits_per_s"]),
        );
    }
    println!(
        "doorbell -> guest -> ioeventfd: p50 {:.1} us, p99 {:.1} us; ring p50 / doorbell p50 {:.2}, binder p50 / ring p50 {:.2}",
        f(&d["doorbell_round_trip_us"]["p50"]),
        f(&d["doorbell_round_trip_us"]["p99"]),
        f(&d["ring_p50_over_doorbell_p50"]),
        f(&d["binder_p50_over_ring_p50"])
    );
    let runs = &d["across_runs"];
    if runs.is_null() {
        return;
    }
    for (key, what) in [
        ("binder_exit_p50_us", "binder exit p50"),
        ("ring_exit_p50_us", "ring exit p50"),
        ("binder_cpu_us_per_exit", "binder CPU per exit"),
        ("ring_cpu_us_per_exit", "ring CPU per exit"),
        ("doorbell_p50_us", "doorbell p50"),
        ("ring_p50_over_doorbell_p50", "ring / doorbell"),
        ("binder_p50_over_ring_p50", "binder / ring"),
    ] {
        let r = &runs[key];
        let per_run: Vec<String> = r["per_run"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| format!("{:.2}", f(v)))
            .collect();
        println!(
            "{what} across {} runs: min {:.2}, median {:.2}, max {:.2} ({})",
            r["n"],
            f(&r["min"]),
            f(&r["p50"]),
            f(&r["max"]),
            per_run.join(", ")
        );
    }
}

/// Each run's value at `path` (JSON pointer), with their distribution.
fn across_runs(all: &[Value], path: &str) -> Value {
    let values: Vec<f64> = all
        .iter()
        .filter_map(|r| r.pointer(path).and_then(Value::as_f64))
        .collect();
    let mut summary = summary(values.clone());
    summary["per_run"] = json!(values);
    summary
}

/// `--kernel-binder`: the data path through the kernel binder service.
fn kernel_binder_datapath(events: usize, out: Option<PathBuf>) -> Result<()> {
    let client = Client::connect_with(&Target::ServiceManager, 3)?;
    let d = datapath(&client, events, None)?;
    print_datapath(&d);
    if let Some(dir) = out {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("datapath_kernel_binder.json"),
            serde_json::to_string_pretty(&d)?,
        )?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.kernel_binder {
        return kernel_binder_datapath(args.events.unwrap_or(20_000), args.out);
    }
    let s = if args.quick {
        Sizes {
            lifecycle_iters: 5,
            teardown_samples: 2,
            teardown_vms: vec![1, 10],
            scaling_points: vec![0, 20],
            scaling_iters: 5,
            datapath_events: 200,
            datapath_runs: 2,
            big_region: 64 * MIB,
        }
    } else {
        Sizes {
            lifecycle_iters: 200,
            teardown_samples: 30,
            teardown_vms: vec![1, 10, 100],
            scaling_points: vec![0, 1, 2, 10, 100, 250, 500, 1000],
            scaling_iters: 200,
            datapath_events: 20_000,
            datapath_runs: 5,
            big_region: 1 << 30,
        }
    };
    let service = Service::start_quiet(&[
        "--threads",
        "32",
        "--max-vms-per-client",
        "4096",
        "--max-vcpus-per-client",
        "8192",
        "--max-memory-per-client",
        "64G",
    ])?;
    let mut results = serde_json::Map::new();
    let only = &args.only;
    let run = |name: &str,
               results: &mut serde_json::Map<String, Value>,
               f: &dyn Fn() -> Result<Value>|
     -> Result<()> {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            return Ok(());
        }
        let t = Instant::now();
        let v = f().with_context(|| name.to_string())?;
        eprintln!("{name}: done in {:.1} s", t.elapsed().as_secs_f64());
        results.insert(name.to_string(), v);
        Ok(())
    };
    run("lifecycle", &mut results, &|| lifecycle(&service, &s))?;
    run("teardown_ms", &mut results, &|| {
        teardown(&service, &s, false)
    })?;
    run("teardown_waiting_ms", &mut results, &|| {
        teardown(&service, &s, true)
    })?;
    run("scaling", &mut results, &|| scaling(&service, &s))?;
    run("datapath", &mut results, &|| {
        let client = service.connect(3)?;
        let events = args.events.unwrap_or(s.datapath_events);
        let runs = args.datapath_runs.unwrap_or(s.datapath_runs).max(1);
        let all: Vec<Value> = (0..runs)
            .map(|_| datapath(&client, events, Some(service.pid())))
            .collect::<Result<_>>()?;
        let mut first = all[0].clone();
        first["across_runs"] = json!({
            "binder_exit_p50_us": across_runs(&all, "/mmio_binder/exit_us/p50"),
            "ring_exit_p50_us": across_runs(&all, "/mmio_ring/exit_us/p50"),
            "binder_cpu_us_per_exit": across_runs(&all, "/mmio_binder/cpu_us_per_exit"),
            "ring_cpu_us_per_exit": across_runs(&all, "/mmio_ring/cpu_us_per_exit"),
            "doorbell_p50_us": across_runs(&all, "/doorbell_round_trip_us/p50"),
            "ring_p50_over_doorbell_p50": across_runs(&all, "/ring_p50_over_doorbell_p50"),
            "binder_p50_over_ring_p50": across_runs(&all, "/binder_p50_over_ring_p50"),
        });
        Ok(first)
    })?;
    run("memory", &mut results, &|| memory(&service, &s))?;
    run("tracing", &mut results, &|| {
        let events = args.events.unwrap_or(s.datapath_events);
        let runs = args.datapath_runs.unwrap_or(s.datapath_runs).max(1);
        tracing_cost(events, runs, args.spans_compiled_out.as_deref())
    })?;
    let results = Value::Object(results);

    let l = &results["lifecycle"];
    if !l.is_null() {
        println!("lifecycle (create 64 MiB + start + destroy), median: service {:.0} us, direct {:.0} us, round trip {:.0} us, ratio {:.2}",
        l["service_us"]["p50"].as_f64().unwrap_or(f64::NAN), l["direct_us"]["p50"].as_f64().unwrap_or(f64::NAN),
        l["round_trip_us"]["p50"].as_f64().unwrap_or(f64::NAN), l["ratio"].as_f64().unwrap_or(f64::NAN));
    }
    for (key, what) in [
        ("teardown_ms", ""),
        ("teardown_waiting_ms", ", guests blocked in wait"),
    ] {
        for (n, t) in results[key].as_object().into_iter().flatten() {
            println!("teardown after SIGKILL, {n:>3} VMs{what}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
                t["p50"].as_f64().unwrap_or(f64::NAN), t["p99"].as_f64().unwrap_or(f64::NAN), t["max"].as_f64().unwrap_or(f64::NAN), t["n"]);
        }
    }
    for p in results["scaling"]["points"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!(
            "{:>5} live VMs: createVm p50 {:.0} us, getState p50 {:.0} us, RSS {} KiB, {} threads",
            p["live_vms"],
            p["create_us"]["p50"].as_f64().unwrap_or(f64::NAN),
            p["get_state_us"]["p50"].as_f64().unwrap_or(f64::NAN),
            p["rss_kib"],
            p["threads"]
        );
    }
    if !results["scaling"].is_null() {
        println!(
            "RSS per idle VM: {:.1} KiB; threads per running vCPU: {}",
            results["scaling"]["rss_kib_per_idle_vm"]
                .as_f64()
                .unwrap_or(f64::NAN),
            results["scaling"]["threads_per_running_vcpu"]
        );
    }
    if !results["datapath"].is_null() {
        print_datapath(&results["datapath"]);
    }
    if !results["tracing"].is_null() {
        print_tracing(&results["tracing"]);
    }
    let m = &results["memory"];
    if !m.is_null() {
        println!(
            "{} MiB region mapped, untouched: service RSS grew by {} KiB",
            m["region_bytes"].as_u64().unwrap_or(0) >> 20,
            m["rss_growth_kib"]
        );
    }

    if let Some(dir) = args.out {
        std::fs::create_dir_all(&dir)?;
        let mut f = std::fs::File::create(dir.join("results.json"))?;
        writeln!(f, "{}", serde_json::to_string_pretty(&results)?)?;
        let points = results["scaling"]["points"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let series = |key: &str| -> Vec<(f64, f64)> {
            points
                .iter()
                .map(|p| {
                    (
                        p["live_vms"].as_f64().unwrap_or(0.0),
                        p[key]["p50"].as_f64().unwrap_or(0.0),
                    )
                })
                .collect()
        };
        std::fs::write(
            dir.join("scaling.svg"),
            svg_line(
                "Latency against live VMs (p50)",
                "live VMs",
                "microseconds",
                &[
                    ("createVm", series("create_us")),
                    ("getState", series("get_state_us")),
                ],
            ),
        )?;
        let mut dist = Vec::new();
        for (n, t) in results["teardown_ms"].as_object().into_iter().flatten() {
            let samples: Vec<(f64, f64)> = t["samples"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, v)| {
                    (
                        (i + 1) as f64 / t["n"].as_f64().unwrap_or(1.0) * 100.0,
                        v.as_f64().unwrap_or(0.0),
                    )
                })
                .collect();
            dist.push((format!("{n} VMs"), samples));
        }
        let dist_refs: Vec<(&str, Vec<(f64, f64)>)> =
            dist.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
        std::fs::write(
            dir.join("teardown.svg"),
            svg_line(
                "Teardown after SIGKILL (sorted samples)",
                "percentile",
                "milliseconds",
                &dist_refs,
            ),
        )?;
        eprintln!("wrote {}", dir.display());
    }
    Ok(())
}
