//! What one replicated write cannot beat on this machine: one fdatasync of a log record plus
//! two loopback round trips (client to server, server to the other servers and back).
//!
//! [`fdatasync`] overwrites record-sized slices of a zero-filled file in the given folder, one
//! `fdatasync` each, the way a preallocated transaction log appends (the file's size does not
//! change, so the sync does not have to commit a size change). [`loopback_rtt`] bounces a
//! request-sized message and a reply-sized one between two sockets on 127.0.0.1 with
//! `TCP_NODELAY`. Both report the median, which is what a 1 × 1 write's median is compared with.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

/// Summary of a set of timings, in µs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Timings {
    /// How many were timed.
    pub count: usize,
    /// Median.
    pub p50_us: f64,
    /// Mean.
    pub mean_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Fastest.
    pub min_us: f64,
}

impl Timings {
    /// Summarises µs values (all zero for none).
    pub fn of(mut us: Vec<f64>) -> Timings {
        if us.is_empty() {
            return Timings {
                count: 0,
                p50_us: 0.0,
                mean_us: 0.0,
                p90_us: 0.0,
                p99_us: 0.0,
                min_us: 0.0,
            };
        }
        us.sort_by(f64::total_cmp);
        let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize];
        Timings {
            count: us.len(),
            p50_us: at(0.5),
            mean_us: us.iter().sum::<f64>() / us.len() as f64,
            p90_us: at(0.9),
            p99_us: at(0.99),
            min_us: us[0],
        }
    }
}

/// The baseline: fdatasync and round-trip timings and their sum.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Baseline {
    /// The folder the fdatasync file was written in.
    pub dir: PathBuf,
    /// Bytes written before each fdatasync.
    pub record_bytes: usize,
    /// One record write plus fdatasync.
    pub fdatasync: Timings,
    /// One loopback round trip.
    pub rtt: Timings,
    /// Median fdatasync + 2 × median round trip, µs.
    pub baseline_us: f64,
}

impl Baseline {
    /// Measures `syncs` fdatasyncs of `record_bytes` in `dir` and `round_trips` round trips.
    pub fn measure(
        dir: &Path,
        record_bytes: usize,
        syncs: usize,
        round_trips: usize,
    ) -> std::io::Result<Baseline> {
        let fdatasync = Timings::of(fdatasync(dir, record_bytes, syncs)?);
        let rtt = Timings::of(loopback_rtt(record_bytes, 100, round_trips)?);
        Ok(Baseline {
            dir: dir.to_path_buf(),
            record_bytes,
            baseline_us: fdatasync.p50_us + 2.0 * rtt.p50_us,
            fdatasync,
            rtt,
        })
    }

    /// The result as pretty JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a baseline serialises")
    }

    /// A short human-readable summary.
    pub fn table(&self) -> String {
        format!(
            "fdatasync of {} B in {}: p50 {:.0} µs, mean {:.0} µs, p99 {:.0} µs ({} syncs)\n\
             loopback round trip: p50 {:.1} µs, mean {:.1} µs, p99 {:.1} µs ({} round trips)\n\
             baseline = fdatasync p50 + 2 x round trip p50 = {:.0} µs; 1.5 x baseline = {:.0} µs\n",
            self.record_bytes,
            self.dir.display(),
            self.fdatasync.p50_us,
            self.fdatasync.mean_us,
            self.fdatasync.p99_us,
            self.fdatasync.count,
            self.rtt.p50_us,
            self.rtt.mean_us,
            self.rtt.p99_us,
            self.rtt.count,
            self.baseline_us,
            1.5 * self.baseline_us,
        )
    }
}

/// Times `count` writes of `record_bytes` each followed by fdatasync, at consecutive offsets of
/// a zero-filled file created (and removed) in `dir`; µs each.
pub fn fdatasync(dir: &Path, record_bytes: usize, count: usize) -> std::io::Result<Vec<f64>> {
    let path = dir.join(format!("baseline-fdatasync-{}.tmp", std::process::id()));
    let result = (|| {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)?;
        let record_bytes = record_bytes.max(1);
        let size = (record_bytes * (count + 1)).max(1 << 20);
        let zeros = vec![0u8; 1 << 20];
        let mut filled = 0;
        while filled < size {
            let n = zeros.len().min(size - filled);
            file.write_all_at(&zeros[..n], filled as u64)?;
            filled += n;
        }
        file.sync_all()?;
        let record = vec![0x5au8; record_bytes];
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let t0 = Instant::now();
            file.write_all_at(&record, (i * record_bytes) as u64)?;
            file.sync_data()?;
            out.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        Ok(out)
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// Times `count` round trips (after 10% as many unmeasured ones) of a `request`-byte message
/// answered by a `reply`-byte one over TCP on 127.0.0.1; µs each.
pub fn loopback_rtt(request: usize, reply: usize, count: usize) -> std::io::Result<Vec<f64>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let warmup = count / 10;
    let total = warmup + count;
    let (request, reply) = (request.max(1), reply.max(1));
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = vec![0u8; request];
        let answer = vec![0x61u8; reply];
        for _ in 0..total {
            s.read_exact(&mut buf)?;
            s.write_all(&answer)?;
        }
        Ok(())
    });
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let message = vec![0x71u8; request];
    let mut buf = vec![0u8; reply];
    let mut out = Vec::with_capacity(count);
    for i in 0..total {
        let t0 = Instant::now();
        s.write_all(&message)?;
        s.read_exact(&mut buf)?;
        if i >= warmup {
            out.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    echo.join()
        .map_err(|_| std::io::Error::other("echo thread panicked"))??;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_summarise_sorted_values() {
        let t = Timings::of((1..=100).rev().map(f64::from).collect());
        assert_eq!(t.count, 100);
        assert_eq!(t.min_us, 1.0);
        assert_eq!(t.p50_us, 51.0);
        assert_eq!(t.p99_us, 99.0);
        assert!((t.mean_us - 50.5).abs() < 1e-9);
        assert_eq!(Timings::of(Vec::new()).count, 0);
    }

    #[test]
    fn measures_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let b = Baseline::measure(dir.path(), 200, 5, 50).unwrap();
        assert_eq!(b.fdatasync.count, 5);
        assert_eq!(b.rtt.count, 50);
        assert!(b.fdatasync.p50_us > 0.0 && b.rtt.p50_us > 0.0);
        assert!((b.baseline_us - (b.fdatasync.p50_us + 2.0 * b.rtt.p50_us)).abs() < 1e-9);
        assert!(b.table().contains("1.5 x baseline"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
