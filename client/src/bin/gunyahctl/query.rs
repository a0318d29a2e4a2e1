//! `gunyahctl info`, `list` and `dump`: what the service reports.

use std::fmt::Write;

use anyhow::Result;
use serde_json::{json, Value};

use gunyah_contract::diagnostics::Diagnostics;
use gunyah_contract::names;
use gunyah_vm_client::Client;

use crate::output::Output;
use crate::{Cli, EXIT_OK};

/// `gunyahctl info`.
pub fn info(client: &Client, out: &Output) -> Result<i32> {
    let caps = client.capabilities()?;
    let kinds: Vec<String> = caps
        .authTypes
        .iter()
        .map(|a| names::auth_type(*a).into_owned())
        .collect();
    let abi = names::driver_abi(caps.driverAbi);
    // A V1 service leaves driverGeneration at its default, MOCK, which no V2 service sends.
    let generation = gunyah_contract::generation::generation(caps.driverGeneration);
    // V2 names both a14 revisions GH_ANDROID14 (they differ in nothing a client can call);
    // the service's dump names the revision.
    let (name, kernels) = match generation {
        Some(g) if g.is_a14() => ("a14", "android14-6.1; `gunyahctl dump` names the revision"),
        Some(g) => (g.name(), g.kernels()),
        None => ("", ""),
    };
    out.document(
        || {
            let rows = [
                ("backend", caps.backend.clone()),
                ("driver ABI", abi.to_string()),
                (
                    "driver generation",
                    match generation {
                        Some(_) => format!("{name} ({kernels})"),
                        None => format!(
                            "not reported ({})",
                            names::driver_abi(caps.driverGeneration)
                        ),
                    },
                ),
                ("VM kinds", kinds.join(", ")),
                ("page size", caps.pageSize.to_string()),
                ("max vCPUs per VM", caps.maxVcpusPerVm.to_string()),
                (
                    "max memory regions per VM",
                    caps.maxMemoryRegions.to_string(),
                ),
                ("max name length", caps.maxNameLength.to_string()),
                ("max VMs per client", caps.maxVmsPerClient.to_string()),
                ("max vCPUs per client", caps.maxVcpusPerClient.to_string()),
                (
                    "max memory per client",
                    format!("{} MiB", caps.maxGuestMemoryPerClient >> 20),
                ),
            ];
            let mut text = String::new();
            for (name, value) in rows {
                let _ = writeln!(text, "{:<28}{value}", format!("{name}:"));
            }
            text
        },
        || {
            json!({
                "backend": caps.backend,
                "driver_abi": abi,
                "driver_generation": generation.map(|_| name),
                "vm_kinds": kinds,
                "page_size": caps.pageSize,
                "max_vcpus_per_vm": caps.maxVcpusPerVm,
                "max_memory_regions": caps.maxMemoryRegions,
                "max_name_length": caps.maxNameLength,
                "max_vms_per_client": caps.maxVmsPerClient,
                "max_vcpus_per_client": caps.maxVcpusPerClient,
                "max_memory_per_client": caps.maxGuestMemoryPerClient,
            })
        },
    );
    Ok(EXIT_OK)
}

/// `gunyahctl list`.
pub fn list(client: &Client, out: &Output) -> Result<i32> {
    let vms = client.list()?;
    out.document(
        || {
            let mut text = format!(
                "{:>5}  {:<12} {:>5} {:>12}  NAME\n",
                "ID", "STATE", "VCPUS", "MEMORY"
            );
            for vm in &vms {
                let _ = writeln!(
                    text,
                    "{:>5}  {:<12} {:>5} {:>12}  {}",
                    vm.id,
                    names::vm_state(vm.state),
                    vm.vcpuCount,
                    vm.memoryBytes,
                    vm.name
                );
            }
            text
        },
        || {
            Value::Array(
                vms.iter()
                    .map(|vm| {
                        json!({
                            "id": vm.id,
                            "name": vm.name,
                            "state": names::vm_state(vm.state),
                            "owner_uid": vm.ownerUid,
                            "vcpus": vm.vcpuCount,
                            "memory_bytes": vm.memoryBytes,
                        })
                    })
                    .collect(),
            )
        },
    );
    Ok(EXIT_OK)
}

/// `gunyahctl dump`.
pub fn dump(cli: &Cli, out: &Output) -> Result<i32> {
    let text = dump_text(cli)?;
    let parsed = Diagnostics::parse(&text)?;
    out.document(|| text.clone(), || parsed.to_json());
    Ok(EXIT_OK)
}

/// The dump through binder `dump()` (kernel binder, Android).
fn binder_dump(cli: &Cli) -> Result<String> {
    Ok(cli.connect()?.dump(&[])?)
}

/// Over the socket, the diagnostics socket beside it: an RPC client cannot send binder
/// `dump()` (it carries a raw fd).
pub fn dump_text(cli: &Cli) -> Result<String> {
    let target = cli.target();
    match gunyah_binder::read_diagnostics(&target) {
        Some(text) => text.map_err(|e| {
            // A refusal or an unreachable service exits 1, as for every other command.
            let error = if e.kind() == std::io::ErrorKind::PermissionDenied {
                gunyah_vm_client::Error::PermissionDenied {
                    call: "dump",
                    message: e.to_string(),
                }
            } else {
                gunyah_vm_client::Error::Connect {
                    target: format!("{target} (its diagnostics socket)"),
                    reason: e.to_string(),
                }
            };
            error.into()
        }),
        None => binder_dump(cli),
    }
}
