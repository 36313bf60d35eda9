//! The CPU priority of the thread that writes the periodic snapshots.
//!
//! Serializing a big tree is seconds of CPU (about 5 s for a million znodes), and under load
//! every server does it every few seconds. At the core's own priority that thread took the
//! cores the servers' core threads and the clients needed. Measured with
//! `scripts/bench-snapshot-stall` (1,000,000 znodes, set 32 × 8, three servers writing
//! snapshots), the same binary with its snapshot threads reniced to 19 and not, two runs each:
//! 42,002 and 42,012 against 33,342 and 36,478 sets a second, longest gaps 97 and 42 against
//! 98 and 76 ms, snapshots written in 4.7–10.9 s against 4.8–6.9 s. A lower priority takes
//! what is left over; it does not starve: the kernel still gives such a thread a share. A
//! snapshot that takes longer holds its frozen tree (the overlay of changes made since) and
//! delays the log's purge that long.
//!
//! Only the periodic snapshot: the thread that serializes a SNAP for a follower keeps the
//! process's priority, since that follower waits for it, within initLimit, to rejoin.

/// How far below the process's own priority the snapshot writer runs (to at most nice 19,
/// the lowest).
pub const SNAPSHOT_WRITER_NICE_BELOW: i32 = 19;

/// Lowers the calling thread's CPU priority [`SNAPSHOT_WRITER_NICE_BELOW`] steps below the
/// process's; logged if refused.
pub fn lower_this_thread() {
    if let Err(error) = lower(SNAPSHOT_WRITER_NICE_BELOW) {
        tracing::warn!(%error, "could not lower the priority of the snapshot writer");
    }
}

#[cfg(target_os = "linux")]
fn lower(steps: i32) -> std::io::Result<()> {
    // SAFETY: syscalls with integer arguments only. On Linux a thread id given to
    // setpriority(PRIO_PROCESS) names that one thread, not the whole process; -1 is a valid
    // priority, so errno tells an error from it.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if now == -1 && *libc::__errno_location() != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::setpriority(libc::PRIO_PROCESS, tid, (now + steps).min(19)) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn lower(_steps: i32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The nice value of the calling thread, from /proc (field 19 of its stat line).
    fn own_nice() -> i32 {
        // SAFETY: gettid has no arguments.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
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
        assert_eq!(lowered, (before + SNAPSHOT_WRITER_NICE_BELOW).min(19));
        assert_eq!(
            own_nice(),
            before,
            "the process's other threads keep theirs"
        );
    }
}
