//! Everything gunyahctl prints: human text or JSON, whole lines at a time (the console, state
//! changes and signals are printed from different threads and must never interleave inside a
//! line).

use gunyah_sys::sync::IgnorePoison;
use std::io::Write;
use std::sync::Mutex;

use serde_json::{json, Value};

/// Where output goes, and in which form.
pub struct Output {
    json: bool,
    /// stdout (a buffer in tests); the lock serialises lines from the callback, console and
    /// signal threads.
    sink: Mutex<Box<dyn Write + Send>>,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self::to(json, Box::new(std::io::stdout()))
    }

    /// Output to `sink`.
    pub fn to(json: bool, sink: Box<dyn Write + Send>) -> Self {
        Self {
            json,
            sink: Mutex::new(sink),
        }
    }

    /// Whether JSON was asked for.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Prints `human`, or `json` as one line.
    pub fn line(&self, human: impl FnOnce() -> String, json: impl FnOnce() -> Value) {
        let text = if self.json {
            json().to_string()
        } else {
            human()
        };
        self.write(&text);
    }

    /// Prints `human` in human mode only (what JSON carries elsewhere, in another event).
    pub fn human(&self, human: impl FnOnce() -> String) {
        if !self.json {
            self.write(&human());
        }
    }

    /// Prints a JSON document (pretty) or the human text as is.
    pub fn document(&self, human: impl FnOnce() -> String, json: impl FnOnce() -> Value) {
        if self.json {
            let text = serde_json::to_string_pretty(&json()).unwrap_or_default();
            self.write(&text);
        } else {
            let text = human();
            self.write(text.strip_suffix('\n').unwrap_or(&text));
        }
    }

    fn write(&self, text: &str) {
        let mut out = self.sink.lock().ignore_poison();
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        // A closed stdout (`| head`) ends the process with SIGPIPE, as for any tool.
        let _ = out.write_all(&bytes);
        let _ = out.flush();
    }

    /// Reports a failed command: one line on stderr, or a JSON object on stdout.
    pub fn error(&self, e: &anyhow::Error) {
        let message = format!("{e:#}");
        if self.json {
            let code = e
                .downcast_ref::<gunyah_vm_client::Error>()
                .and_then(|e| e.code())
                .map(|c| gunyah_contract::names::error_code(c.0).into_owned());
            self.write(&json!({ "error": { "message": message, "code": code } }).to_string());
        } else {
            eprintln!("gunyahctl: {}", message.replace('\n', " "));
        }
    }

    /// A progress report on stderr (human form only; JSON gets events on stdout).
    pub fn progress(&self, text: &str, done: bool) {
        // Under the output lock, so that a progress line never splits an output line.
        let _out = self.sink.lock().ignore_poison();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{text}{}", if done { "\n" } else { "" });
        let _ = err.flush();
    }
}
