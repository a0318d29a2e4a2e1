//! Diagnostics: process-level counters (open fds, threads and mappings of this process, read
//! from /proc) for the service's dump, and the parser of that dump for its readers (gunyahctl,
//! the leak tests).

use std::collections::BTreeMap;
use std::fs;

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

/// The service's dump (`key: value` lines, then one line per VM), parsed.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    /// `key: value` lines.
    pub values: BTreeMap<String, String>,
    /// One line per VM object.
    pub vm_lines: Vec<String>,
}

impl Diagnostics {
    /// Parses the text of the service's dump.
    pub fn parse(text: &str) -> Self {
        let mut d = Diagnostics::default();
        for line in text.lines() {
            if line.starts_with("vm ") {
                d.vm_lines.push(line.to_string());
            } else if let Some((k, v)) = line.split_once(": ") {
                d.values.insert(k.to_string(), v.to_string());
            }
        }
        d
    }

    /// A numeric counter; panics if absent.
    pub fn count(&self, key: &str) -> u64 {
        self.values
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("diagnostics have no counter {key:?}: {self:?}"))
    }
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
}
