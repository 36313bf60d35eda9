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

/// Descriptors open now and the limit, counted on a blocking thread: the count walks
/// /proc/self/fd, up to thousands of entries, and the runtime thread may be the core's.
pub async fn figures() -> (u64, u64) {
    tokio::task::spawn_blocking(|| (open_count(), limit()))
        .await
        .unwrap_or((0, 0))
}

/// Descriptors open now (walks /proc: call it off the runtime thread, see [`figures`]).
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

/// The `mntr` lines about file descriptors, appended by the connection's task.
pub async fn descriptor_lines() -> String {
    let (open, max) = figures().await;
    format!("zk_open_file_descriptor_count\t{open}\nzk_max_file_descriptor_count\t{max}\n")
}
