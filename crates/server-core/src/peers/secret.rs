//! The secret the servers of an ensemble share, proven at every peer handshake (the handshake
//! itself is the server's: it runs on sockets). Read from `quorum.peerSecretFile`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The secret every server of an ensemble shares. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerSecret(Arc<[u8]>);

impl fmt::Debug for PeerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PeerSecret(<redacted>)")
    }
}

impl PeerSecret {
    /// A secret from its text; `None` when the text is empty after trimming.
    pub fn from_text(text: &str) -> Option<PeerSecret> {
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| PeerSecret(Arc::from(trimmed.as_bytes())))
    }

    /// A fresh secret for a new ensemble: 32 random bytes from the operating system, as 64 hex
    /// digits (the text a secret file holds).
    pub fn generate_text() -> std::io::Result<String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The secret's bytes (the HMAC key).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Reads the secret from a file: its content, trimmed, must not be empty.
    pub fn read(path: &Path) -> Result<PeerSecret, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the peer secret file {}: {e}", path.display()))?;
        PeerSecret::from_text(&text)
            .ok_or_else(|| format!("the peer secret file {} is empty", path.display()))
    }
}
