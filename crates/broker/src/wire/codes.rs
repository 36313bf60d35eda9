//! The stable bytes of the wire's enumerations. Never renumber: peers of other builds read them.

use partition::{Acks, ErrorCode};

use super::{Role, WireError};

pub(super) fn acks_to(acks: Acks) -> u8 {
    match acks {
        Acks::None => 0,
        Acks::Leader => 1,
        Acks::All => 2,
    }
}

pub(super) fn acks_from(byte: u8) -> Result<Acks, WireError> {
    match byte {
        0 => Ok(Acks::None),
        1 => Ok(Acks::Leader),
        2 => Ok(Acks::All),
        other => Err(WireError::UnknownAcks(other)),
    }
}

/// Every error code with its byte.
pub const ERROR_CODES: [(ErrorCode, u8); 9] = [
    (ErrorCode::NotLeader, 1),
    (ErrorCode::FencedLeaderEpoch, 2),
    (ErrorCode::UnknownLeaderEpoch, 3),
    (ErrorCode::NotEnoughReplicas, 4),
    (ErrorCode::NotEnoughReplicasAfterAppend, 5),
    (ErrorCode::OutOfOrderSequence, 6),
    (ErrorCode::OffsetOutOfRange, 7),
    (ErrorCode::TooManyPending, 8),
    (ErrorCode::UnknownPartition, 9),
];

pub(super) fn error_to(code: ErrorCode) -> u8 {
    // Exhaustive, so a new ErrorCode fails to compile until it is given a byte here.
    match code {
        ErrorCode::NotLeader => 1,
        ErrorCode::FencedLeaderEpoch => 2,
        ErrorCode::UnknownLeaderEpoch => 3,
        ErrorCode::NotEnoughReplicas => 4,
        ErrorCode::NotEnoughReplicasAfterAppend => 5,
        ErrorCode::OutOfOrderSequence => 6,
        ErrorCode::OffsetOutOfRange => 7,
        ErrorCode::TooManyPending => 8,
        ErrorCode::UnknownPartition => 9,
    }
}

pub(super) fn error_from(byte: u8) -> Result<ErrorCode, WireError> {
    ERROR_CODES
        .iter()
        .find(|&&(_, b)| b == byte)
        .map(|&(code, _)| code)
        .ok_or(WireError::UnknownErrorCode(byte))
}

pub(super) fn role_to(role: Role) -> u8 {
    match role {
        Role::Leader => 1,
        Role::Follower => 2,
        Role::Idle => 3,
        Role::NoReplica => 4,
    }
}

pub(super) fn role_from(byte: u8) -> Result<Role, WireError> {
    match byte {
        1 => Ok(Role::Leader),
        2 => Ok(Role::Follower),
        3 => Ok(Role::Idle),
        4 => Ok(Role::NoReplica),
        other => Err(WireError::UnknownRole(other)),
    }
}
