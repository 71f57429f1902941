//! The process's memory as the kernel counts it (`/proc/self/status`). Linux only: elsewhere every
//! reading is `None` and the report says so.

use serde::Serialize;

/// Resident memory readings, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MemoryReading {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: Option<u64>,
    /// Peak resident set size since the process started (`VmHWM`).
    pub peak_rss_kib: Option<u64>,
}

impl MemoryReading {
    pub fn now() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        Self {
            rss_kib: field_kib(&status, "VmRSS:"),
            peak_rss_kib: field_kib(&status, "VmHWM:"),
        }
    }
}

/// A field of a `/proc/PID/status` text: `VmHWM:   123456 kB` → 123456 (`Threads:  12` → 12).
pub fn status_field_kib(status: &str, name: &str) -> Option<u64> {
    field_kib(status, name)
}

/// `VmHWM:   123456 kB` → 123456.
fn field_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(field_kib(status, "VmHWM:"), Some(2048));
        assert_eq!(field_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(field_kib(status, "VmSwap:"), None);
    }
}
