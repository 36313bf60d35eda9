//! Where a server process's resident memory lies, from /proc: the resident set, its threads,
//! and the resident bytes of file-backed mappings (the program, its libraries, for the JVM its
//! class data) apart from anonymous ones (heap, allocator arenas, thread stacks; for the JVM its
//! Java heap). The same reading for a Quorum server and a ZooKeeper JVM.

use serde::Serialize;

/// One process's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryReport {
    /// The process.
    pub pid: u32,
    /// VmRSS, KiB.
    pub rss_kib: u64,
    /// Threads.
    pub threads: u64,
    /// Resident KiB of file-backed mappings.
    pub file_kib: u64,
    /// Resident KiB of every other mapping.
    pub anonymous_kib: u64,
}

impl MemoryReport {
    /// Reads /proc/`pid`/status and /proc/`pid`/smaps.
    pub fn of(pid: u32) -> std::io::Result<MemoryReport> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps"))?;
        let (file_kib, anonymous_kib) = resident_by_backing(&smaps);
        Ok(MemoryReport {
            pid,
            rss_kib: status_field(&status, "VmRSS:").unwrap_or(0),
            threads: status_field(&status, "Threads:").unwrap_or(0),
            file_kib,
            anonymous_kib,
        })
    }

    /// The report as one JSON object.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }
}

/// The number after `name` in /proc/PID/status.
fn status_field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// Resident KiB of file-backed and of other mappings in an smaps text. A mapping's header line
/// is `start-end perms offset dev inode [name]`; a name starting with '/' is a file. The
/// `[heap]`, `[stack]` and unnamed mappings are anonymous.
fn resident_by_backing(smaps: &str) -> (u64, u64) {
    let (mut file, mut anonymous) = (0, 0);
    let mut in_file = false;
    for line in smaps.lines() {
        if let Some(kib) = line.strip_prefix("Rss:") {
            let kib: u64 = kib
                .split_whitespace()
                .next()
                .and_then(|k| k.parse().ok())
                .unwrap_or(0);
            if in_file {
                file += kib;
            } else {
                anonymous += kib;
            }
        } else if is_mapping_header(line) {
            in_file = line
                .split_whitespace()
                .nth(5)
                .is_some_and(|n| n.starts_with('/'));
        }
    }
    (file, anonymous)
}

/// Whether an smaps line starts a mapping (`hex-hex perms …`) rather than being a field of one.
fn is_mapping_header(line: &str) -> bool {
    line.split_whitespace()
        .next()
        .and_then(|range| range.split_once('-'))
        .is_some_and(|(a, b)| {
            !a.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_hexdigit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_split_by_backing() {
        let smaps = "\
55d0a0000000-55d0a0100000 r-xp 00000000 08:01 1234   /usr/bin/quorum
Size:               1024 kB
Rss:                 800 kB
55d0a1000000-55d0a2000000 rw-p 00000000 00:00 0      [heap]
Rss:                 300 kB
7f0000000000-7f0004000000 rw-p 00000000 00:00 0
Rss:                5000 kB
7f1000000000-7f1000100000 r--p 00000000 08:01 99     /usr/lib/libc.so.6
Rss:                  40 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0      [stack]
Rss:                  12 kB
";
        assert_eq!(resident_by_backing(smaps), (840, 5312));
    }

    #[test]
    fn this_process_reads_and_adds_up() {
        let r = MemoryReport::of(std::process::id()).unwrap();
        assert!(r.rss_kib > 0 && r.threads >= 1, "{r:?}");
        // The resident set and the mappings' sum are read a moment apart.
        let sum = r.file_kib + r.anonymous_kib;
        assert!(sum.abs_diff(r.rss_kib) < r.rss_kib / 4 + 1024, "{r:?}");
    }
}
