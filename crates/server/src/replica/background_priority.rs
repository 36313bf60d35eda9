//! The CPU priority of the threads that serialize snapshots.
//!
//! Serializing a big tree is seconds of CPU (about 5 s for a million znodes), and under load
//! every server does it every few seconds. At the core's own priority those threads took the
//! cores the servers' core threads and the clients needed. Measured with
//! `scripts/bench-snapshot-stall` (1,000,000 znodes, set 32 × 8, three servers writing
//! snapshots), the same binary with its snapshot threads reniced to 19 and not, two runs each:
//! 42,002 and 42,012 against 33,342 and 36,478 sets a second, longest gaps 97 and 42 against
//! 98 and 76 ms, snapshots written in 4.7–10.9 s against 4.8–6.9 s. A lower priority takes
//! only what is left over; it does not starve: the kernel still gives such a thread a share.
//! A snapshot that takes longer holds its frozen tree (the overlay of changes made since)
//! and delays the log's purge that long.

/// The nice value of snapshot threads (19 is the lowest priority).
pub const SNAPSHOT_THREAD_NICE: i32 = 19;

/// Lowers the calling thread's CPU priority to [`SNAPSHOT_THREAD_NICE`]; logged if refused.
pub fn lower_this_thread() {
    if let Err(error) = set_this_thread_nice(SNAPSHOT_THREAD_NICE) {
        tracing::warn!(%error, "could not lower the priority of a snapshot thread");
    }
}

#[cfg(target_os = "linux")]
fn set_this_thread_nice(nice: i32) -> std::io::Result<()> {
    // SAFETY: syscalls with integer arguments only. On Linux a thread id given to
    // setpriority(PRIO_PROCESS) names that one thread, not the whole process.
    let rc = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_this_thread_nice(_nice: i32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The nice value of the calling thread, from /proc (field 19 of its stat line).
    fn own_nice() -> i32 {
        // SAFETY: gettid has no arguments.
        let tid = unsafe { libc::gettid() };
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[test]
    fn only_the_calling_thread_is_lowered() {
        let before = own_nice();
        let lowered = std::thread::spawn(|| {
            lower_this_thread();
            own_nice()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, SNAPSHOT_THREAD_NICE);
        assert_eq!(own_nice(), before, "the process's other threads keep theirs");
    }
}
