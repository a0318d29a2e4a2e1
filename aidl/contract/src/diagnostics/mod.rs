//! Diagnostics: the one model of the service's dump (`Diagnostics`, its `Counter`s and their
//! keys), which the service formats and its readers parse, and the process-level counters (open
//! fds, threads and mappings, read from /proc) it reports.

mod vm_line;

use std::collections::BTreeMap;
use std::fs;

pub use vm_line::{ExitCounts, UnhandledMmio, VmLine, VmLineError};

/// Resource counts of the current process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessCounts {
    /// Entries in /proc/self/fd (the directory handle used to read it excluded).
    pub open_fds: usize,
    /// Threads (/proc/self/status `Threads:`).
    pub threads: usize,
    /// Lines of /proc/self/maps.
    pub mappings: usize,
}

/// Reads the counts of the current process; fields that cannot be read are 0.
pub fn process_counts() -> ProcessCounts {
    ProcessCounts {
        open_fds: fs::read_dir("/proc/self/fd")
            .map(|d| d.count().saturating_sub(1))
            .unwrap_or(0),
        threads: fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0),
        mappings: fs::read_to_string("/proc/self/maps")
            .map(|s| s.lines().count())
            .unwrap_or(0),
    }
}

/// A counter of the service's dump. Its key (`backend.live_vms`, ...) is written and read
/// only here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counter {
    /// Open fds of the service process.
    OpenFds,
    /// Threads of the service process.
    Threads,
    /// Memory mappings of the service process.
    Mappings,
    /// VMs the backend holds (fd open, or a vCPU fd still holding it).
    BackendLiveVms,
    /// vCPU fds the backend holds.
    BackendLiveVcpus,
    /// Bytes of guest memory registered with live VMs.
    BackendRegisteredBytes,
    /// `Vm` objects the manager still references.
    VmObjects,
    /// Of those, the ones not destroyed.
    LiveVms,
    /// VMs torn down whose driver objects the reaper has not yet released (the later drivers'
    /// last close can wait for the VM's reset).
    ReleasingVms,
    /// `createVm` calls that succeeded since start-up.
    CreatedTotal,
    /// `createVm` calls that failed since start-up.
    FailedTotal,
}

impl Counter {
    /// Every counter, in dump order.
    pub const ALL: [Counter; 11] = [
        Counter::OpenFds,
        Counter::Threads,
        Counter::Mappings,
        Counter::BackendLiveVms,
        Counter::BackendLiveVcpus,
        Counter::BackendRegisteredBytes,
        Counter::VmObjects,
        Counter::LiveVms,
        Counter::ReleasingVms,
        Counter::CreatedTotal,
        Counter::FailedTotal,
    ];

    /// Its key in the dump.
    pub fn key(self) -> &'static str {
        match self {
            Counter::OpenFds => "process.open_fds",
            Counter::Threads => "process.threads",
            Counter::Mappings => "process.mappings",
            Counter::BackendLiveVms => "backend.live_vms",
            Counter::BackendLiveVcpus => "backend.live_vcpus",
            Counter::BackendRegisteredBytes => "backend.registered_bytes",
            Counter::VmObjects => "vms.objects",
            Counter::LiveVms => "vms.live",
            Counter::ReleasingVms => "vms.releasing",
            Counter::CreatedTotal => "vms.created_total",
            Counter::FailedTotal => "vms.failed_total",
        }
    }

    fn from_key(key: &str) -> Option<Counter> {
        Self::ALL.into_iter().find(|c| c.key() == key)
    }
}

const BACKEND: &str = "backend";
const GENERATION: &str = "driver.generation";
const ALLOWED_UIDS: &str = "access.allowed_uids";
const LINGERING: &str = "quota.lingering_threads";

/// The service's dump (binder `dump()`, `dumpsys`, the host diagnostics socket): `key: value`
/// lines, then one line per VM. The service fills and formats it; readers (gunyahctl, VTS, the
/// leak tests) parse it back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    /// `"mock"` or `"gunyah"`.
    pub backend: String,
    /// The driver generation and its kernels, e.g. `ack66-late (android15-6.6 ...)`.
    pub generation: String,
    /// The counters present.
    pub counters: BTreeMap<Counter, u64>,
    /// Who may call: uids, or a sentence where SELinux decides.
    pub allowed_uids: String,
    /// Per client uid, threads still running for VMs torn down without them (a client's
    /// MMIO handler that has not answered): their VMs stay charged to that uid until they end.
    /// Written `uid=n` separated by spaces, or `none`.
    pub lingering_threads: BTreeMap<u32, u64>,
    /// One line per VM object.
    pub vms: Vec<VmLine>,
}

impl Diagnostics {
    /// The dump text.
    pub fn format(&self) -> String {
        let mut out = String::new();
        let mut line = |key: &str, value: &dyn std::fmt::Display| {
            out.push_str(&format!("{key}: {value}\n"));
        };
        line(BACKEND, &self.backend);
        line(GENERATION, &self.generation);
        for (counter, value) in &self.counters {
            line(counter.key(), value);
        }
        line(ALLOWED_UIDS, &self.allowed_uids);
        let lingering: Vec<String> = self
            .lingering_threads
            .iter()
            .map(|(uid, n)| format!("{uid}={n}"))
            .collect();
        line(
            LINGERING,
            &if lingering.is_empty() {
                "none".to_string()
            } else {
                lingering.join(" ")
            },
        );
        for vm in &self.vms {
            out.push_str(&format!("{vm}\n"));
        }
        out
    }

    /// Parses a dump. Keys this build does not know (a newer service's) are skipped; a VM line
    /// that does not parse is an error.
    pub fn parse(text: &str) -> Result<Self, VmLineError> {
        let mut d = Diagnostics::default();
        for line in text.lines() {
            if line.starts_with(vm_line::PREFIX) {
                d.vms.push(line.parse()?);
                continue;
            }
            let Some((key, value)) = line.split_once(": ") else {
                continue;
            };
            match key {
                BACKEND => d.backend = value.to_string(),
                GENERATION => d.generation = value.to_string(),
                ALLOWED_UIDS => d.allowed_uids = value.to_string(),
                LINGERING => {
                    d.lingering_threads = value
                        .split_whitespace()
                        .filter_map(|pair| pair.split_once('='))
                        .filter_map(|(uid, n)| Some((uid.parse().ok()?, n.parse().ok()?)))
                        .collect()
                }
                _ => {
                    if let (Some(c), Ok(n)) = (Counter::from_key(key), value.parse()) {
                        d.counters.insert(c, n);
                    }
                }
            }
        }
        Ok(d)
    }

    /// A counter; panics if the dump had none (a reader's bug or a broken service).
    pub fn count(&self, counter: Counter) -> u64 {
        *self
            .counters
            .get(&counter)
            .unwrap_or_else(|| panic!("the dump has no {}: {self:?}", counter.key()))
    }

    /// The dump as JSON: `{"backend", "driver_generation", "values": {key: n}, "access":
    /// {"allowed_uids"}, "lingering_threads": {uid: n}, "vms": [{"id", "name", "uid", "state", "vcpus", "memory_bytes",
    /// "callbacks", "mmio_handlers", "mmio_ring_ranges", "unhandled_mmio": {"reads", "writes"},
    /// "exits": {"mmio_binder", "mmio_ring", "ioeventfd_signals", "last_exit_ms"}}]}`
    /// (`ioeventfd_signals` and `last_exit_ms` are null where unknown).
    pub fn to_json(&self) -> serde_json::Value {
        let values: serde_json::Map<String, serde_json::Value> = self
            .counters
            .iter()
            .map(|(c, n)| (c.key().to_string(), serde_json::json!(n)))
            .collect();
        serde_json::json!({
            "backend": self.backend,
            "driver_generation": self.generation,
            "values": values,
            "access": { "allowed_uids": self.allowed_uids },
            "lingering_threads": self
                .lingering_threads
                .iter()
                .map(|(uid, n)| (uid.to_string(), serde_json::json!(n)))
                .collect::<serde_json::Map<_, _>>(),
            "vms": self.vms.iter().map(vm_json).collect::<Vec<_>>(),
        })
    }
}

fn vm_json(vm: &VmLine) -> serde_json::Value {
    serde_json::json!({
        "id": vm.id,
        "name": vm.name,
        "uid": vm.uid,
        "state": crate::names::vm_state(vm.state),
        "vcpus": vm.vcpus,
        "memory_bytes": vm.memory_bytes,
        "callbacks": vm.callbacks,
        "mmio_handlers": vm.mmio_handlers,
        "mmio_ring_ranges": vm.mmio_ring_ranges,
        "unhandled_mmio": {
            "reads": vm.unhandled_mmio.reads,
            "writes": vm.unhandled_mmio.writes,
        },
        "exits": {
            "mmio_binder": vm.exits.mmio_binder,
            "mmio_ring": vm.exits.mmio_ring,
            "ioeventfd_signals": vm.exits.ioeventfd_signals,
            "last_exit_ms": vm.exits.last_exit_ms,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_process_counts_sees_new_fds() -> std::io::Result<()> {
        let before = process_counts();
        assert!(before.threads >= 1 && before.mappings > 0 && before.open_fds >= 3);
        let files = (0..64)
            .map(|_| fs::File::open("/proc/self/status"))
            .collect::<Result<Vec<_>, _>>()?;
        let during = process_counts();
        drop(files);
        // Other test threads may open or close a few fds meanwhile; 64 new ones stand out.
        assert!(
            during.open_fds >= before.open_fds + 48,
            "{before:?} -> {during:?}"
        );
        Ok(())
    }

    #[test]
    fn test_format_and_parse_round_trip() {
        let mut d = Diagnostics {
            backend: "mock".into(),
            generation: "a14-late (android14-6.1, later builds)".into(),
            allowed_uids: "0,1000".into(),
            lingering_threads: BTreeMap::from([(10, 2), (10010, 1)]),
            vms: vec![VmLine {
                id: 1,
                uid: 0,
                state: crate::aidl::VmState::VmState::RUNNING,
                vcpus: 1,
                memory_bytes: 4096,
                callbacks: 0,
                mmio_handlers: 0,
                mmio_ring_ranges: 0,
                unhandled_mmio: UnhandledMmio::default(),
                exits: ExitCounts::default(),
                name: "a".into(),
            }],
            ..Default::default()
        };
        for (i, c) in Counter::ALL.into_iter().enumerate() {
            d.counters.insert(c, i as u64 * 7);
        }
        let text = d.format();
        assert!(text.contains("backend.live_vms: 21\n"), "{text}");
        assert!(
            text.contains("quota.lingering_threads: 10=2 10010=1\n"),
            "{text}"
        );
        assert_eq!(d.to_json()["lingering_threads"]["10"], 2);
        assert_eq!(Diagnostics::parse(&text), Ok(d.clone()));
        assert_eq!(d.count(Counter::FailedTotal), 70);
        assert_eq!(d.to_json()["values"]["vms.created_total"], 63);
        assert_eq!(d.to_json()["values"]["vms.releasing"], 56);
        assert_eq!(d.to_json()["vms"][0]["state"], "RUNNING");
        // A newer service's key is skipped, not an error.
        let newer = Diagnostics::parse(&format!("{text}backend.new_thing: 3\n"));
        assert_eq!(newer, Ok(d));
        // A VM line that does not parse is an error, not a line dropped.
        assert!(Diagnostics::parse(&format!("{text}vm 2 state=RUNNING\n")).is_err());
    }
}
