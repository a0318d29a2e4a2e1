//! gunyah-conformance: runs the conformance suite against a Gunyah driver — a `/dev/gunyah`
//! device (the real driver on a Qualcomm device, or gunyah_mock.ko) or the userspace mock —
//! and prints one line per case and a closing `N passed, N failed` line. Exit status 1 when a
//! case failed.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Parser;

use gunyah_hypervisor::gunyah::{GunyahHypervisor, DEFAULT_DEVICE};
use gunyah_hypervisor::{Generation, Hypervisor};
use gunyah_mock::MockHypervisor;
use gunyah_vm_tests::conformance;

fn generation(name: &str) -> Result<Generation, String> {
    Generation::from_name(name).ok_or_else(|| format!("unknown generation {name:?}"))
}

/// Runs the conformance suite against a Gunyah driver: a /dev/gunyah device or the userspace
/// mock.
#[derive(Parser)]
#[command(long_about = None)]
struct Args {
    /// The device to test.
    #[arg(long, default_value = DEFAULT_DEVICE, conflicts_with = "mock")]
    device: PathBuf,
    /// Test the userspace mock instead of a device.
    #[arg(long)]
    mock: bool,
    /// With --mock: the driver generation it models (a14-early, a14-late, ack66-early,
    /// ack66-late, ack-newest).
    #[arg(long, requires = "mock", value_parser = generation)]
    mock_generation: Option<Generation>,
    /// Only cases whose name contains this.
    #[arg(long, default_value = "")]
    filter: String,
    /// Also replay the scripted-guest corpus in this directory (tests/data/guest_corpus).
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// List the cases and exit.
    #[arg(long)]
    list: bool,
    /// Be the second process of a `process/` case (`owner` or `memlock`); for the suite's own
    /// use.
    #[arg(long, hide = true, value_name = "ROLE")]
    child: Option<String>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(role) = &args.child {
        return conformance::process::child_main(role, &args.device).map_err(anyhow::Error::msg);
    }
    if args.list {
        for case in conformance::cases() {
            println!("{}", case.name);
        }
        for name in conformance::process::CASES {
            println!("{name} (a device only)");
        }
        return Ok(());
    }
    let hyp: Arc<dyn Hypervisor> = if args.mock {
        Arc::new(
            MockHypervisor::new()
                .with_generation(
                    args.mock_generation
                        .unwrap_or(gunyah_mock::DEFAULT_GENERATION),
                )
                .map_err(anyhow::Error::msg)?,
        )
    } else {
        Arc::new(
            GunyahHypervisor::open(&args.device)
                .map_err(|e| anyhow::anyhow!("{}: {e}", args.device.display()))?,
        )
    };
    let caps = hyp.capabilities();
    println!(
        "conformance: backend {}, generation {} ({})",
        caps.backend,
        caps.generation,
        caps.generation.kernels()
    );
    let mut results = conformance::run(hyp.as_ref(), &args.filter);
    if !args.mock {
        let launcher = conformance::process::Launcher::Binary(std::env::current_exe()?);
        results.extend(conformance::process::run(
            &launcher,
            &args.device,
            caps.generation,
            &args.filter,
        ));
        results.extend(conformance::raw::run(
            &args.device,
            caps.generation,
            &args.filter,
        ));
    }
    if let Some(dir) = &args.corpus {
        results.extend(conformance::corpus::run(hyp.as_ref(), dir).map_err(anyhow::Error::msg)?);
    }
    let mut failed = 0;
    for r in &results {
        match &r.outcome {
            Ok(()) => println!("PASS {} ({} ms)", r.name, r.millis),
            Err(why) => {
                failed += 1;
                println!("FAIL {}: {why}", r.name);
            }
        }
    }
    println!("{} passed, {} failed", results.len() - failed, failed);
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
