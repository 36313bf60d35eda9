//! Tests of peer links over real loopback sockets.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::*;
use crate::peers::{PeerOptions, PeerSecret};

const MEMBERS: [u64; 3] = [1, 2, 3];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Node {
    net: PeerNet,
    core: mpsc::UnboundedReceiver<CoreEvent>,
}

fn options(secret: Option<&str>) -> PeerOptions {
    let mut options = PeerOptions::new(Duration::from_millis(100), 3);
    options.secret = secret.and_then(PeerSecret::from_text);
    options
}

/// Starts server `me` of [`MEMBERS`] on `ports` (one per member).
async fn node(me: u64, ports: &[u16], options: PeerOptions) -> Node {
    let (tx, core) = mpsc::unbounded_channel();
    let members = MEMBERS
        .iter()
        .map(|&id| (id, format!("127.0.0.1:{}", ports[id as usize - 1])))
        .collect();
    let listen = format!("127.0.0.1:{}", ports[me as usize - 1])
        .parse()
        .unwrap();
    let net = start(me, listen, members, tx, options).await.unwrap();
    Node { net, core }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// What the core received: (peer frames, disconnections).
fn drain(core: &mut mpsc::UnboundedReceiver<CoreEvent>) -> (Vec<(u64, PeerFrame)>, Vec<u64>) {
    let (mut frames, mut gone) = (Vec::new(), Vec::new());
    while let Ok(event) = core.try_recv() {
        match event {
            CoreEvent::Peer { from, frame } => frames.push((from, frame)),
            CoreEvent::PeerDisconnected { peer } => gone.push(peer),
            _ => {}
        }
    }
    (frames, gone)
}

fn ping(round: u64) -> PeerFrame {
    PeerFrame::Zab(zab::Message::PingAck {
        link: 1,
        epoch: zab::Epoch(1),
        round,
    })
}

/// Whether the other end closed `stream` within two seconds (EOF or reset).
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn a_stranger_sending_a_huge_length_is_closed_at_once() {
    let ports = [free_port(), free_port(), free_port()];
    // A handshake timeout (3 s) longer than the wait below: the close must come from the
    // refused length, not from the clock.
    let mut opts = options(Some("s"));
    opts.tick = Duration::from_secs(2);
    let _server = node(1, &ports, opts).await;
    let mut stranger = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    stranger
        .write_all(&(1u32 << 30).to_be_bytes())
        .await
        .unwrap();
    assert!(closed_by_peer(&mut stranger).await);
}

/// Servers 1 and 2 linked (2 dials 1), with server 3 absent.
async fn linked_pair(secret: Option<&str>) -> (Node, Node, [u16; 3]) {
    let ports = [free_port(), free_port(), free_port()];
    let one = node(1, &ports, options(secret)).await;
    let two = node(2, &ports, options(secret)).await;
    until("2 and 1 are linked", || {
        one.net.is_connected(2) && two.net.is_connected(1)
    })
    .await;
    (one, two, ports)
}

/// An impostor naming member 2 without the secret is refused, and the real link of 2 carries
/// on: no PeerDisconnected, no frame from the impostor, frames still flow.
#[tokio::test]
async fn an_impostor_is_refused_and_does_not_disturb_the_live_link() {
    let (mut one, two, ports) = linked_pair(Some("right")).await;
    for impostor_secret in [Some("wrong"), None] {
        let secret = impostor_secret.and_then(PeerSecret::from_text);
        let mut stream = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
        // The impostor goes through with its Proof, then sends what a member could: nothing
        // of it may reach the core.
        let _ = auth::dial_unchecked(&mut stream, 2, 1, secret.as_ref()).await;
        let forged = codec::encode(&PeerFrame::Sync { token: 666 });
        let _ = stream.write_all(&forged).await;
        assert!(closed_by_peer(&mut stream).await);
    }
    two.net.send(1, &ping(7));
    let mut seen = Vec::new();
    until("the ping arrives", || {
        let (frames, gone) = drain(&mut one.core);
        assert!(gone.is_empty(), "the live link was disturbed: {gone:?}");
        seen.extend(frames);
        !seen.is_empty()
    })
    .await;
    assert_eq!(seen, vec![(2, ping(7))]);
    assert!(one.net.is_connected(2));
}

/// Without a secret a second Hello for a live member is refused and the first link stays.
#[tokio::test]
async fn without_a_secret_a_second_connection_for_a_live_member_is_refused() {
    let (mut one, _two, ports) = linked_pair(None).await;
    let mut stream = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    assert!(auth::dial(&mut stream, 2, 1, None).await.is_err());
    assert!(closed_by_peer(&mut stream).await);
    let (_, gone) = drain(&mut one.core);
    assert!(gone.is_empty(), "the live link was disturbed");
    assert!(one.net.is_connected(2));
}

/// With a secret, a new authenticated connection of a member replaces its old link at once
/// (a restarted peer must not wait for the old link to time out).
#[tokio::test]
async fn an_authenticated_reconnection_replaces_the_old_link() {
    let ports = [free_port(), free_port(), free_port()];
    let mut one = node(1, &ports, options(Some("right"))).await;
    let secret = PeerSecret::from_text("right");
    let mut old = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    auth::dial(&mut old, 3, 1, secret.as_ref()).await.unwrap();
    until("3 is linked", || one.net.is_connected(3)).await;
    let mut new = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    auth::dial(&mut new, 3, 1, secret.as_ref()).await.unwrap();
    new.write_all(&codec::encode(&ping(9))).await.unwrap();
    let mut seen = Vec::new();
    let mut disconnected = Vec::new();
    until("the new link delivers", || {
        let (frames, gone) = drain(&mut one.core);
        disconnected.extend(gone);
        seen.extend(frames);
        seen.contains(&(3, ping(9)))
    })
    .await;
    assert_eq!(
        disconnected,
        [3],
        "the core must hear once that the old link is gone"
    );
    assert!(closed_by_peer(&mut old).await, "the old link is still open");
    assert!(one.net.is_connected(3));
}

/// A link that goes silent (the peer stops sending, keepalives included) is dropped after
/// `syncLimit` ticks, and the core is told.
#[tokio::test]
async fn a_silent_link_is_dropped_after_sync_limit_ticks() {
    let ports = [free_port(), free_port(), free_port()];
    let mut one = node(1, &ports, options(Some("s"))).await;
    let secret = PeerSecret::from_text("s");
    let mut stream = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    auth::dial(&mut stream, 3, 1, secret.as_ref())
        .await
        .unwrap();
    until("3 is linked", || one.net.is_connected(3)).await;
    let linked = tokio::time::Instant::now();
    // Server 1 sends keepalives while it has nothing else to say.
    let mut buf = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf[..], codec::encode(&PeerFrame::Keepalive)[..]);
    until("the silent link is dropped", || !one.net.is_connected(3)).await;
    let silent_for = linked.elapsed();
    assert!(
        silent_for >= Duration::from_millis(250) && silent_for < Duration::from_millis(900),
        "dropped after {silent_for:?}, expected about 3 ticks of 100 ms"
    );
    let (frames, gone) = drain(&mut one.core);
    assert_eq!((frames, gone), (vec![], vec![3]));
}

/// A dialler whose link died redials at once.
#[tokio::test]
async fn the_dialler_redials_at_once_after_its_link_dies() {
    let (one, mut two, _ports) = linked_pair(Some("right")).await;
    tokio::time::sleep(MAX_DIAL_BACKOFF).await;
    // Server 1 closes its end (as if the link had gone silent).
    let generation = one.net.table().get(&2).unwrap().generation;
    let lost = tokio::time::Instant::now();
    one.net.table().get(&2).unwrap().closer.close();
    until("2 notices", || drain(&mut two.core).1 == [1]).await;
    until("2 is back", || {
        let back = one.net.table().get(&2).map(|l| l.generation);
        back.is_some_and(|g| g != generation) && two.net.is_connected(1)
    })
    .await;
    assert!(
        lost.elapsed() < Duration::from_millis(300),
        "{:?}",
        lost.elapsed()
    );
}

/// A peer that stops reading: once the bytes queued for it pass the bound, the link is dropped
/// rather than the queue growing.
#[tokio::test]
async fn a_send_queue_over_its_bound_drops_the_link() {
    let ports = [free_port(), free_port(), free_port()];
    let mut opts = options(Some("s"));
    opts.max_send_queue_bytes = 1 << 20;
    // Long enough that the silence timeout is not what ends the link.
    opts.tick = Duration::from_secs(5);
    let mut one = node(1, &ports, opts).await;
    let secret = PeerSecret::from_text("s");
    let mut stream = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    auth::dial(&mut stream, 3, 1, secret.as_ref())
        .await
        .unwrap();
    until("3 is linked", || one.net.is_connected(3)).await;
    let big = PeerFrame::Zab(zab::Message::Propose {
        link: 1,
        seq: 1,
        epoch: zab::Epoch(1),
        txn: zab::Txn {
            zxid: zab::Zxid::new(1, 1),
            data: bytes::Bytes::from(vec![0u8; 64 * 1024]),
        },
    });
    // Far more than the socket buffers hold: the queue must fill.
    for _ in 0..2000 {
        one.net.send(3, &big);
        if !one.net.is_connected(3) {
            break;
        }
        tokio::task::yield_now().await;
    }
    until("the link is dropped", || !one.net.is_connected(3)).await;
    let (_, gone) = drain(&mut one.core);
    assert_eq!(gone, vec![3]);
    drop(stream);
}

#[test]
fn dial_backoff_grows_to_a_second() {
    let mut d = Duration::ZERO;
    let mut seen = Vec::new();
    for _ in 0..7 {
        d = next_dial_backoff(d);
        seen.push(d.as_millis());
    }
    assert_eq!(seen, [50, 100, 200, 400, 800, 1000, 1000]);
}

/// Connections that never finish their handshake take at most
/// [`MAX_UNIDENTIFIED_PEER_CONNECTIONS`] places; the next is closed at once.
#[tokio::test]
async fn connections_in_their_handshake_are_capped() {
    let ports = [free_port(), free_port(), free_port()];
    let mut opts = options(Some("s"));
    opts.tick = Duration::from_secs(2);
    let _server = node(1, &ports, opts).await;
    let mut idle = Vec::new();
    for _ in 0..MAX_UNIDENTIFIED_PEER_CONNECTIONS {
        idle.push(TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap());
    }
    let mut one_too_many = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    assert!(closed_by_peer(&mut one_too_many).await);
    // The first ones are still waiting for their Hello (3 s handshake timeout).
    let mut buf = [0u8; 1];
    let still_open = tokio::time::timeout(Duration::from_millis(100), idle[0].read(&mut buf));
    assert!(
        still_open.await.is_err(),
        "an idle connection was closed early"
    );
}
