//! Reserved xids. Ordinary requests use positive, increasing xids chosen by the client; these
//! negative ones mark packets that are not answers to such a request.

/// A watch notification from the server (reply header xid).
pub const NOTIFICATION: i32 = -1;
/// A ping and its reply.
pub const PING: i32 = -2;
/// An auth packet and its reply.
pub const AUTH: i32 = -4;
/// A setWatches / setWatches2 request sent on reconnect, and its reply.
pub const SET_WATCHES: i32 = -8;
