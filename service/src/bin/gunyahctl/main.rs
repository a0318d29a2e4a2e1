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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show what the service and its driver offer, and its limits.
    Info,
    /// List the caller's live VMs.
    List,
    /// Create and start a small built-in demo VM, watch it, then destroy it.
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
    let socket = cli.socket.unwrap_or_else(default_socket);
    let result = match cli.command {
        Command::Info => commands::info(&socket),
        Command::List => commands::list(&socket),
        Command::Run(args) => commands::run(&socket, &args),
        Command::Dump => commands::dump(&socket),
        Command::Abi { json } => commands::abi(json),
    };
    if let Err(e) = result {
        eprintln!("gunyahctl: {e:#}");
        std::process::exit(1);
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
