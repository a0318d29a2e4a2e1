//! `--console ADDR`: a UART transmit register. Every byte the guest writes there is collected
//! into lines, and each whole line is printed at once, so the console never interleaves with
//! state changes printed from other threads.

use std::sync::{Arc, Mutex};

use serde_json::json;

use gunyah_vm_client::MmioHandler;

use crate::output::Output;

/// The size of the console's MMIO window (one page).
pub const WINDOW: u64 = 4096;

/// Bytes written so far and not yet printed.
pub struct Console {
    vm: i32,
    out: Arc<Output>,
    pending: Mutex<Vec<u8>>,
}

impl Console {
    pub fn new(vm: i32, out: Arc<Output>) -> Arc<Self> {
        Arc::new(Self {
            vm,
            out,
            pending: Mutex::new(Vec::new()),
        })
    }

    fn print(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        self.out.line(
            || text.to_string(),
            || json!({ "event": "console", "vm": self.vm, "text": text }),
        );
    }

    /// Takes one byte from the guest.
    pub fn put(&self, byte: u8) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if byte == b'\n' {
            self.print(&pending);
            pending.clear();
        } else {
            pending.push(byte);
        }
    }

    /// Prints a last line without a newline, if any.
    pub fn flush(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if !pending.is_empty() {
            self.print(&pending);
            pending.clear();
        }
    }
}

/// The MMIO face of a shared [`Console`].
pub struct Uart(pub Arc<Console>);

impl MmioHandler for Uart {
    fn read(&self, _address: u64, _size: u32) -> u64 {
        0
    }

    fn write(&self, _address: u64, _size: u32, value: u64) {
        self.0.put(value as u8);
    }
}
