//! Server-to-server communication: the wire format and the connections.

pub mod codec;
pub mod net;
