//! File descriptors: clients must never use up the ones the server needs for its own files
//! (a snapshot that cannot be opened stops the server).

/// Descriptors kept free of client connections: the log and its segments, snapshots being
/// written and read, epoch files, peer links and the metrics endpoint.
pub const RESERVED_FOR_THE_SERVER: u64 = 256;

/// Raises the soft limit on open files to the hard limit (a coordination service holds one
/// descriptor per client), and returns the soft limit now in force.
pub fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

/// The most client connections this process can hold with its descriptor limit `limit`.
pub fn connections_allowed(limit: u64) -> usize {
    limit.saturating_sub(RESERVED_FOR_THE_SERVER).max(16) as usize
}

/// Descriptors open now (counted off the core task: it walks /proc).
pub fn open_count() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

/// The soft limit on open files.
pub fn limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    limit.rlim_cur
}

/// The `mntr` lines about file descriptors, appended off the core task (counting them walks
/// /proc).
pub fn descriptor_lines() -> String {
    format!(
        "zk_open_file_descriptor_count\t{}\nzk_max_file_descriptor_count\t{}\n",
        open_count(),
        limit()
    )
}
