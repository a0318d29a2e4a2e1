//! `--console ADDR`: a UART transmit register. Every byte the guest writes there is collected
//! into lines, and each whole line is printed at once, so the console never interleaves with
//! state changes printed from other threads.

use gunyah_sys::sync::IgnorePoison;
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
        let mut pending = self.pending.lock().ignore_poison();
        if byte == b'\n' {
            self.print(&pending);
            pending.clear();
        } else {
            pending.push(byte);
        }
    }

    /// Prints a last line without a newline, if any.
    pub fn flush(&self) {
        let mut pending = self.pending.lock().ignore_poison();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A sink the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Regression: the console once wrote each byte to stdout as it came, so a state change
    /// printed by the callback thread could land inside the guest's line ("H" + "state:
    /// RUNNING" + "ello ..."), which failed the QEMU tier.
    #[test]
    fn test_console_lines_never_interleave_with_other_output() {
        let sink = Shared::default();
        let out = Arc::new(Output::to(false, Box::new(sink.clone())));
        let console = Console::new(1, out.clone());
        let uart = Uart(console.clone());
        let states = std::thread::spawn({
            let out = out.clone();
            move || {
                for _ in 0..2000 {
                    out.line(|| "state: RUNNING".to_string(), || json!({}));
                }
            }
        });
        for _ in 0..200 {
            for b in b"Hello from a Gunyah guest!\n" {
                uart.write(0x9000_0000, 1, *b as u64);
            }
        }
        uart.write(0x9000_0000, 1, b'!' as u64);
        states.join().unwrap();
        console.flush();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let mut hello = 0;
        for line in text.lines() {
            match line {
                "state: RUNNING" => {}
                "Hello from a Gunyah guest!" => hello += 1,
                "!" => {}
                other => panic!("interleaved line {other:?}"),
            }
        }
        assert_eq!(hello, 200);
        assert!(text.ends_with("!\n"), "the partial last line is flushed");
    }

    #[test]
    fn test_console_json_lines() {
        let sink = Shared::default();
        let console = Console::new(7, Arc::new(Output::to(true, Box::new(sink.clone()))));
        for b in b"ok\r\n" {
            console.put(*b);
        }
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "{\"event\":\"console\",\"text\":\"ok\",\"vm\":7}\n");
    }
}
