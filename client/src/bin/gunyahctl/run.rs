//! `gunyahctl run`: create and start a VM from a config file and/or flags, stay attached
//! printing its states and console, destroy it when the guest stops, --hold expires, or on
//! Ctrl-C/SIGTERM.

use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use serde_json::json;

use gunyah_binder::aidl::VmState::VmState;
use gunyah_contract::names;
use gunyah_contract::size::{parse_addr, parse_size};
use gunyah_vm_client::config_file::{ImageSpec, MemorySpec, Number, VmFileSpec};
use gunyah_vm_client::{Client, ExitInfo, Progress, VmEvent};

use crate::console::{Console, Uart, WINDOW};
use crate::output::Output;
use crate::unhandled;
use crate::{Cli, EXIT_OK, EXIT_SERVICE};

/// Exit status: the guest crashed.
const EXIT_CRASHED: i32 = 3;
/// Exit status: the guest failed to load.
const EXIT_LOAD_FAILED: i32 = 4;
/// Exit status: the guest stopped another way (reset, watchdog, forced stop).
const EXIT_OTHER_STOP: i32 = 5;

pub const EXIT_STATUS_HELP: &str = "Exit status:
  0    the guest powered off or exited (or --hold expired)
  1    the service could not be reached, refused a call, or died
  2    a bad flag, config file or image
  3    the guest crashed
  4    the guest failed to load
  5    the guest stopped another way (reset, watchdog bite, forced stop)
  130  interrupted by SIGINT (Ctrl-C); 143: by SIGTERM. The VM was destroyed either way.";

/// Images at least this large get a progress line on a terminal.
const PROGRESS_THRESHOLD: u64 = 16 << 20;

/// How long `run` waits for the last state notification after destroy().
const CALLBACK_GRACE: Duration = Duration::from_secs(2);

fn image_arg(s: &str) -> Result<ImageSpec, String> {
    let image = gunyah_vm_client::Image::parse(s)?;
    match image.source {
        gunyah_vm_client::image::Source::File(path) => Ok(ImageSpec {
            path,
            addr: Some(Number::Int(image.guest_addr)),
        }),
        gunyah_vm_client::image::Source::Bytes(_) => unreachable!("parsed from a file name"),
    }
}

fn boot_arg(s: &str) -> Result<(String, u64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected REG=VALUE, e.g. pc=0x80000000"))?;
    gunyah_vm_client::config_file::boot_register(name)
        .ok_or_else(|| format!("{name:?}: unknown register (pc, sp, x0 … x30)"))?;
    Ok((name.to_string(), parse_addr(value)?))
}

/// Options of `gunyahctl run`. Flags override the config file.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// A VM config file (TOML; docs/VM_CONFIG.md).
    #[arg(long, short = 'c', value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// VM name [default: demo].
    #[arg(long)]
    name: Option<String>,
    /// Guest RAM at --mem-base (K/M/G suffixes) [default: 2M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    mem: Option<u64>,
    /// Where guest RAM starts [default: 0x80000000].
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    mem_base: Option<u64>,
    /// Number of vCPUs [default: 1].
    #[arg(long, value_name = "N")]
    cpus: Option<i32>,
    /// The VM kind.
    #[arg(long, value_enum)]
    auth: Option<AuthArg>,
    /// A kernel image and its load address; it becomes the entry point, and x0 the DTB's
    /// address.
    #[arg(long, value_name = "FILE@ADDR", value_parser = image_arg)]
    kernel: Option<ImageSpec>,
    /// The device tree blob and its address [default: an empty page at the end of RAM].
    #[arg(long, value_name = "FILE@ADDR", value_parser = image_arg)]
    dtb: Option<ImageSpec>,
    /// Firmware and its address (needed by --auth android-pvm).
    #[arg(long, value_name = "FILE@ADDR", value_parser = image_arg)]
    firmware: Option<ImageSpec>,
    /// Another image to load (initrd, payload); repeatable.
    #[arg(long = "image", value_name = "FILE@ADDR", value_parser = image_arg)]
    images: Vec<ImageSpec>,
    /// A scripted-guest program (docs/GUEST_ISA.md) to assemble and run at the start of RAM
    /// (the mock drivers run it). Without --kernel or --program: a guest that idles.
    #[arg(long, value_name = "FILE.s")]
    program: Option<PathBuf>,
    /// A boot register, e.g. pc=0x80001000 or x1=0; repeatable.
    #[arg(long = "boot", value_name = "REG=VALUE", value_parser = boot_arg)]
    boot: Vec<(String, u64)>,
    /// Serve a UART transmit register at this guest address and print what the guest writes
    /// to it.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    console: Option<u64>,
    /// Destroy the VM after this many seconds even if the guest runs on (0: never).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    hold: u64,
    /// Show image loading progress on stderr even when not on a terminal.
    #[arg(long)]
    progress: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum AuthArg {
    Unauthenticated,
    AndroidPvm,
    QcomTrustedVm,
}

impl RunArgs {
    /// The config file, then the flags over it.
    fn spec(&self) -> gunyah_vm_client::Result<VmFileSpec> {
        let mut spec = match &self.config {
            Some(path) => VmFileSpec::load(path)?,
            None => VmFileSpec::default(),
        };
        let mut memory = spec.memory.clone();
        if self.mem.is_some() || self.mem_base.is_some() {
            if memory.is_empty() {
                memory.push(MemorySpec {
                    base: Number::Int(gunyah_vm_client::demo::DEMO_RAM_BASE as u64),
                    size: Number::Int(gunyah_vm_client::config_file::DEFAULT_MEMORY),
                    access: None,
                    share: None,
                    label: None,
                });
            }
            if let Some(size) = self.mem {
                memory[0].size = Number::Int(size);
            }
            if let Some(base) = self.mem_base {
                memory[0].base = Number::Int(base);
            }
        }
        spec.overlay(VmFileSpec {
            name: self.name.clone(),
            cpus: self.cpus,
            auth: self.auth.map(|a| {
                clap::ValueEnum::to_possible_value(&a)
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            }),
            memory,
            kernel: self.kernel.clone(),
            program: self
                .program
                .clone()
                .map(|path| ImageSpec { path, addr: None }),
            dtb: self.dtb.clone(),
            firmware: self.firmware.clone(),
            images: self.images.clone(),
            boot: self
                .boot
                .iter()
                .map(|(name, value)| (name.clone(), Number::Int(*value)))
                .collect(),
            console: self.console.map(Number::Int),
            qtvm: None,
        });
        Ok(spec)
    }
}

/// What the main loop waits for.
enum Wake {
    Vm(VmEvent),
    Signal(Signal),
}

/// The exit status of `run` for a guest that stopped with `info`.
fn exit_code(info: &ExitInfo) -> i32 {
    match info.state {
        _ if info.is_clean() => EXIT_OK,
        VmState::EXITED => EXIT_OTHER_STOP,
        VmState::CRASHED => EXIT_CRASHED,
        VmState::LOAD_FAILED => EXIT_LOAD_FAILED,
        _ => EXIT_SERVICE,
    }
}

fn print_event(out: &Output, vm: i32, event: &VmEvent) {
    match event {
        VmEvent::State(state) => out.line(
            || format!("state: {}", names::vm_state(*state)),
            || json!({ "event": "state", "vm": vm, "state": names::vm_state(*state) }),
        ),
        VmEvent::Exit(info) => {
            let reason = String::from_utf8_lossy(&info.reason);
            out.line(
                || format!("exit: {info}"),
                || {
                    json!({
                        "event": "exit",
                        "vm": vm,
                        "state": names::vm_state(info.state),
                        "type": names::exit_type(info.exit_type),
                        "reason": reason,
                    })
                },
            )
        }
        VmEvent::ServiceDied => out.line(
            || "the Gunyah VM service died".to_string(),
            || json!({ "event": "service_died", "vm": vm }),
        ),
    }
}

/// A progress reporter for image loading: a line on stderr, redrawn every 4 MiB.
fn progress_reporter(out: &Output, forced: bool) -> impl FnMut(Progress) + '_ {
    use std::io::IsTerminal;
    let shown = forced || std::io::stderr().is_terminal();
    move |p: Progress| {
        if !shown || (!forced && p.total < PROGRESS_THRESHOLD) || out.json() {
            return;
        }
        let percent = p.loaded * 100 / p.total.max(1);
        out.progress(
            &format!(
                "loading {}: {percent:>3}% ({} of {} MiB)",
                p.image,
                p.loaded >> 20,
                p.total >> 20
            ),
            p.loaded == p.total,
        );
    }
}

/// `gunyahctl run`.
pub fn run(cli: &Cli, args: &RunArgs, out: &Arc<Output>) -> Result<i32> {
    // Before any thread exists, so that every thread inherits the mask and the signals wait
    // for the thread below.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.thread_block()?;

    let spec = args.spec()?;
    let builder = spec.to_builder()?;
    let console_addr = spec.console_addr()?;
    // One callback connection per vCPU that may wait in the console handler, plus one for
    // state changes; bounded (the service serves a client with a bounded number of threads).
    let callback_threads = builder.vcpu_count().clamp(1, 8) as u32 + 1;
    let client = Client::connect_with(&cli.target(), callback_threads)?;
    let vm =
        client.create_vm_with_progress(&builder, &mut progress_reporter(out, args.progress))?;
    let id = vm.id();
    out.line(
        || {
            format!(
                "created vm {id} ({:?}, {} bytes, {} vCPUs)",
                builder.name(),
                builder.memory_bytes(),
                builder.vcpu_count()
            )
        },
        || {
            json!({
                "event": "created",
                "vm": id,
                "name": builder.name(),
                "memory_bytes": builder.memory_bytes(),
                "vcpus": builder.vcpu_count(),
            })
        },
    );

    let (tx, wake) = mpsc::channel();
    let events_tx = tx.clone();
    let printer = out.clone();
    vm.on_event(move |event| {
        print_event(&printer, id, event);
        let _ = events_tx.send(Wake::Vm(event.clone()));
    });
    let console = console_addr.map(|addr| (addr, Console::new(id, out.clone())));
    if let Some((addr, console)) = &console {
        vm.set_mmio_handler(*addr, WINDOW, Uart(console.clone()))?;
    }
    // Everything else is recorded, so that output sent where nobody listens is noticed.
    let unhandled = Arc::new(unhandled::Recorder::default());
    for (base, size) in unhandled::ranges(console_addr.map(|addr| (addr, WINDOW))) {
        vm.set_mmio_handler(base, size, unhandled.clone())?;
    }
    std::thread::spawn(move || {
        if let Ok(signal) = signals.wait() {
            let _ = tx.send(Wake::Signal(signal));
        }
    });
    vm.start()?;
    if args.hold == 0 && spec.kernel.is_none() && spec.program.is_none() {
        out.line(
            || "running; Ctrl-C destroys the VM".to_string(),
            || json!({ "event": "running", "vm": id }),
        );
    }

    let deadline = (args.hold > 0).then(|| Instant::now() + Duration::from_secs(args.hold));
    let mut code = EXIT_OK;
    loop {
        let next = match deadline {
            Some(d) => wake
                .recv_timeout(d.saturating_duration_since(Instant::now()))
                .ok(),
            None => wake.recv().ok(),
        };
        match next {
            Some(Wake::Vm(VmEvent::Exit(info))) => {
                code = exit_code(&info);
                break;
            }
            Some(Wake::Vm(VmEvent::ServiceDied)) => {
                if let Some((_, console)) = &console {
                    console.flush();
                }
                return Err(gunyah_vm_client::Error::ServiceDied.into());
            }
            Some(Wake::Vm(VmEvent::State(_))) => {}
            Some(Wake::Signal(signal)) => {
                out.line(
                    || format!("{signal}: destroying vm {id}"),
                    || json!({ "event": "signal", "vm": id, "signal": signal.as_str() }),
                );
                code = 128 + signal as i32;
                break;
            }
            // --hold expired.
            None => break,
        }
    }
    vm.destroy()?;
    // Callbacks are oneway: DESTROYED may still be on its way when destroy() returns. Wait
    // for it (bounded) so the output is complete and in order.
    vm.wait_for_state(VmState::DESTROYED, CALLBACK_GRACE);
    if let Some((_, console)) = &console {
        console.flush();
    }
    let state = vm.state()?;
    let unhandled = unhandled.summary();
    if let Some(summary) = &unhandled {
        out.human(|| summary.text());
    }
    out.line(
        || format!("vm {id}: {}", names::vm_state(state)),
        || {
            json!({
                "event": "done",
                "vm": id,
                "state": names::vm_state(state),
                "exit_status": code,
                "unhandled_mmio": unhandled.as_ref().map(unhandled::Summary::json),
            })
        },
    );
    Ok(code)
}
