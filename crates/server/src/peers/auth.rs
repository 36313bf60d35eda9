//! The peer handshake: who is on the other end of a peer connection, proven with a shared
//! secret.
//!
//! ```text
//! dialler (larger id)                         acceptor (smaller id)
//!   Hello { version, id: D, nonce_d }     ──►   member? dialling direction? version?
//!                                         ◄──   Challenge { version, id: A, nonce_a, mac_a }
//!   mac_a right? (A knows the secret)
//!   Proof { mac_d }                       ──►   mac_d right? (D knows the secret)
//! ```
//!
//! Each MAC is HMAC-SHA256, keyed with the secret, over a label, the protocol version, the
//! direction (acceptor or dialler, so one side's MAC cannot be reflected as the other's),
//! both server ids and both nonces. Nonces are 32 fresh bytes from the operating system, so a
//! recorded handshake replayed later meets a new nonce and fails. MACs are compared in constant
//! time. Without a secret the same exchange runs keyed with the empty string: it checks
//! versions and ids but proves nothing, and the connection is marked unauthenticated.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::codec::{
    self, PeerFrame, MAC_BYTES, MAX_HANDSHAKE_FRAME, NONCE_BYTES, PROTOCOL_VERSION,
};
use super::frame_io::read_frame;
pub use super::PeerSecret;

/// Which side computed a MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Acceptor,
    Dialler,
}

/// What both sides' MACs cover: who dialled whom, and the two nonces.
struct Transcript {
    dialler: u64,
    acceptor: u64,
    dialler_nonce: [u8; NONCE_BYTES],
    acceptor_nonce: [u8; NONCE_BYTES],
}

impl Transcript {
    /// The HMAC state for `side`'s MAC over this transcript.
    fn mac(&self, secret: Option<&PeerSecret>, side: Side) -> Hmac<Sha256> {
        let key: &[u8] = secret.map_or(&[], |s| s.as_bytes());
        // HMAC takes keys of any length; new_from_slice cannot fail for it.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key");
        mac.update(b"quorum peer handshake\0");
        mac.update(&[PROTOCOL_VERSION]);
        mac.update(match side {
            Side::Acceptor => b"acceptor",
            Side::Dialler => b"dialler\0",
        });
        mac.update(&self.dialler.to_be_bytes());
        mac.update(&self.acceptor.to_be_bytes());
        mac.update(&self.dialler_nonce);
        mac.update(&self.acceptor_nonce);
        mac
    }

    fn tag(&self, secret: Option<&PeerSecret>, side: Side) -> [u8; MAC_BYTES] {
        self.mac(secret, side).finalize().into_bytes().into()
    }

    /// Whether `tag` is `side`'s MAC, compared in constant time.
    fn verify(&self, secret: Option<&PeerSecret>, side: Side, tag: &[u8]) -> bool {
        self.mac(secret, side).verify_slice(tag).is_ok()
    }
}

/// A fresh nonce from the operating system's generator.
fn nonce() -> Result<[u8; NONCE_BYTES], HandshakeError> {
    let mut out = [0u8; NONCE_BYTES];
    getrandom::fill(&mut out).map_err(|e| HandshakeError(format!("no random nonce: {e}")))?;
    Ok(out)
}

/// Why a handshake failed (the connection is closed; a live link is not touched).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HandshakeError(pub String);

/// Reads one handshake frame: capped at [`MAX_HANDSHAKE_FRAME`] bytes, since the other end is
/// not identified yet. The caller bounds the whole handshake in time.
async fn read_handshake_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<PeerFrame, HandshakeError> {
    let payload = read_frame(stream, MAX_HANDSHAKE_FRAME, std::time::Duration::MAX)
        .await
        .map_err(|e| HandshakeError(format!("reading the handshake: {e}")))?;
    // A Hello or Challenge of another version may have another layout: name the version
    // rather than a decoding error.
    if matches!(payload.first(), Some(1 | 8)) {
        if let Some(&version) = payload.get(1) {
            if version != PROTOCOL_VERSION {
                return Err(HandshakeError(format!(
                    "the other server speaks peer protocol {version}, this one {PROTOCOL_VERSION}"
                )));
            }
        }
    }
    codec::decode(&payload).map_err(|e| HandshakeError(e.to_string()))
}

async fn write_frame<S: AsyncWrite + Unpin>(
    stream: &mut S,
    frame: &PeerFrame,
) -> Result<(), HandshakeError> {
    let written = async {
        stream.write_all(&codec::encode(frame)).await?;
        // A TLS stream may hold the frame in its buffer until flushed.
        stream.flush().await
    };
    written
        .await
        .map_err(|e| HandshakeError(format!("writing the handshake: {e}")))
}

/// The dialler's half: proves to server `peer` that this server (`me`) knows the secret, and
/// checks that `peer` does too.
pub async fn dial<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    me: u64,
    peer: u64,
    secret: Option<&PeerSecret>,
) -> Result<(), HandshakeError> {
    dial_checking(stream, me, peer, secret, true).await
}

/// An impostor's dial, for tests: it sends its Proof whatever the acceptor's MAC says.
#[cfg(test)]
pub(crate) async fn dial_unchecked<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    me: u64,
    peer: u64,
    secret: Option<&PeerSecret>,
) -> Result<(), HandshakeError> {
    dial_checking(stream, me, peer, secret, false).await
}

/// [`dial`], with the check of the acceptor's MAC optional (tests play impostors with it).
async fn dial_checking<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    me: u64,
    peer: u64,
    secret: Option<&PeerSecret>,
    check_acceptor: bool,
) -> Result<(), HandshakeError> {
    let dialler_nonce = nonce()?;
    let hello = PeerFrame::Hello {
        version: PROTOCOL_VERSION,
        id: me,
        nonce: dialler_nonce,
    };
    write_frame(stream, &hello).await?;
    let PeerFrame::Challenge { id, nonce, mac, .. } = read_handshake_frame(stream).await? else {
        return Err(HandshakeError("expected a Challenge".into()));
    };
    if id != peer {
        return Err(HandshakeError(format!(
            "dialled server {peer} but server {id} answered"
        )));
    }
    let transcript = Transcript {
        dialler: me,
        acceptor: peer,
        dialler_nonce,
        acceptor_nonce: nonce,
    };
    if check_acceptor && !transcript.verify(secret, Side::Acceptor, &mac) {
        return Err(HandshakeError(format!(
            "server {peer} does not prove the shared peer secret (is it the same on every server?)"
        )));
    }
    let mac = transcript.tag(secret, Side::Dialler);
    write_frame(stream, &PeerFrame::Proof { mac }).await
}

/// Who the acceptor may talk to, and how it checks them.
pub struct AcceptPolicy<'a> {
    pub me: u64,
    /// Whether a server of this id may connect: a member, or a joining server while there is
    /// room for one.
    pub admits: &'a (dyn Fn(u64) -> bool + Sync),
    pub secret: Option<&'a PeerSecret>,
    /// Whether a server already has a live link. Without a secret a second connection for a
    /// live member is refused, so an impostor cannot displace a real peer.
    pub is_live: &'a (dyn Fn(u64) -> bool + Sync),
}

/// The acceptor's half: returns the proven id of the dialler.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    policy: &AcceptPolicy<'_>,
) -> Result<u64, HandshakeError> {
    let PeerFrame::Hello {
        id,
        nonce: dialler_nonce,
        ..
    } = read_handshake_frame(stream).await?
    else {
        return Err(HandshakeError("expected a Hello".into()));
    };
    if id == policy.me || !(policy.admits)(id) {
        return Err(HandshakeError(format!(
            "server {id} is not a member of this ensemble (nor admitted as a joining server)"
        )));
    }
    if id < policy.me {
        return Err(HandshakeError(format!(
            "server {id} should wait for this server ({}) to dial",
            policy.me
        )));
    }
    if policy.secret.is_none() && (policy.is_live)(id) {
        return Err(HandshakeError(format!(
            "server {id} is already connected (without a peer secret, a second connection \
             cannot prove it is the real one)"
        )));
    }
    let transcript = Transcript {
        dialler: id,
        acceptor: policy.me,
        dialler_nonce,
        acceptor_nonce: nonce()?,
    };
    let challenge = PeerFrame::Challenge {
        version: PROTOCOL_VERSION,
        id: policy.me,
        nonce: transcript.acceptor_nonce,
        mac: transcript.tag(policy.secret, Side::Acceptor),
    };
    write_frame(stream, &challenge).await?;
    let PeerFrame::Proof { mac } = read_handshake_frame(stream).await? else {
        return Err(HandshakeError("expected a Proof".into()));
    };
    if !transcript.verify(policy.secret, Side::Dialler, &mac) {
        return Err(HandshakeError(format!(
            "a connection claiming to be server {id} does not prove the shared peer secret"
        )));
    }
    Ok(id)
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
