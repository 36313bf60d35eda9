//! The workload: sessions doing random reads, writes, compare-and-sets, sync-reads, sequential
//! and ephemeral creates on a few znodes, each operation recorded in the history.

use super::recorder::{read_result, Recorder};
use super::{OP_TIMEOUT, SESSION_TIMEOUT};
use chaos::history::{Kind, OpKind};
use client::zk;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A small xorshift generator: the workload needs no more.
#[derive(Clone)]
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub(super) struct Shared {
    pub(super) rec: Recorder,
    pub(super) stop: AtomicBool,
    pub(super) next_session: AtomicU32,
    pub(super) connect: String,
    pub(super) keys: Vec<String>,
}

pub(super) async fn connect(servers: &str) -> Option<zk::Client> {
    let connecting = zk::Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .connect(servers);
    tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .ok()?
        .ok()
}

/// One worker: a session doing random operations until told to stop; a new session when its
/// session ends. Returns its last session (still open) and its number.
pub(super) async fn worker(shared: Arc<Shared>, mut rng: Rng) -> Option<(u32, zk::Client)> {
    let rec = &shared.rec;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return None;
        }
        let Some(client) = connect(&shared.connect).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let s = shared.next_session.fetch_add(1, Ordering::Relaxed);
        let mut n = 0u64;
        let mut versions: HashMap<usize, i32> = HashMap::new();
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                return Some((s, client));
            }
            n += 1;
            let k = rng.below(shared.keys.len());
            let key = shared.keys[k].as_str();
            let ended = match rng.below(100) {
                0..=29 => {
                    let inv = rec.invoke(s, OpKind::Read, key, |_| {});
                    let r = t(client.get_data(key)).await;
                    if let Ok(Ok((_, stat))) = &r {
                        versions.insert(k, stat.version);
                    }
                    rec.finish(&inv, r, read_result)
                }
                30..=49 => {
                    let value = format!("{s}-{n}");
                    let inv = rec.invoke(s, OpKind::Write, key, |e| e.value = Some(value.clone()));
                    let r = t(client.set_data(key, value.as_bytes(), None)).await;
                    if let Ok(Ok(stat)) = &r {
                        versions.insert(k, stat.version);
                    }
                    rec.finish(&inv, r, |e, stat| {
                        e.version = Some(stat.version);
                        e.zxid = Some(stat.mzxid);
                    })
                }
                50..=69 => {
                    let value = format!("{s}-{n}");
                    let expect = versions.get(&k).copied().unwrap_or(0);
                    let inv = rec.invoke(s, OpKind::Cas, key, |e| {
                        e.value = Some(value.clone());
                        e.version = Some(expect);
                    });
                    let r = t(client.set_data(key, value.as_bytes(), Some(expect))).await;
                    if let Ok(Ok(stat)) = &r {
                        versions.insert(k, stat.version);
                    }
                    rec.finish(&inv, r, |e, stat| {
                        e.version = Some(stat.version);
                        e.zxid = Some(stat.mzxid);
                    })
                }
                70..=84 => {
                    let inv = rec.invoke(s, OpKind::SyncRead, key, |_| {});
                    let r = t(async {
                        client.sync(key).await?;
                        client.get_data(key).await
                    })
                    .await;
                    if let Ok(Ok((_, stat))) = &r {
                        versions.insert(k, stat.version);
                    }
                    rec.finish(&inv, r, read_result)
                }
                85..=92 => {
                    let prefix = "/chaos/seq/n-";
                    let inv = rec.invoke(s, OpKind::CreateSeq, prefix, |e| {
                        e.value = Some(format!("{s}-{n}"))
                    });
                    let opts =
                        zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
                    let data = format!("{s}-{n}");
                    let r = t(client.create(prefix, data.as_bytes(), &opts)).await;
                    rec.finish(&inv, r, |e, (stat, seq)| {
                        e.name = Some(format!("{prefix}{seq}"));
                        e.zxid = Some(stat.czxid);
                    })
                }
                _ => {
                    let path = format!("/chaos/eph/s{s}-{n}");
                    let inv = rec.invoke(s, OpKind::CreateEphemeral, &path, |_| {});
                    let opts = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
                    let r = t(client.create(&path, b"", &opts)).await;
                    rec.finish(&inv, r, |e, (stat, _)| e.zxid = Some(stat.czxid))
                }
            };
            if ended || client.state() == zk::SessionState::Expired {
                let inv = rec.invoke(s, OpKind::SessionEnd, "/", |_| {});
                rec.complete(&inv, Kind::Ok, |e| e.error = Some("expired".into()));
                break;
            }
            tokio::time::sleep(Duration::from_millis(5 + rng.below(15) as u64)).await;
        }
    }
}

/// An operation bounded by [`OP_TIMEOUT`]; running out makes it indeterminate.
fn t<F: std::future::Future>(f: F) -> tokio::time::Timeout<F> {
    tokio::time::timeout(OP_TIMEOUT, f)
}
