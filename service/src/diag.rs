//! Process-level counters for diagnostics and leak tests: open fds, threads and mappings of
//! this process, read from /proc.

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
