//! gunyahctl: a command-line client of the Gunyah VM service.

mod commands;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Environment variable naming the service socket (host).
const SOCKET_ENV: &str = "GUNYAH_VM_SOCKET";

#[cfg(not(aosp))]
fn default_socket() -> PathBuf {
    gunyah_vm::host::socket::default_socket_path()
}

/// Android reaches the service through the service manager; there is no socket.
#[cfg(aosp)]
fn default_socket() -> PathBuf {
    PathBuf::new()
}

/// Talks to the Gunyah VM service (gunyah-vm-service).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// The service socket [default: as gunyah-vm-service].
    #[arg(long, global = true, env = SOCKET_ENV)]
    socket: Option<PathBuf>,
    /// Reach the service through kernel binder (its service manager) instead of the socket.
    #[arg(long, global = true)]
    kernel_binder: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show what the service and its driver offer, and its limits.
    Info,
    /// List the caller's live VMs.
    List,
    /// Create and start a VM (the built-in idle demo guest, or --program), stay attached until
    /// the guest exits, --hold expires or Ctrl-C, then destroy it. Exit status: 0 when the
    /// guest powered off or exited, 2 for another exit type, 3 for a crash, 4 for a load
    /// failure, 1 for an error.
    Run(commands::RunArgs),
    /// Print the service's diagnostics (counters, live VMs).
    Dump,
    /// Print the Gunyah driver ABI this build uses: ioctl numbers and struct layouts per
    /// driver generation (no service needed). Diff it against a kernel header.
    Abi {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    gunyah_vm::uapi::process::restore_default_sigpipe();
    let cli = Cli::parse();
    let target = commands::Target {
        socket: cli.socket.unwrap_or_else(default_socket),
        kernel_binder: cli.kernel_binder,
    };
    let result = match cli.command {
        Command::Info => commands::info(&target).map(|()| 0),
        Command::List => commands::list(&target).map(|()| 0),
        Command::Run(args) => commands::run(&target, &args),
        Command::Dump => commands::dump(&target).map(|()| 0),
        Command::Abi { json } => commands::abi(json).map(|()| 0),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("gunyahctl: {e:#}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn test_cli_debug_assert() {
        Cli::command().debug_assert();
    }
}
