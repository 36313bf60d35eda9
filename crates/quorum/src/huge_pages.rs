//! Transparent huge pages off for this process.
//!
//! mimalloc asks the kernel for transparent huge pages on the memory it maps
//! (`MADV_HUGEPAGE`), and under the common `defrag=madvise` setting the kernel then zeroes, and
//! may compact memory for, a whole 2 MiB page inside the page fault that first touches it.
//! Those faults land wherever a big allocation is first written: a node table that doubles, a
//! restored snapshot, a SNAP. Measured with `quorum bench tree-memory` (a million creates):
//! the longest single apply 17.6–18.0 ms with huge pages and 1.1 ms without, the longest 512
//! creates in a row 78–80 against 12–17 ms, 0.63–0.91 against 0.26–0.27 s of system time, and
//! the same memory per znode (docs/benchmarks.md). A coordination service wants the short
//! pauses more than the fewer TLB misses; Redis and MongoDB advise the same.
//!
//! Setting `MIMALLOC_ALLOW_THP` in the environment leaves the choice to mimalloc (1 keeps huge
//! pages).

/// Turns transparent huge pages off for this process and the ones it starts, unless
/// `MIMALLOC_ALLOW_THP` is set. Call before the first big allocation.
pub fn off_unless_asked() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    disable();
}

#[cfg(target_os = "linux")]
fn disable() {
    let (on, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
    // SAFETY: prctl(2) with integer arguments only; it sets a flag of this process.
    let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, on, unused, unused, unused) };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        tracing::warn!(%error, "could not turn transparent huge pages off");
    }
}

#[cfg(not(target_os = "linux"))]
fn disable() {}
