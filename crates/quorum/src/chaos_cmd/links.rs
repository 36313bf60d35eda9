//! Peer links through in-process TCP proxies that the nemesis can cut: server i dialling server
//! j reaches a proxy of this process, which forwards to j's peer port unless told otherwise.

use super::HOST;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How a peer link's proxy treats traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cut {
    /// Bytes flow.
    Open,
    /// Bytes are neither forwarded nor refused (a blackhole); on heal, the connections it held
    /// are closed, as a real network would have lost them with whoever sent them.
    Blackhole,
    /// A silent partition: connections stay open and every byte is dropped, both ways. A
    /// connection that lost bytes never carries any again (its stream is broken, as a TCP
    /// connection stuck in retransmission backoff); only its ends can give up on it, by their
    /// own timeouts. Connections opened after the heal flow normally.
    Silent,
}

/// A peer link's proxy: forwards connections to a server's peer port unless cut.
pub(super) struct Link {
    cut: watch::Sender<Cut>,
    pub(super) port: u16,
}

async fn cut_begins(rx: &mut watch::Receiver<Cut>) {
    let _ = rx.wait_for(|c| *c == Cut::Blackhole).await;
}

async fn healed(rx: &mut watch::Receiver<Cut>) {
    let _ = rx.wait_for(|c| *c == Cut::Open).await;
}

/// Reads and drops everything from `from` until it closes.
async fn swallow<R: tokio::io::AsyncRead + Unpin>(mut from: R) {
    let mut buf = vec![0u8; 16 * 1024];
    while matches!(from.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Forwards `from` to `to` until `from` closes; from the first byte read while the link is
/// silent on, the connection is `lost` and its bytes are dropped (both ways) for good. Returns
/// `to` unclosed when lost: dropping it would send a FIN, news a silent partition cannot carry.
async fn pump<R, W>(mut from: R, mut to: W, rx: watch::Receiver<Cut>, lost: &AtomicBool) -> W
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if *rx.borrow() == Cut::Silent {
            lost.store(true, Ordering::Relaxed);
        }
        if !lost.load(Ordering::Relaxed) && to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    if !lost.load(Ordering::Relaxed) {
        let _ = to.shutdown().await;
    }
    to
}

impl Link {
    /// A proxy to `target` on a port of the system's choice, never one `launch::ports` handed
    /// out (to a server or node that may not listen on it yet): a proxy there would take that
    /// port from its owner, and a proxy on its own target's port forwards to itself, each
    /// connection opening another until the process runs out of descriptors (a chaos run once
    /// died of that before its first session).
    pub(super) async fn start(target: u16) -> std::io::Result<Link> {
        // Each refused listener is held until one is found, so the next choice differs.
        let mut refused = Vec::new();
        let (listener, port) = loop {
            let listener = TcpListener::bind((HOST, 0)).await?;
            let port = listener.local_addr()?.port();
            if !launch::ports::handed_out(port) {
                break (listener, port);
            }
            refused.push(listener);
        };
        drop(refused);
        let (cut, rx) = watch::channel(Cut::Open);
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((inbound, _)) => {
                        drop(tokio::spawn(Link::carry(inbound, target, rx.clone())))
                    }
                    // Out of descriptors for a moment: the link must not stop for good.
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
                }
            }
        });
        Ok(Link { cut, port })
    }

    /// One proxied connection, as the link's cut mode says.
    async fn carry(inbound: TcpStream, target: u16, mut rx: watch::Receiver<Cut>) {
        let _ = inbound.set_nodelay(true);
        let mode = *rx.borrow();
        match mode {
            Cut::Blackhole => return healed(&mut rx).await,
            Cut::Silent => return swallow(inbound).await,
            Cut::Open => {}
        }
        let Ok(outbound) = TcpStream::connect((HOST, target)).await else {
            return;
        };
        let _ = outbound.set_nodelay(true);
        let lost = AtomicBool::new(false);
        let (a_read, a_write) = inbound.into_split();
        let (b_read, b_write) = outbound.into_split();
        // Both write halves live until both directions are done (see `pump`).
        let both_ways = async {
            tokio::join!(
                pump(a_read, b_write, rx.clone(), &lost),
                pump(b_read, a_write, rx.clone(), &lost)
            )
        };
        let mut cut_rx = rx.clone();
        tokio::select! {
            _ = both_ways => {}
            _ = cut_begins(&mut cut_rx) => healed(&mut rx).await,
        }
    }

    pub(super) fn set(&self, cut: Cut) {
        self.cut.send_replace(cut);
    }
}
