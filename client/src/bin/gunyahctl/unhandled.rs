//! MMIO nobody serves: `gunyahctl run` gives every guest address outside its console window to
//! a recording handler (reads return 0, writes are dropped, as the service does with unhandled
//! MMIO), so that a guest whose output went nowhere is noticed. At the end of the run it says
//! how many accesses there were and where, and, when the writes look like a UART (byte-wide
//! writes to one address, mostly printable), which `--console` would have shown them.

use gunyah_sys::sync::IgnorePoison;
use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};

use gunyah_vm_client::MmioHandler;

/// The guest physical address space the recorder covers: 52 bits, the most an arm64 IPA has.
pub const ADDRESS_SPACE: u64 = 1 << 52;
/// Distinct addresses listed in the summary.
const FIRST_ADDRESSES: usize = 4;
/// Share of printable bytes that makes byte writes to one address look like a UART.
const UART_PRINTABLE_PERCENT: u64 = 80;

/// The ranges to record: the address space less the console's window.
pub fn ranges(console: Option<(u64, u64)>) -> Vec<(u64, u64)> {
    match console {
        None => vec![(0, ADDRESS_SPACE)],
        Some((base, size)) => {
            let end = base.saturating_add(size).min(ADDRESS_SPACE);
            [(0, base), (end, ADDRESS_SPACE - end)]
                .into_iter()
                .filter(|(_, size)| *size > 0)
                .collect()
        }
    }
}

#[derive(Default)]
struct ByteWrites {
    total: u64,
    printable: u64,
}

#[derive(Default)]
struct Record {
    reads: u64,
    writes: u64,
    /// The first distinct addresses, in the order the guest touched them.
    first: Vec<u64>,
    /// Byte-wide writes per address.
    bytes: BTreeMap<u64, ByteWrites>,
    /// Wider writes per address.
    wide: BTreeMap<u64, u64>,
}

/// The recording handler.
#[derive(Default)]
pub struct Recorder(Mutex<Record>);

fn printable(byte: u8) -> bool {
    byte.is_ascii_graphic() || matches!(byte, b' ' | b'\n' | b'\r' | b'\t')
}

impl Recorder {
    fn record(&self, address: u64, f: impl FnOnce(&mut Record)) {
        let mut r = self.0.lock().ignore_poison();
        if r.first.len() < FIRST_ADDRESSES && !r.first.contains(&address) {
            r.first.push(address);
        }
        f(&mut r);
    }

    /// What was recorded; `None` when the guest touched no unhandled address.
    pub fn summary(&self) -> Option<Summary> {
        let r = self.0.lock().ignore_poison();
        if r.reads + r.writes == 0 {
            return None;
        }
        // A UART: the address with the most byte writes, taking no wider writes, most of them
        // printable.
        let uart = r
            .bytes
            .iter()
            .max_by_key(|(_, b)| b.total)
            .filter(|(addr, b)| {
                b.total >= 2
                    && !r.wide.contains_key(addr)
                    && b.printable * 100 >= b.total * UART_PRINTABLE_PERCENT
            })
            .map(|(addr, b)| (*addr, b.total));
        Some(Summary {
            reads: r.reads,
            writes: r.writes,
            first: r.first.clone(),
            uart,
        })
    }
}

impl MmioHandler for Recorder {
    fn read(&self, address: u64, _size: u32) -> u64 {
        self.record(address, |r| r.reads += 1);
        0
    }

    fn write(&self, address: u64, size: u32, value: u64) {
        self.record(address, |r| {
            r.writes += 1;
            if size == 1 {
                let b = r.bytes.entry(address).or_default();
                b.total += 1;
                b.printable += u64::from(printable(value as u8));
            } else {
                *r.wide.entry(address).or_default() += 1;
            }
        });
    }
}

/// The unhandled accesses of a run.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub reads: u64,
    pub writes: u64,
    /// The first distinct addresses touched.
    pub first: Vec<u64>,
    /// An address that looks like a UART transmit register, and the bytes written to it.
    pub uart: Option<(u64, u64)>,
}

impl Summary {
    /// The human lines.
    pub fn text(&self) -> String {
        let first: Vec<String> = self.first.iter().map(|a| format!("{a:#x}")).collect();
        let mut text = format!(
            "unhandled MMIO: {} accesses ({} reads, {} writes), first at {}; reads returned 0, \
             writes were dropped",
            self.reads + self.writes,
            self.reads,
            self.writes,
            first.join(", ")
        );
        if let Some((addr, bytes)) = self.uart {
            text.push_str(&format!(
                "\nthe guest wrote {bytes} printable bytes to {addr:#x}, one at a time: a UART? \
                 try --console {addr:#x}"
            ));
        }
        text
    }

    /// The `unhandled_mmio` member of the `done` event.
    pub fn json(&self) -> Value {
        json!({
            "accesses": self.reads + self.writes,
            "reads": self.reads,
            "writes": self.writes,
            "first_addresses": self.first,
            "uart": self.uart.map(|(addr, bytes)| json!({ "address": addr, "bytes": bytes })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ranges_leave_out_the_console() {
        assert_eq!(ranges(None), [(0, ADDRESS_SPACE)]);
        assert_eq!(
            ranges(Some((0x9000_0000, 0x1000))),
            [(0, 0x9000_0000), (0x9000_1000, ADDRESS_SPACE - 0x9000_1000)]
        );
        assert_eq!(
            ranges(Some((0, 0x1000))),
            [(0x1000, ADDRESS_SPACE - 0x1000)]
        );
    }

    #[test]
    fn test_nothing_recorded_is_no_summary() {
        assert_eq!(Recorder::default().summary(), None);
    }

    #[test]
    fn test_byte_writes_of_text_look_like_a_uart() {
        let r = Recorder::default();
        for b in b"Hello!\n" {
            r.write(0x9000_0000, 1, u64::from(*b));
        }
        assert_eq!(r.read(0x9000_0004, 4), 0);
        let s = r.summary().unwrap();
        assert_eq!((s.reads, s.writes), (1, 7));
        assert_eq!(s.first, [0x9000_0000, 0x9000_0004]);
        assert_eq!(s.uart, Some((0x9000_0000, 7)));
        assert!(
            s.text().ends_with("try --console 0x90000000"),
            "{}",
            s.text()
        );
        assert_eq!(s.json()["uart"]["address"], 0x9000_0000u64);
    }

    #[test]
    fn test_binary_or_wide_writes_are_no_uart() {
        let binary = Recorder::default();
        for b in [0u8, 1, 2, 3, 0xff] {
            binary.write(0x1000, 1, u64::from(b));
        }
        assert_eq!(binary.summary().unwrap().uart, None);
        let wide = Recorder::default();
        wide.write(0x2000, 1, u64::from(b'a'));
        wide.write(0x2000, 1, u64::from(b'b'));
        wide.write(0x2000, 4, 0x6364);
        assert_eq!(wide.summary().unwrap().uart, None);
        let many = Recorder::default();
        for a in 0..10 {
            many.read(a * 8, 8);
        }
        assert_eq!(many.summary().unwrap().first.len(), FIRST_ADDRESSES);
    }
}
