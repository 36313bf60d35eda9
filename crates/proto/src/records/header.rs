//! Packet headers: every request after the handshake starts with a [`RequestHeader`], every
//! reply and notification with a [`ReplyHeader`], and each op of a multi with a [`MultiHeader`].

use crate::jute::record;

record! {
    /// Starts every client packet after the ConnectRequest.
    #[derive(Copy)]
    pub struct RequestHeader {
        /// The client's request id, echoed in the reply; negative ids are reserved
        /// (see [`crate::xid`]).
        pub xid: i32,
        /// The opcode, kept raw so that an unknown one can still be answered by xid.
        pub op: i32,
    }
}

record! {
    /// Starts every server packet after the ConnectResponse.
    #[derive(Copy)]
    pub struct ReplyHeader {
        /// The request's xid, or a reserved xid (-1 for notifications).
        pub xid: i32,
        /// The server's last processed zxid when the reply was made.
        pub zxid: i64,
        /// A [`crate::ErrorCode`] value; 0 for success.
        pub err: i32,
    }
}

record! {
    /// Precedes each op of a multi request and each result of a multi response. A header with
    /// `done` set (type -1, err -1) ends the list.
    #[derive(Copy)]
    pub struct MultiHeader {
        /// The op's opcode (-1 for an error result or the terminator).
        pub op: i32,
        /// Set on the terminator only.
        pub done: bool,
        /// -1 in requests; the result's error code in responses.
        pub err: i32,
    }
}

impl MultiHeader {
    /// The terminator that ends every multi list.
    pub const END: MultiHeader = MultiHeader {
        op: -1,
        done: true,
        err: -1,
    };
}
