//! One VM's line of the dump: what the service formats for each live VM object and what its
//! readers parse back.
//!
//! `vm <id> uid=<uid> state=<VmState> vcpus=<n> memory=<bytes> callbacks=<n> mmio_handlers=<n>
//! mmio_ring_ranges=<n> unhandled_mmio=<reads>r/<writes>w mmio_binder_exits=<n>
//! mmio_ring_exits=<n> ioeventfd_signals=<n|-> last_exit_ms=<n|-> name=<name>`
//! (`mmio_ring_ranges` since interface V3; a line without it reads as 0; the exit counters since
//! `gunyahctl top`: a line without them reads as [`ExitCounts::default`]). The name comes last and runs to the end of
//! the line: the contract refuses control characters in names, so it cannot hold a line break,
//! and anything else (spaces, `=`) is kept as it is. A newer service may add `key=value` fields
//! before `name=`; readers skip the keys they do not know.

use std::fmt;

use crate::aidl::VmState::VmState;
use crate::names;

/// What starts every VM line.
pub(super) const PREFIX: &str = "vm ";
const NAME: &str = " name=";

/// Guest MMIO accesses nobody answered (no handler, no ioeventfd): reads returned zero,
/// writes were dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnhandledMmio {
    /// Reads answered with zero.
    pub reads: u64,
    /// Writes dropped.
    pub writes: u64,
}

/// A VM's exits, counted since it was created (what `gunyahctl top` turns into rates).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExitCounts {
    /// MMIO exits answered by a client's binder handler.
    pub mmio_binder: u64,
    /// MMIO exits answered over the VM's MMIO ring.
    pub mmio_ring: u64,
    /// Guest writes that signalled an ioeventfd (the guest's doorbells to its VMM) instead of
    /// exiting, where the driver counts them (the userspace mock); `None` where it does not.
    pub ioeventfd_signals: Option<u64>,
    /// Milliseconds since the VM's last MMIO exit, when the dump was made; `None` before the
    /// first.
    pub last_exit_ms: Option<u64>,
}

/// One VM object of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmLine {
    /// The VM's id (`VmDescriptor.id`).
    pub id: i32,
    /// The uid that created it.
    pub uid: u32,
    /// Its lifecycle state.
    pub state: VmState,
    /// vCPUs configured.
    pub vcpus: u32,
    /// Guest memory in bytes.
    pub memory_bytes: u64,
    /// Callbacks registered.
    pub callbacks: u64,
    /// MMIO ranges a client's binder handler serves.
    pub mmio_handlers: u64,
    /// MMIO ranges the VM's MMIO ring serves.
    pub mmio_ring_ranges: u64,
    /// Accesses that reached no handler.
    pub unhandled_mmio: UnhandledMmio,
    /// Exits by kind, and the time since the last.
    pub exits: ExitCounts,
    /// The VM's name, as the client gave it.
    pub name: String,
}

impl fmt::Display for VmLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{} uid={} state={} vcpus={} memory={} callbacks={} mmio_handlers={} \
             mmio_ring_ranges={} unhandled_mmio={}r/{}w mmio_binder_exits={} mmio_ring_exits={} \
             ioeventfd_signals={} last_exit_ms={}{NAME}{}",
            self.id,
            self.uid,
            names::vm_state(self.state),
            self.vcpus,
            self.memory_bytes,
            self.callbacks,
            self.mmio_handlers,
            self.mmio_ring_ranges,
            self.unhandled_mmio.reads,
            self.unhandled_mmio.writes,
            self.exits.mmio_binder,
            self.exits.mmio_ring,
            optional(self.exits.ioeventfd_signals),
            optional(self.exits.last_exit_ms),
            self.name
        )
    }
}

/// `n`, or `-` for none.
fn optional(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// A VM line that does not parse, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dump line {line:?}: {reason}")]
pub struct VmLineError {
    /// The line.
    pub line: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::str::FromStr for VmLine {
    type Err = VmLineError;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| VmLineError {
            line: line.to_string(),
            reason,
        };
        let rest = line
            .strip_prefix(PREFIX)
            .ok_or_else(|| fail(format!("does not start with {PREFIX:?}")))?;
        let (fields, name) = rest
            .split_once(NAME)
            .ok_or_else(|| fail("has no name= field".to_string()))?;
        let mut words = fields.split(' ');
        let id = words.next().unwrap_or_default();
        let id = id
            .parse()
            .map_err(|_| fail(format!("id {id:?} is not a number")))?;
        let mut fields = Fields::default();
        for word in words {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| fail(format!("{word:?} is not key=value")))?;
            fields.set(key, value).map_err(fail)?;
        }
        fields.finish(id, name).map_err(fail)
    }
}

/// The fields of a line as they are read; each must appear once.
#[derive(Default)]
struct Fields {
    uid: Option<u32>,
    state: Option<VmState>,
    vcpus: Option<u32>,
    memory_bytes: Option<u64>,
    callbacks: Option<u64>,
    mmio_handlers: Option<u64>,
    mmio_ring_ranges: Option<u64>,
    unhandled_mmio: Option<UnhandledMmio>,
    exits: ExitCounts,
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{key}={value:?} is not a number"))
}

/// `<n>` or `-`.
fn number_or_none(key: &str, value: &str) -> Result<Option<u64>, String> {
    match value {
        "-" => Ok(None),
        _ => number(key, value).map(Some),
    }
}

fn once<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), String> {
    match slot.replace(value) {
        Some(_) => Err(format!("{key} appears twice")),
        None => Ok(()),
    }
}

impl Fields {
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "uid" => once(&mut self.uid, key, number(key, value)?),
            "state" => once(&mut self.state, key, state(value)?),
            "vcpus" => once(&mut self.vcpus, key, number(key, value)?),
            "memory" => once(&mut self.memory_bytes, key, number(key, value)?),
            "callbacks" => once(&mut self.callbacks, key, number(key, value)?),
            "mmio_handlers" => once(&mut self.mmio_handlers, key, number(key, value)?),
            "mmio_ring_ranges" => once(&mut self.mmio_ring_ranges, key, number(key, value)?),
            "unhandled_mmio" => once(&mut self.unhandled_mmio, key, unhandled(value)?),
            "mmio_binder_exits" => {
                self.exits.mmio_binder = number(key, value)?;
                Ok(())
            }
            "mmio_ring_exits" => {
                self.exits.mmio_ring = number(key, value)?;
                Ok(())
            }
            "ioeventfd_signals" => {
                self.exits.ioeventfd_signals = number_or_none(key, value)?;
                Ok(())
            }
            "last_exit_ms" => {
                self.exits.last_exit_ms = number_or_none(key, value)?;
                Ok(())
            }
            // A newer service's field.
            _ => Ok(()),
        }
    }

    fn finish(self, id: i32, name: &str) -> Result<VmLine, String> {
        let missing = |key: &str| format!("has no {key}= field");
        Ok(VmLine {
            id,
            uid: self.uid.ok_or_else(|| missing("uid"))?,
            state: self.state.ok_or_else(|| missing("state"))?,
            vcpus: self.vcpus.ok_or_else(|| missing("vcpus"))?,
            memory_bytes: self.memory_bytes.ok_or_else(|| missing("memory"))?,
            callbacks: self.callbacks.ok_or_else(|| missing("callbacks"))?,
            mmio_handlers: self.mmio_handlers.ok_or_else(|| missing("mmio_handlers"))?,
            // A service before V3 has no ring.
            mmio_ring_ranges: self.mmio_ring_ranges.unwrap_or(0),
            unhandled_mmio: self
                .unhandled_mmio
                .ok_or_else(|| missing("unhandled_mmio"))?,
            // A service before `gunyahctl top` counts no exits.
            exits: self.exits,
            name: name.to_string(),
        })
    }
}

/// A state as `names::vm_state` prints it: a known name, or `VmState(<n>)` for a value this
/// build does not know.
fn state(value: &str) -> Result<VmState, String> {
    if let Some(n) = value
        .strip_prefix("VmState(")
        .and_then(|v| v.strip_suffix(')'))
    {
        return number::<i32>("state", n).map(VmState);
    }
    (i8::MIN..=i8::MAX)
        .map(|n| VmState(n.into()))
        .find(|s| names::vm_state(*s) == value)
        .ok_or_else(|| format!("state={value:?} is no VmState"))
}

/// `<reads>r/<writes>w`.
fn unhandled(value: &str) -> Result<UnhandledMmio, String> {
    let bad = || format!("unhandled_mmio={value:?} is not <reads>r/<writes>w");
    let (reads, writes) = value.split_once('/').ok_or_else(bad)?;
    let reads = reads.strip_suffix('r').ok_or_else(bad)?;
    let writes = writes.strip_suffix('w').ok_or_else(bad)?;
    Ok(UnhandledMmio {
        reads: reads.parse().map_err(|_| bad())?,
        writes: writes.parse().map_err(|_| bad())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> VmLine {
        VmLine {
            id: 7,
            uid: 4242,
            state: VmState::RUNNING,
            vcpus: 2,
            memory_bytes: 2 << 20,
            callbacks: 1,
            mmio_handlers: 3,
            mmio_ring_ranges: 2,
            unhandled_mmio: UnhandledMmio {
                reads: 1,
                writes: 5,
            },
            exits: ExitCounts {
                mmio_binder: 11,
                mmio_ring: 12,
                ioeventfd_signals: Some(13),
                last_exit_ms: None,
            },
            name: name.to_string(),
        }
    }

    #[test]
    fn a_line_reads_back_as_it_was_written_whatever_the_name() {
        for name in ["demo", "", "two words", " name=x uid=1 ", "vm 3", "ü\"\\"] {
            let line = sample(name);
            let text = line.to_string();
            assert_eq!(text.parse::<VmLine>(), Ok(line), "{text}");
        }
        assert_eq!(
            sample("demo").to_string(),
            "vm 7 uid=4242 state=RUNNING vcpus=2 memory=2097152 callbacks=1 mmio_handlers=3 \
             mmio_ring_ranges=2 unhandled_mmio=1r/5w mmio_binder_exits=11 mmio_ring_exits=12 \
             ioeventfd_signals=13 last_exit_ms=- name=demo"
        );
    }

    #[test]
    fn a_newer_services_fields_and_states_are_read_and_skipped() {
        let text = "vm 7 uid=4242 state=VmState(42) vcpus=2 memory=2097152 callbacks=1 \
                    mmio_handlers=3 new_thing=9 unhandled_mmio=1r/5w name=demo";
        let line: VmLine = text.parse().unwrap();
        assert_eq!(line.state, VmState(42));
        assert_eq!(line.name, "demo");
        assert_eq!(
            line.mmio_ring_ranges, 0,
            "a V2 service's line has no ring ranges"
        );
        assert_eq!(line.exits, ExitCounts::default(), "nor exit counters");
    }

    #[test]
    fn a_broken_line_is_an_error_saying_what_is_wrong() {
        let cases = [
            ("vm x uid=1 name=a", "id \"x\" is not a number"),
            ("vm 1 uid=1", "has no name= field"),
            ("vm 1 uid=1 name=a", "has no state= field"),
            ("vm 1 uid=1 uid=2 name=a", "uid appears twice"),
            ("vm 1 state=BOGUS name=a", "state=\"BOGUS\" is no VmState"),
            (
                "vm 1 unhandled_mmio=1/2 name=a",
                "is not <reads>r/<writes>w",
            ),
        ];
        for (text, reason) in cases {
            let err = text.parse::<VmLine>().unwrap_err();
            assert!(err.reason.contains(reason), "{text}: {err}");
        }
    }
}
