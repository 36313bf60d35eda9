//! The decoder's error type.
//!
//! Every way a packet can be malformed is a value here rather than a panic: the server logs the
//! error and either answers with a ZooKeeper error code (unknown or unsupported opcode, where the
//! request header was readable) or closes that one connection (garbage), and keeps serving
//! everyone else.

use crate::opcode::OpCode;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a record.
    #[error("truncated input: needed {needed} bytes, {remaining} left")]
    Truncated {
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A buffer, string or vector length below -1 (-1 is jute's null).
    #[error("invalid length {0}")]
    NegativeLength(i32),
    /// A length larger than what is left of the packet. Checked before anything is allocated,
    /// so a hostile length cannot make the decoder reserve memory.
    #[error("length {len} exceeds the {remaining} bytes left in the packet")]
    LengthExceedsInput {
        /// The length read from the wire (elements for vectors, bytes otherwise).
        len: usize,
        /// Bytes left in the packet.
        remaining: usize,
    },
    /// A `ustring` that is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// The request header names an opcode ZooKeeper does not define.
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
    /// A defined opcode that a client may not send, or that Quorum does not decode
    /// (createSession, deleteContainer, notification, error).
    #[error("opcode {0} is not a client request")]
    NotARequest(OpCode),
    /// An enumerated field (event type, keeper state, ...) holds a value outside its range.
    #[error("invalid {what} value {value}")]
    InvalidValue {
        /// Which field.
        what: &'static str,
        /// The value found.
        value: i32,
    },
    /// A multi or multiRead carries an operation that does not belong there (a read in a
    /// multi, a write in a multiRead, or an opcode that is never part of one).
    #[error("operation type {op} is not allowed in {within}")]
    InvalidMultiOp {
        /// The operation's type from its MultiHeader.
        op: i32,
        /// "multi" or "multiRead".
        within: &'static str,
    },
}
