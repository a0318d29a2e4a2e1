//! gunyahctl: boot and watch Gunyah VMs through the Gunyah VM service.

#![forbid(unsafe_code)]

mod abi;
mod console;
#[cfg(feature = "docs")]
mod generate;
mod output;
mod query;
mod run;
mod top;
mod unhandled;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use gunyah_vm_client::{Client, Target};

use output::Output;

/// Exit status: success (and the guest powered off or exited, for `run`).
pub const EXIT_OK: i32 = 0;
/// Exit status: the service could not be reached, refused a call, or died.
pub const EXIT_SERVICE: i32 = 1;
/// Exit status: a bad flag, config file or image (clap uses 2 for flags too).
pub const EXIT_USAGE: i32 = 2;

/// Boot and watch Gunyah VMs through the Gunyah VM service (vendor.gunyahvm.hardware.gunyah).
#[derive(Parser, Debug)]
#[command(name = "gunyahctl", version, long_about = None)]
pub struct Cli {
    /// The service socket (host) [default: $GUNYAH_VM_SOCKET, else as gunyah-vm-service].
    // Not clap's `env`: AOSP builds libclap without that feature, and `Target::from_env`
    // reads the variable in both builds.
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Reach the service through kernel binder's service manager instead of the socket.
    #[arg(long, global = true)]
    kernel_binder: bool,
    /// Print JSON (one document; `run` prints one object per event, a line each).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show what the service and its driver offer, and its limits.
    Info,
    /// List the caller's live VMs.
    List,
    /// Create and start a VM, print its state changes and console, and destroy it when the
    /// guest stops, --hold expires, or on Ctrl-C/SIGTERM.
    #[command(after_long_help = run::EXIT_STATUS_HELP)]
    Run(Box<run::RunArgs>),
    /// Print the service's diagnostics (counters, one line per VM).
    Dump,
    /// A live view of the caller's VMs (--all: every VM of the dump), refreshed every
    /// interval: what each is and its exits per second by kind. `q` or Ctrl-C ends it;
    /// with --json, one document per interval, a line each.
    Top(top::TopArgs),
    /// Print the Gunyah driver ABI this build uses — ioctl numbers and struct layouts per
    /// driver generation — to diff against a kernel header (no service needed).
    Abi,
    /// Print a shell completion script for gunyahctl.
    #[cfg(feature = "docs")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print gunyahctl's man page (roff).
    #[cfg(feature = "docs")]
    Man,
}

impl Cli {
    fn target(&self) -> Target {
        if self.kernel_binder {
            return Target::ServiceManager;
        }
        match &self.socket {
            Some(path) => Target::Socket(path.clone()),
            None => Target::from_env(),
        }
    }

    fn connect(&self) -> gunyah_vm_client::Result<Client> {
        Client::connect(&self.target())
    }
}

/// Exit status for an error.
fn exit_status(e: &anyhow::Error) -> i32 {
    match e.downcast_ref::<gunyah_vm_client::Error>() {
        Some(gunyah_vm_client::Error::Invalid(_) | gunyah_vm_client::Error::Io { .. }) => {
            EXIT_USAGE
        }
        Some(_) => EXIT_SERVICE,
        None => EXIT_USAGE,
    }
}

fn main() {
    gunyah_sys::process::restore_default_sigpipe();
    let cli = Cli::parse();
    let out = Arc::new(Output::new(cli.json));
    let result = match &cli.command {
        Command::Info => cli
            .connect()
            .map_err(Into::into)
            .and_then(|c| query::info(&c, &out)),
        Command::List => cli
            .connect()
            .map_err(Into::into)
            .and_then(|c| query::list(&c, &out)),
        Command::Dump => query::dump(&cli, &out),
        Command::Top(args) => top::top(&cli, args, &out),
        Command::Abi => abi::abi(&out),
        Command::Run(args) => run::run(&cli, args, &out),
        #[cfg(feature = "docs")]
        Command::Completions { shell } => generate::completions(*shell, &out),
        #[cfg(feature = "docs")]
        Command::Man => generate::man(&out),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            out.error(&e);
            std::process::exit(exit_status(&e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn test_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
