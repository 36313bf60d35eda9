//! What the core sends to other servers, in order: Zab's messages (through the replica's
//! transport) and the server's own frames (forwarded writes, sessions, syncs), collected for the
//! driver to send.

use zab::{Message, ServerId};

use crate::peers::codec::PeerFrame;
use crate::replica::Transport;

/// Frames for other servers, oldest first: (server id, frame).
#[derive(Debug, Default)]
pub struct PeerOutbox {
    pub frames: Vec<(u64, PeerFrame)>,
}

impl Transport for PeerOutbox {
    fn send(&mut self, to: ServerId, message: Message) {
        self.frames.push((to.0, PeerFrame::Zab(message)));
    }
}
