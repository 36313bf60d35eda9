//! Tests of the peer handshake over in-memory pipes.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

use super::*;

fn secret(text: &str) -> PeerSecret {
    PeerSecret::from_text(text).unwrap()
}

fn nobody_live(_: u64) -> bool {
    false
}

/// Server `from` dials server `policy.me`; each end is closed as soon as its side is done, as
/// a real connection would be.
async fn pair(
    from: u64,
    dialler_secret: Option<&PeerSecret>,
    policy: &AcceptPolicy<'_>,
) -> (Result<(), HandshakeError>, Result<u64, HandshakeError>) {
    let (mut a, mut b) = tokio::io::duplex(1024);
    let dialled = async move { dial(&mut a, from, policy.me, dialler_secret).await };
    let accepted = async move { accept(&mut b, policy).await };
    tokio::join!(dialled, accepted)
}

/// Server 3 dials server 1 of {1, 2, 3}, each with its own secret; returns both results.
async fn handshake(
    dialler_secret: Option<&PeerSecret>,
    acceptor_secret: Option<&PeerSecret>,
) -> (Result<(), HandshakeError>, Result<u64, HandshakeError>) {
    let policy = AcceptPolicy {
        me: 1,
        admits: &members_only,
        secret: acceptor_secret,
        is_live: &nobody_live,
    };
    pair(3, dialler_secret, &policy).await
}

#[tokio::test]
async fn peers_with_the_same_secret_connect() {
    let s = secret("correct horse");
    assert_eq!(handshake(Some(&s), Some(&s)).await, (Ok(()), Ok(3)));
}

#[tokio::test]
async fn a_stranger_with_a_wrong_or_no_secret_is_refused() {
    let good = secret("correct horse");
    let bad = secret("battery staple");
    for stranger in [Some(&bad), None] {
        let (dialled, accepted) = handshake(stranger, Some(&good)).await;
        // The acceptor's MAC does not verify with the stranger's key either.
        assert!(dialled.is_err(), "{dialled:?}");
        assert!(accepted.is_err(), "{accepted:?}");
    }
}

/// An acceptor without the secret cannot pass itself off as a member to a dialler that has it.
#[tokio::test]
async fn a_dialler_refuses_an_acceptor_without_the_secret() {
    let good = secret("correct horse");
    let (dialled, _) = handshake(Some(&good), None).await;
    assert!(
        dialled.unwrap_err().0.contains("does not prove"),
        "dialler accepted an unproven acceptor"
    );
}

#[tokio::test]
async fn without_secrets_on_both_sides_members_connect_unproven() {
    assert_eq!(handshake(None, None).await, (Ok(()), Ok(3)));
}

/// A pipe end that keeps a copy of everything written to it.
struct Recording {
    inner: DuplexStream,
    written: Vec<u8>,
}

impl AsyncRead for Recording {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recording {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.written.extend_from_slice(&buf[..n]);
        }
        poll
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Someone who recorded every byte a real member sent during a successful handshake replays
/// them on a new connection: the acceptor's fresh nonce makes the old Proof worthless.
#[tokio::test]
async fn a_replayed_handshake_does_not_authenticate() {
    let s = secret("correct horse");
    let policy = AcceptPolicy {
        me: 1,
        admits: &members_only,
        secret: Some(&s),
        is_live: &nobody_live,
    };
    let (a, mut b) = tokio::io::duplex(1024);
    let mut recording = Recording {
        inner: a,
        written: Vec::new(),
    };
    let (dialled, accepted) = tokio::join!(dial(&mut recording, 3, 1, Some(&s)), async {
        accept(&mut b, &policy).await
    });
    assert_eq!((dialled, accepted), (Ok(()), Ok(3)));

    let (mut replayer, mut b) = tokio::io::duplex(1024);
    replayer.write_all(&recording.written).await.unwrap();
    let replayed = accept(&mut b, &policy).await;
    assert!(
        replayed.as_ref().unwrap_err().0.contains("does not prove"),
        "{replayed:?}"
    );
}

/// Strangers and members dialling the wrong way are refused at the Hello.
#[tokio::test]
async fn hellos_from_non_members_or_the_wrong_side_are_refused() {
    let s = secret("x");
    let policy = |me| AcceptPolicy {
        me,
        admits: &members_only,
        secret: Some(&s),
        is_live: &nobody_live,
    };
    let (dialled, accepted) = pair(9, Some(&s), &policy(1)).await;
    assert!(accepted.unwrap_err().0.contains("not a member") && dialled.is_err());
    let (_, accepted) = pair(1, Some(&s), &policy(1)).await;
    assert!(accepted.unwrap_err().0.contains("not a member"));
    let (_, accepted) = pair(1, Some(&s), &policy(2)).await;
    assert!(accepted.unwrap_err().0.contains("should wait"));
}

/// Without a secret, a second connection for a live member is refused before it is answered.
#[tokio::test]
async fn without_a_secret_a_live_member_cannot_be_displaced() {
    let live = |id: u64| id == 3;
    let policy = AcceptPolicy {
        me: 1,
        admits: &members_only,
        secret: None,
        is_live: &live,
    };
    let (dialled, accepted) = pair(3, None, &policy).await;
    assert!(accepted.unwrap_err().0.contains("already connected"));
    assert!(dialled.is_err());
}

#[tokio::test]
async fn a_hello_of_another_version_is_named() {
    let (mut a, mut b) = tokio::io::duplex(1024);
    // Version 1's Hello: tag, version, id.
    a.write_all(&[0, 0, 0, 10, 1, 1, 0, 0, 0, 0, 0, 0, 0, 3])
        .await
        .unwrap();
    let policy = AcceptPolicy {
        me: 1,
        admits: &members_only,
        secret: None,
        is_live: &nobody_live,
    };
    let err = accept(&mut b, &policy).await.unwrap_err();
    assert!(err.0.contains("peer protocol 1"), "{err}");
}

#[test]
fn secrets_are_trimmed_never_empty_and_never_printed() {
    assert_eq!(PeerSecret::from_text(" \n"), None);
    assert_eq!(PeerSecret::from_text(" s3cret\n"), Some(secret("s3cret")));
    assert!(!format!("{:?}", secret("s3cret")).contains("s3cret"));
}

/// The admission of an acceptor whose configuration is servers 1, 2 and 3 and that has no
/// room for joining servers.
fn members_only(id: u64) -> bool {
    [1, 2, 3].contains(&id)
}
